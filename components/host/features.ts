/**
 * The host features MacvlanHost ensures (promisc, ip_forward, a VLAN, the shim, a shim route), as
 * plain values: their checks, state keys, identities and where their files go on a host. Pure: no
 * resource imports, no shell text (hostShellLib.ts, hostKindShell.ts and hostScripts.ts render it).
 */
import { addressSlug } from "../plan/names";
import { assertIfName, assertIpv4Cidr, assertIpv4Host32, assertVlanId, ShellValueError } from "./shell";

/** One thing MacvlanHost ensures on a host; each becomes one remote.Command. */
export type HostFeature =
    | { readonly kind: "promisc"; readonly parent: string }
    | { readonly kind: "ipforward" }
    | { readonly kind: "vlan"; readonly parent: string; readonly id: number }
    | {
          readonly kind: "shim";
          /** The link the shim hangs off: the parent or `<parent>.<vlan>`. */
          readonly lower: string;
          /** The shim link's own name (validated Linux ifname). */
          readonly link: string;
          /** The shim's address with a /32 prefix, e.g. `198.51.100.250/32`. */
          readonly address: string;
      }
    | { readonly kind: "route"; readonly link: string; readonly cidr: string };

/** What the preflight checks on a host before anything changes. */
export interface PreflightSpec {
    /** Host name, for messages. */
    readonly host: string;
    readonly parent: string;
    /** True when VLAN sub-interfaces are asked for: 802.1Q present or loadable. */
    readonly needsVlan: boolean;
    /** True when networks will use the host: `docker` present and its engine answering. */
    readonly needsDocker: boolean;
}

export interface RenderedCommand {
    /** Ensure script, run on create; carries the drift token. */
    readonly create: string;
    /** Ensure script, run on update (same effect as create). */
    readonly update: string;
    /** Undo script: restores the prior state recorded on the host by the first create. */
    readonly delete: string;
}

/** Where the scripts keep things on a host. */
export const HOST_PATHS = {
    stateRoot: "/var/lib/pulumi-macvlan",
    bootRoot: "/etc/pulumi-macvlan",
    bootDir: "/etc/pulumi-macvlan/boot.d",
    runner: "/etc/pulumi-macvlan/boot",
    unit: "/etc/systemd/system/pulumi-macvlan.service",
    wantsDir: "/etc/systemd/system/multi-user.target.wants",
    wantsLink: "/etc/systemd/system/multi-user.target.wants/pulumi-macvlan.service",
    lock: "/run/pulumi-macvlan.lock",
    createdMarker: ".pulumi-macvlan-created",
} as const;

/** The sysctls the shim link gets: loose reverse-path filter, ARP answered and sourced only for its own address. */
export const SHIM_SYSCTLS: readonly (readonly [name: string, value: number])[] = [
    ["rp_filter", 2],
    ["arp_ignore", 1],
    ["arp_announce", 2],
];

/** Shape of a drift token printed by the probe: `drift:<code>[,<code>...]@<cksum>`. */
export const DRIFT_TOKEN_RE = /^drift:[a-z_-]+(?:,[a-z_-]+)*@[0-9]{1,10}$/;

/** Shape of a feature key (see featureKey); what parseProbeOutput accepts as a key. */
export const FEATURE_KEY_RE = /^(?:ipforward|(?:promisc|vlan|shim|route)-[A-Za-z0-9_.-]{1,40})$/;

/** The state key of a feature on the host, e.g. `promisc-eth0`, `vlan-eth0.50`. Unique per host. */
export function featureKey(f: HostFeature): string {
    const v = checkFeature(f);
    switch (v.kind) {
        case "promisc":
            return `promisc-${v.parent}`;
        case "ipforward":
            return "ipforward";
        case "vlan":
            return `vlan-${v.parent}.${v.id}`;
        case "shim":
            return `shim-${v.link}`;
        case "route":
            return `route-${addressSlug(v.cidr)}`;
    }
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
    const v = checkFeature(f);
    switch (v.kind) {
        case "promisc":
            return `promisc parent=${v.parent}`;
        case "ipforward":
            return "ipforward";
        case "vlan":
            return `vlan parent=${v.parent} id=${v.id}`;
        case "shim":
            return `shim lower=${v.lower} link=${v.link} address=${v.address}`;
        case "route":
            return `route link=${v.link} cidr=${v.cidr}`;
    }
}

/** The boot fragment of a feature on the host. */
export function bootFragmentPath(f: HostFeature): string {
    const order = { promisc: "10", ipforward: "10", vlan: "20", shim: "30", route: "40" }[checkFeature(f).kind];
    return `${HOST_PATHS.bootDir}/${order}-${featureKey(f)}.sh`;
}

/** Validates every field of a feature (throws ShellValueError) and returns it. */
export function checkFeature(f: HostFeature): HostFeature {
    if (typeof f !== "object" || f === null) throw new ShellValueError("feature", f, "is not an object");
    switch (f.kind) {
        case "promisc":
            assertIfName("promisc.parent", f.parent);
            return f;
        case "ipforward":
            return f;
        case "vlan":
            assertIfName("vlan.parent", f.parent);
            assertVlanId("vlan.id", f.id);
            assertIfName("vlan link", `${f.parent}.${f.id}`);
            return f;
        case "shim":
            assertIfName("shim.lower", f.lower);
            assertIfName("shim.link", f.link);
            assertIpv4Host32("shim.address", f.address);
            if (f.link === f.lower) throw new ShellValueError("shim.link", f.link, "must differ from shim.lower");
            return f;
        case "route":
            assertIfName("route.link", f.link);
            assertIpv4Cidr("route.cidr", f.cidr);
            return f;
        default:
            throw new ShellValueError("feature.kind", (f as { kind?: unknown }).kind, "must be one of promisc, ipforward, vlan, shim, route");
    }
}
