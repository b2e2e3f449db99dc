/**
 * The scripts of a swarm macvlan network (pure, no resource imports): the config-only network on
 * each host (`docker network create --config-only`: that host's parent, mode and address slice)
 * and the swarm-scoped network created from them on a manager (`--scope swarm --config-from`).
 * `@pulumi/docker`'s Network has no input for either, so each is a remote.Command whose script
 * (swarmNetwork.sh) is held to the standard of the host scripts: `set -eu`, every value checked and
 * quoted, an ensure that is safe to run again after a dropped connection, a delete that undoes
 * exactly what the create did.
 *
 * Why not a host feature kind (registry.ts): Docker itself keeps a network's state, its config
 * cannot change, and it needs no boot fragment, prior state or undo file; the two labels the
 * script sets on a config-only network (owner and identity) are the whole record, and the swarm
 * network (which Docker lets have no label) is known by its scope, driver and config network.
 */
import { isIpv4Literal, isDockerName, AUX_NAME_RE } from "../net/patterns";
import { PROLOGUE, assigns } from "./common";
import type { RenderedCommand } from "./feature";
import { assertHostName, assertIfName, assertIpv4Cidr, assertOwner, ShellValueError, shq, shStdinCommand, stdinScript } from "./shell";
import { readShellParts } from "./shellFiles";

const SHELL = readShellParts("swarmNetwork.sh", ["lib", "main"]);

/** The macvlan modes a swarm network may have (passthru hands the parent to one container: not for a service). */
export const SWARM_MODES = ["bridge", "vepa", "private"] as const;
export type SwarmMode = (typeof SWARM_MODES)[number];

/** Seconds a config-only network's delete waits for the engine to drop its copy of the swarm network (measured: about 10 s on Engine 20.10). */
export const CONFIG_ONLY_DELETE_WAIT_S = 60;

/** One IPAM pool of a config-only network, as that host's engine gets it (its slice as `ipRange`). */
export interface SwarmPoolSpec {
    readonly subnet: string;
    readonly gateway?: string;
    readonly ipRange?: string;
}

/** A config-only network on one host. */
export interface ConfigOnlyNetworkSpec {
    /** Host entry name, for messages. */
    readonly host: string;
    /** `<project>/<stack>/<host>`: recorded in the network's owner label. */
    readonly owner: string;
    /** Docker network name of the config-only network. */
    readonly name: string;
    /** The host's parent link (`<nic>` or `<nic>.<vlan>`). */
    readonly parent: string;
    readonly mode: SwarmMode;
    readonly pools: readonly SwarmPoolSpec[];
    /** Reserved addresses by name. */
    readonly auxAddresses: Readonly<Record<string, string>>;
}

/** The swarm-scoped network, created on a manager from the config-only networks of the same name on each host. */
export interface SwarmScopedNetworkSpec {
    /** Host entry name of the manager, for messages. */
    readonly host: string;
    /** `<project>/<stack>/<host>`. */
    readonly owner: string;
    /** Docker network name of the swarm network (what services attach to). */
    readonly name: string;
    /** The config-only network's name (`--config-from`). */
    readonly configFrom: string;
}

function checkName(field: string, s: unknown): string {
    if (typeof s !== "string" || !isDockerName(s)) throw new ShellValueError(field, s, "must be a Docker network name: 1-64 characters of A-Z, a-z, 0-9, _, . and -, starting with a letter or digit");
    return s;
}

function checkConfigOnly(s: ConfigOnlyNetworkSpec): void {
    assertHostName("host", s.host);
    assertOwner("owner", s.owner);
    checkName("name", s.name);
    assertIfName("parent", s.parent);
    if (!(SWARM_MODES as readonly string[]).includes(s.mode)) throw new ShellValueError("mode", s.mode, `must be one of ${SWARM_MODES.join(", ")}`);
    if (s.pools.length === 0) throw new ShellValueError("pools", s.pools, "must list at least one pool");
    s.pools.forEach((p, i) => {
        assertIpv4Cidr(`pools[${i}].subnet`, p.subnet);
        if (p.gateway !== undefined && !isIpv4Literal(p.gateway)) throw new ShellValueError(`pools[${i}].gateway`, p.gateway, "must be an IPv4 address");
        if (p.ipRange !== undefined) assertIpv4Cidr(`pools[${i}].ipRange`, p.ipRange);
    });
    for (const [k, v] of Object.entries(s.auxAddresses)) {
        if (!AUX_NAME_RE.test(k)) throw new ShellValueError("auxAddresses", k, "is not a valid aux address name");
        if (!isIpv4Literal(v)) throw new ShellValueError(`auxAddresses.${k}`, v, "must be an IPv4 address");
    }
}

