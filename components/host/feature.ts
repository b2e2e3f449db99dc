/**
 * What every kind of host feature (promisc, ipforward, a VLAN, the shim, a shim route) provides to
 * the renderers, and the values shared by all of them: where their files go on a host, what a
 * rendered command is. Each kind is one module under kinds/ implementing `FeatureKind`, with its
 * shell in a `.sh` file next to it; registry.ts lists them all. Pure: no resource imports.
 */
import { readShellParts } from "./shellFiles";

/** `NAME`, value pairs: the shell variables a kind's shell reads, assigned (quoted) before it. */
export type ShellVars = readonly (readonly [name: string, value: string])[];

/** The static shell of one kind (kinds/<kind>.sh): text only, the same for every feature of the kind. */
export interface KindShell {
    /** Functions reading the live state, used by both the scripts and the probe ("" when none). */
    readonly helpers: string;
    /** Defines pm_preflight_feature, pm_measure (prints the prior state), pm_ensure and pm_restore. */
    readonly lib: string;
    /** The function `pm_check_<kind>`: calls `pm_add <code>` for each thing that differs from the desired state. */
    readonly check: string;
    /** Body of the boot fragment (after its header, the values and, when it waits for links, the wait helpers). */
    readonly boot: string;
}

/**
 * One kind of host feature. `F` is its feature type (`{ kind: "<kind>", ...its fields }`); every
 * function below gets a feature that `validate` accepted.
 */
export interface FeatureKind<F extends { readonly kind: string }> {
    readonly kind: F["kind"];
    /** Checks every field but `kind` (throws ShellValueError naming the field). */
    validate(f: F): void;
    /** The state key of the feature on the host, e.g. `vlan-eth0.50`: unique per host, matches `keyPattern`. */
    key(f: F): string;
    /** A regular expression source matching every key `key` can give (parseProbeOutput accepts these). */
    readonly keyPattern: string;
    /**
     * The feature's parameters as one deterministic string (see featureIdentity). Released:
     * rewording it replaces the feature's command on every host; never reword one.
     */
    identity(f: F): string;
    /** Two digits ordering its boot fragment among the others (the runner runs them sorted). */
    readonly bootOrder: string;
    /** True when its boot fragment calls `ip` and `pm_wait_link` (it waits for a link to appear). */
    readonly bootWaitsForLinks: boolean;
    /** The values its shell reads, each checked by `validate`. */
    vars(f: F): ShellVars;
    readonly shell: KindShell;
}

/** Reads kinds/<kind>.sh: the parts helpers (optional), lib, check (which must define pm_check_<kind>) and boot. */
export function loadKindShell(kind: string): KindShell {
    const rel = `kinds/${kind}.sh`;
    const parts = readShellParts(rel, ["helpers", "lib", "check", "boot"], ["lib", "check", "boot"]);
    if (!parts.check.startsWith(`pm_check_${kind}() {\n`) || !parts.check.endsWith("\n}")) {
        throw new Error(`components/host/${rel}: its check part must be exactly the function pm_check_${kind}`);
    }
    return parts;
}

/** The regular expression source of a key suffix: what follows `<kind>-` in most keys. */
export const KEY_SUFFIX_PATTERN = "[A-Za-z0-9_.-]{1,40}";

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
    /** The feature's script, sent on the command's stdin: create/update and delete are its two entry points. */
    readonly stdin: string;
    /** `/bin/sh -s create <key>`: the ensure, run on create. */
    readonly create: string;
    /** The same as create, run on update. */
    readonly update: string;
    /** `/bin/sh -s delete <key>`: restores the prior state recorded on the host by the first create. */
    readonly delete: string;
}

/**
 * Where the scripts keep things on a host. The shell repeats three of them literally (the runner
 * lib/runner.sh and the unit lib/pulumi-macvlan.service name the boot paths, lib/state.sh the
 * marker); a unit test checks they agree with these.
 */
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

/** Shape of a drift token printed by the probe: `drift:<code>[,<code>...]@<cksum>`. */
export const DRIFT_TOKEN_RE = /^drift:[a-z_-]+(?:,[a-z_-]+)*@[0-9]{1,10}$/;
