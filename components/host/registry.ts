/**
 * Every kind of host feature, in one exhaustive registry, and the functions every caller uses on
 * a feature of any kind (its checks, state key, identity and boot fragment path). A new kind is
 * one module under kinds/ (with its .sh file) plus its line in `HostFeature` and in `KINDS`; the
 * mapped type of `KINDS` makes a kind missing from either a compile error. Pure: no resource
 * imports.
 */
import { HOST_PATHS, type FeatureKind } from "./feature";
import { ipforward, type IpforwardFeature } from "./kinds/ipforward";
import { promisc, type PromiscFeature } from "./kinds/promisc";
import { route, type RouteFeature } from "./kinds/route";
import { shim, type ShimFeature } from "./kinds/shim";
import { vlan, type VlanFeature } from "./kinds/vlan";
import { ShellValueError } from "./shell";

/** One thing MacvlanHost ensures on a host; each becomes one remote.Command. */
export type HostFeature = PromiscFeature | IpforwardFeature | VlanFeature | ShimFeature | RouteFeature;

export type HostFeatureKind = HostFeature["kind"];

/** Every kind, by name, in the order messages list them. */
export const KINDS: { readonly [K in HostFeatureKind]: FeatureKind<Extract<HostFeature, { kind: K }>> } = {
    promisc,
    ipforward,
    vlan,
    shim,
    route,
};

const KIND_NAMES = Object.keys(KINDS) as HostFeatureKind[];

/**
 * The kind of a feature checked by checkFeature. (`KINDS[f.kind]` is the kind of exactly `f`'s
 * type, which TypeScript cannot follow through the mapped type: hence the one cast.)
 */
export function kindOf<F extends HostFeature>(f: F): FeatureKind<F> {
    return KINDS[f.kind] as unknown as FeatureKind<F>;
}

/** Validates every field of a feature (throws ShellValueError) and returns it. */
export function checkFeature(f: HostFeature): HostFeature {
    if (typeof f !== "object" || f === null) throw new ShellValueError("feature", f, "is not an object");
    const kind: unknown = (f as { kind?: unknown }).kind;
    if (typeof kind !== "string" || !Object.hasOwn(KINDS, kind)) {
        throw new ShellValueError("feature.kind", kind, `must be one of ${KIND_NAMES.join(", ")}`);
    }
    kindOf(f).validate(f);
    return f;
}

/** Shape of a feature key (see featureKey); what parseProbeOutput accepts as a key. */
export const FEATURE_KEY_RE = new RegExp(`^(?:${KIND_NAMES.map((k) => KINDS[k].keyPattern).join("|")})$`);

/** The state key of a feature on the host, e.g. `promisc-eth0`, `vlan-eth0.50`. Unique per host. */
export function featureKey(f: HostFeature): string {
    return keyOf(checkFeature(f));
}

/** featureKey of a feature already checked: the renderers check a feature once, then use this. */
export function keyOf(f: HostFeature): string {
    return kindOf(f).key(f);
}

/**
 * The feature's parameters as one deterministic string. The scripts keep a feature's prior state
 * under its key and `update` only repairs drift, so a change of parameters must replace the
 * command (delete with the old text, then create): put this in the command's `triggers` and set
 * `deleteBeforeReplace`. (A shim whose lower or address changed under `update` fails in preflight,
 * saying so, rather than leave the old address behind.)
 *
 * Released, like the child names: rewording any of these strings changes the triggers of every
 * such command in every stack, so `pulumi up` would undo and redo it on every host (a VLAN link
 * deleted under its containers). Never reword them; a new feature gets a new string.
 */
export function featureIdentity(f: HostFeature): string {
    return identityOf(checkFeature(f));
}

/** featureIdentity of a feature already checked. */
export function identityOf(f: HostFeature): string {
    return kindOf(f).identity(f);
}

/** The boot fragment of a feature on the host: `<bootDir>/<order>-<key>.sh`. */
export function bootFragmentPath(f: HostFeature): string {
    return fragmentPathOf(checkFeature(f));
}

/** bootFragmentPath of a feature already checked. */
export function fragmentPathOf(f: HostFeature): string {
    return `${HOST_PATHS.bootDir}/${kindOf(f).bootOrder}-${keyOf(f)}.sh`;
}