function checkSwarmScoped(s: SwarmScopedNetworkSpec): void {
    assertHostName("host", s.host);
    assertOwner("owner", s.owner);
    checkName("name", s.name);
    checkName("configFrom", s.configFrom);
}

/**
 * The config-only network's values as one deterministic string: its identity label on the host
 * and the trigger of its command (a change replaces the network). Released: never reword it.
 */
export function configOnlyIdentity(s: ConfigOnlyNetworkSpec): string {
    checkConfigOnly(s);
    const pools = s.pools.map((p) => [`subnet=${p.subnet}`, ...(p.gateway === undefined ? [] : [`gateway=${p.gateway}`]), ...(p.ipRange === undefined ? [] : [`range=${p.ipRange}`])].join(","));
    const aux = Object.keys(s.auxAddresses).sort().map((k) => `${k}=${s.auxAddresses[k]}`);
    return [`config-only parent=${s.parent} mode=${s.mode}`, ...pools.map((p) => `pool=${p}`), ...(aux.length === 0 ? [] : [`aux=${aux.join(",")}`])].join(" ");
}

/** The swarm network's identity (its command's trigger). Released: never reword it. */
export function swarmScopedIdentity(s: SwarmScopedNetworkSpec): string {
    checkSwarmScoped(s);
    return `swarm macvlan config-from=${s.configFrom}`;
}

/** `docker network create` of a config-only network: every word checked, then quoted. */
function configOnlyCreateWords(s: ConfigOnlyNetworkSpec, identity: string): string[] {
    const words = ["docker", "network", "create", "--config-only"];
    for (const p of s.pools) {
        words.push("--subnet", p.subnet);
        if (p.gateway !== undefined) words.push("--gateway", p.gateway);
        if (p.ipRange !== undefined) words.push("--ip-range", p.ipRange);
    }
    for (const k of Object.keys(s.auxAddresses).sort()) words.push("--aux-address", `${k}=${s.auxAddresses[k]}`);
    words.push("-o", `parent=${s.parent}`, "-o", `macvlan_mode=${s.mode}`);
    words.push("--label", `com.pulumi-macvlan.owner=${s.owner}`, "--label", `com.pulumi-macvlan.identity=${identity}`, s.name);
    return words;
}

/** No labels: Docker refuses any option but the scope on a network made `--config-from`. */
function swarmCreateWords(s: SwarmScopedNetworkSpec): string[] {
    return ["docker", "network", "create", "--driver", "macvlan", "--scope", "swarm", "--config-from", s.configFrom, s.name];
}

/** What the script reads of a config-only network (`docker network inspect --format`), and what it must read. */
export const CONFIG_ONLY_FORMAT = '{{.Name}}|{{.Scope}}|{{.ConfigOnly}}|{{index .Labels "com.pulumi-macvlan.owner"}}|{{index .Labels "com.pulumi-macvlan.identity"}}';
/** What the script reads of the swarm network: it has no labels, so it is known by its scope, driver and config network. */
export const SWARM_FORMAT = "{{.Name}}|{{.Scope}}|{{.Driver}}|{{.ConfigFrom.Network}}";

function render(who: string, name: string, owner: string, format: string, want: string, swarm: boolean, words: readonly string[]): RenderedCommand {
    const script = [
        PROLOGUE,
        assigns([
            ["pm_who", who],
            ["PM_NAME", name],
            ["PM_OWNER", owner],
            ["PM_FORMAT", format],
            ["PM_WANT", want],
            ["PM_SWARM", swarm ? "1" : "0"],
            ["PM_WAIT", String(CONFIG_ONLY_DELETE_WAIT_S)],
        ]),
        `pm_docker_create() {\n    ${words.map(shq).join(" ")}\n}`,
        SHELL.lib,
        SHELL.main,
    ].join("\n");
    const create = shStdinCommand(["create"]);
    return { stdin: stdinScript(script), create, update: create, delete: shStdinCommand(["delete"]) };
}

/** The command of a config-only network on one host (throws ShellValueError on a bad value). */
export function renderConfigOnlyNetwork(s: ConfigOnlyNetworkSpec): RenderedCommand {
    const identity = configOnlyIdentity(s);
    const want = `${s.name}|local|true|${s.owner}|${identity}`;
    return render(`${s.host}: config-only network ${s.name}`, s.name, s.owner, CONFIG_ONLY_FORMAT, want, false, configOnlyCreateWords(s, identity));
}

/** The command of the swarm-scoped network on the manager (throws ShellValueError on a bad value). */
export function renderSwarmScopedNetwork(s: SwarmScopedNetworkSpec): RenderedCommand {
    checkSwarmScoped(s);
    const want = `${s.name}|swarm|macvlan|${s.configFrom}`;
    return render(`${s.host}: swarm network ${s.name}`, s.name, s.owner, SWARM_FORMAT, want, true, swarmCreateWords(s));
}
