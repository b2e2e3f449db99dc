/**
 * The checks of one network entry on its own (`macvlan:networks[i]`, with its containers): types,
 * syntax, defaults and the address math inside the network's subnet. Rules across entries (unique
 * names, shared parents) are in cross.ts, the rules of a LAN segment in segments.ts.
 */
import { parseCidr, sliceAt, type Address, type Cidr } from "../net/addr";
import { defaultMac } from "../net/mac";
import { DEFAULT_MODE, DEFAULT_RESTART, type MacvlanMode, type RestartPolicy } from "./model";
import type { CheckedHost } from "./hosts";
import { childPath, jsonValue, type Problems } from "./problems";
import { BOOLEAN, checkKey, checkValue, isMap, own, readEntry, readField, readOptional, STRING, type RawMap } from "./read";
import {
    addressIn,
    AUX_MAP,
    SLICE_MAP,
    SLICE_SIZE,
    sliceIn,
    AUX_NAME,
    blockIn,
    COMMAND,
    COMMAND_WORD,
    CONTAINER_LIST,
    CONTAINER_NAME,
    emptyProblem,
    ENV_MAP,
    ENV_NAME,
    ENV_VALUE,
    HOST_LIST,
    HOST_REF,
    IMAGE,
    lanSubnetProblem,
    LISTED_TWICE,
    MAC,
    MODE,
    NETWORK_NAME,
    notAHostProblem,
    RESTART,
    SECRET_ENV,
    SECRET_ENV_NAME,
    VLAN_ID,
} from "./rules";

/** Keys a network entry may have. */
const NETWORK_KEYS = ["name", "vlan", "mode", "subnet", "gateway", "ipRange", "sliceSize", "slices", "auxAddresses", "hosts", "containers", "swarm"] as const;
/** Keys a container entry may have. */
const CONTAINER_KEYS = ["name", "host", "image", "ip", "mac", "command", "env", "secretEnv", "restart"] as const;

/**
 * Required: engines before 29 invent a gateway when none is given (which then reads back as a
 * change on every run), and 29+ gives the containers no default route at all.
 */
const GATEWAY_REQUIRED = "is required: the LAN's real router (Docker before 29 invents one when it is missing, and 29+ gives the containers no default route)";

/**
 * passthru hands the parent whole to one container: on the untagged parent that is the host's own
 * link, and the SSH session that manages the host goes with it.
 */
function untaggedPassthruProblem(path: string): string {
    return `on the untagged parent would take the host's own link, and its SSH with it: set ${path}.vlan so that it takes a VLAN sub-interface (a network has no dedicated NIC of its own: its parent is its hosts' parent)`;
}

/** One host's slice of a network's dynamic range (`networks[i].slices.<host>`). */
export interface CheckedSlice {
    readonly host: string;
    readonly path: string;
    readonly block: Cidr;
}

interface CheckedAux {
    readonly name: string;
    readonly path: string;
    address?: Address;
}

export interface CheckedContainer {
    readonly index: number;
    readonly path: string;
    name?: string;
    host?: string;
    image?: string;
    ip?: Address;
    mac?: string;
    macDerived: boolean;
    command?: string[];
    env?: Record<string, string>;
    restart: RestartPolicy;
}

export interface CheckedNetwork {
    readonly index: number;
    readonly path: string;
    name?: string;
    vlan?: number;
    vlanOk: boolean;
    mode: MacvlanMode;
    /** False when `mode` was refused (passthru on the untagged parent): the rules that follow from it skip the network. */
    modeOk: boolean;
    /** The subnet; with host bits set, the block it should be (the problem is reported). */
    subnet?: Cidr;
    gateway?: Address;
    ipRange?: Cidr;
    /** The per-host slices of the dynamic range, when `slices` is given (the valid ones, config order). */
    slices?: CheckedSlice[];
    aux: CheckedAux[];
    /** Names of valid hosts it spans, config order. */
    hosts: string[];
    containers: CheckedContainer[];
    /** `swarm: true`: a swarm-scoped network made from a config-only network on each host (rules in swarm.ts). */
    swarm: boolean;
}

/** What the checks of a network need to know about the hosts. */
interface HostIndex {
    /** Valid hosts by name (first of duplicates). */
    readonly byName: ReadonlyMap<string, CheckedHost>;
    /** Every string given as a host name, valid or not (so a bad name is reported once, at the host). */
    readonly given: ReadonlySet<string>;
}

/**
 * Checks one network entry and its containers. `networksSecret`: macvlan:networks is a secret
 * config key (what a container's `secretEnv` asks for).
 */
export function checkNetwork(p: Problems, raw: unknown, index: number, hosts: HostIndex, networksSecret = false): CheckedNetwork | undefined {
    const path = `networks[${index}]`;
    const map = readEntry(p, raw, path, NETWORK_KEYS, "a network");
    if (map === undefined) return undefined;
    const name = readField(p, map, "name", path, NETWORK_NAME, true);
    const vlan = readOptional(p, map, "vlan", path, VLAN_ID);
    const n: CheckedNetwork = {
        index,
        path,
        name,
        vlan: vlan.value,
        vlanOk: vlan.ok,
        mode: readField(p, map, "mode", path, MODE) ?? DEFAULT_MODE,
        modeOk: true,
        aux: [],
        hosts: [...hosts.byName.keys()],
        containers: [],
        swarm: readField(p, map, "swarm", path, BOOLEAN) ?? false,
    };

    if (n.mode === "passthru" && n.vlan === undefined && n.vlanOk) {
        p.add(`${path}.mode`, n.mode, untaggedPassthruProblem(path));
        n.modeOk = false;
    }

    // A subnet with host bits set is reported, and the block it should be stands in for it, so the
    // checks that need the subnet still run. A block no LAN can have is reported alone (the fix is
    // another subnet, not the block it should be), and the checks that need the subnet skip it.
    const subnet = readField(p, map, "subnet", path, STRING, true);
    if (subnet !== undefined) {
        const r = parseCidr(subnet);
        const block = r.ok ? r.value : r.corrected;
        const notLan = block === undefined ? undefined : lanSubnetProblem(block);
        if (notLan !== undefined) p.add(`${path}.subnet`, subnet, notLan);
        else {
            if (!r.ok) p.add(`${path}.subnet`, subnet, r.problem);
            n.subnet = block;
        }
    }
    // Without a subnet the gateway cannot be placed: it is then left out of the checks across entries.
    const gateway = readField(p, map, "gateway", path, addressIn(n.subnet), GATEWAY_REQUIRED);
    if (n.subnet !== undefined) n.gateway = gateway;
    n.ipRange = readField(p, map, "ipRange", path, blockIn(n.subnet));
    checkAux(p, map, n);
    const listed = checkSpan(p, map, n, hosts);
    checkSlices(p, map, n);

    const containers = readField(p, map, "containers", path, CONTAINER_LIST);
    containers?.forEach((c, i) => {
        const checked = checkContainer(p, c, `${path}.containers[${i}]`, i, n, hosts, listed, networksSecret);
        if (checked !== undefined) n.containers.push(checked);
    });
    return n;
}

/**
 * The network's `auxAddresses`: valid names, each with an address in the subnet that Docker does
 * not hold already: not the network or broadcast address, not the gateway, not another aux
 * address (Docker: "failed to allocate secondary ip address"). A refused address is dropped, so
 * the rules across entries see each address once.
 */
function checkAux(p: Problems, map: RawMap, n: CheckedNetwork): void {
    const mapPath = `${n.path}.auxAddresses`;
    const aux = readField(p, map, "auxAddresses", n.path, AUX_MAP);
    if (aux === undefined) return;
    for (const key of Object.keys(aux)) {
        if (!checkKey(p, mapPath, key, AUX_NAME)) continue;
        const at = childPath(mapPath, key);
        const v = own(aux, key);
        const entry: CheckedAux = { name: key, path: at };
        if (v === undefined) p.addBare(at, emptyProblem("an address"));
        else {
            const address = checkValue(p, v, at, addressIn(n.subnet));
            const twin = address === undefined ? undefined : n.aux.find((a) => a.address?.equals(address) === true);
            if (address !== undefined && n.gateway?.equals(address) === true) p.add(at, v, `is the gateway ${n.path}.gateway`);
            else if (twin !== undefined) p.add(at, v, `is already reserved as ${twin.path}`);
            else entry.address = address;
        }
        n.aux.push(entry);
    }
}

/**
 * The network's `slices`: one block per host the network spans, each inside the network's
 * `ipRange` (or its subnet when it has none), disjoint from the network's other slices. A block is
 * a CIDR, or, with `sliceSize` (a prefix length), a slot number: slot k is the k-th block of that
 * size in the range, from 0. Either way it is written per host, so it never depends on the others. A slice is
 * the `ipRange` that host's Docker network gets: the addresses that engine alone hands out. The
 * rules against the rest of the segment (other networks' pools, fixed addresses) are in
 * segments.ts. A refused slice is dropped, so the rules that follow see only valid ones.
 */
function checkSlices(p: Problems, map: RawMap, n: CheckedNetwork): void {
    const mapPath = `${n.path}.slices`;
    const within = n.ipRange ?? n.subnet;
    const size = readField(p, map, "sliceSize", n.path, SLICE_SIZE);
    const sizeOk = size === undefined || within === undefined || size > within.prefix;
    if (!sizeOk) p.add(`${n.path}.sliceSize`, size, `must be longer than the prefix of ${within?.toString() ?? ""}, which it divides into numbered slices`);
    const raw = readField(p, map, "slices", n.path, SLICE_MAP);
    if (raw === undefined) {
        if (size !== undefined) p.addBare(`${n.path}.sliceSize`, `is set but ${n.path}.slices is not: give each host its slot number (e.g. node1: 0)`);
        return;
    }
    const slices: CheckedSlice[] = [];
    for (const host of Object.keys(raw)) {
        const at = childPath(mapPath, host);
        const v = own(raw, host);
        if (v === undefined) {
            p.addBare(at, emptyProblem("a CIDR"));
            continue;
        }
        if (!n.hosts.includes(host)) {
            p.addBare(mapPath, `${jsonValue(host)} is not a host this network spans (${n.hosts.join(", ")}): a slice is keyed by the name of a host in ${n.path}.hosts`);
            continue;
        }
        let block: Cidr | undefined;
        if (typeof v === "number") {
            // A slot: the v-th block of /sliceSize in the range, counted from 0.
            if (size === undefined) p.add(at, v, `is a slot number, which needs ${n.path}.sliceSize (a prefix length); or give the slice as a CIDR`);
            else if (sizeOk && within !== undefined) {
                const count = 1n << BigInt(size - within.prefix);
                if (!Number.isInteger(v) || v < 0 || BigInt(v) >= count) p.add(at, v, `is not a slot of ${within.toString()} in /${size} slices: 0-${count - 1n}`);
                else block = sliceAt(within, size, BigInt(v));
            }
        } else block = checkValue(p, v, at, sliceIn(n.ipRange, n.subnet));
        if (block === undefined) continue;
        const twin = slices.find((s) => s.block.overlaps(block));
        if (twin !== undefined) {
            p.add(at, v, `overlaps ${twin.path} ${twin.block.toString()}: each host's slice must be its own, or two engines could hand out the same address`);
            continue;
        }
        slices.push({ host, path: at, block });
    }
    for (const h of n.hosts) {
        if (!Object.prototype.hasOwnProperty.call(raw, h)) {
            p.addBare(mapPath, `has no slice for host ${h}: with slices, every host the network spans needs its own (e.g. ${h}: <a block of ${within?.toString() ?? "the ipRange"}>), or its engine would hand out the whole range`);
        }
    }
    n.slices = slices;
}

/**
 * The network's `hosts`, when given: each a known host, once; `n.hosts` becomes the valid ones.
 * Returns every string listed (valid or not), for the containers' host rule; undefined when
 * `hosts` is not given (the network spans every host) or is not a list.
 */
function checkSpan(p: Problems, map: RawMap, n: CheckedNetwork, hosts: HostIndex): ReadonlySet<string> | undefined {
    const span = readOptional(p, map, "hosts", n.path, HOST_LIST);
    if (span.ok && span.value === undefined) return undefined; // not given
    n.hosts = [];
    if (span.value === undefined) return undefined;
    if (span.value.length === 0) p.add(`${n.path}.hosts`, [], "must list at least one host; omit it to span every host");
    span.value.forEach((v, i) => {
        const at = `${n.path}.hosts[${i}]`;
        const host = checkValue(p, v, at, HOST_REF);
        if (host === undefined) return;
        if (!hosts.given.has(host)) p.add(at, host, notAHostProblem(hosts.byName.keys()));
        else if (n.hosts.includes(host)) p.add(at, host, LISTED_TWICE);
        else if (hosts.byName.has(host)) n.hosts.push(host);
    });
    return new Set(span.value.filter((v): v is string => typeof v === "string"));
}

function checkContainer(
    p: Problems,
    raw: unknown,
    path: string,
    index: number,
    n: CheckedNetwork,
    hosts: HostIndex,
    /** The names listed in the network's `hosts`, when it lists them. */
    listed: ReadonlySet<string> | undefined,
    networksSecret: boolean,
): CheckedContainer | undefined {
    const map = readEntry(p, raw, path, CONTAINER_KEYS, "a container");
    if (map === undefined) return undefined;
    const c: CheckedContainer = {
        index,
        path,
        name: readField(p, map, "name", path, CONTAINER_NAME, true),
        macDerived: false,
        restart: DEFAULT_RESTART,
    };
    const host = readField(p, map, "host", path, STRING, true);
    if (host !== undefined) {
        if (!hosts.given.has(host)) p.add(`${path}.host`, host, notAHostProblem(hosts.byName.keys()));
        else if (listed !== undefined && !listed.has(host)) p.add(`${path}.host`, host, `is not one of ${n.path}.hosts (${n.hosts.join(", ")})`);
        else if (hosts.byName.has(host)) c.host = host;
    }
    c.image = readField(p, map, "image", path, IMAGE, true);
    // Without a subnet the ip cannot be placed: it is then left out of the checks across entries.
    const ip = readField(p, map, "ip", path, addressIn(n.subnet), true);
    if (n.subnet !== undefined) c.ip = ip;
    // A mac of the wrong type is reported, and the derived one stands in for it.
    const mac = readField(p, map, "mac", path, STRING);
    if (mac !== undefined) c.mac = checkValue(p, mac, `${path}.mac`, MAC);
    else if (c.ip !== undefined) {
        c.mac = defaultMac(c.ip);
        c.macDerived = true;
    }

    const command = readField(p, map, "command", path, COMMAND);
    if (command !== undefined) {
        if (command.length === 0) p.add(`${path}.command`, [], "must list at least one word; omit it to run the image's default command");
        const words: string[] = [];
        command.forEach((w, i) => {
            const word = checkValue(p, w, `${path}.command[${i}]`, COMMAND_WORD);
            if (word !== undefined) words.push(word);
        });
        c.command = words;
    }
    // No problem here shows an env value (they can be secrets): problems.ts leaves out the value
    // at every path that may hold one, and a key written `NAME=value` is shown up to the `=`.
    const env = readField(p, map, "env", path, ENV_MAP);
    if (env !== undefined) {
        const vars: Record<string, string> = {};
        for (const key of Object.keys(env)) {
            if (!checkEnvName(p, `${path}.env`, key)) continue;
            const value = checkValue(p, own(env, key) ?? null, childPath(`${path}.env`, key), ENV_VALUE);
            if (value !== undefined) Object.defineProperty(vars, key, { value, enumerable: true, writable: true, configurable: true });
        }
        c.env = vars;
    }
    checkSecretEnv(p, map, path, networksSecret);
    c.restart = readField(p, map, "restart", path, RESTART) ?? DEFAULT_RESTART;
    return c;
}

/** An env key is a valid name; `NAME=value` (a compose list item written into a map) is shown up to the `=`. */
function checkEnvName(p: Problems, mapPath: string, key: string): boolean {
    const eq = key.indexOf("=");
    if (eq < 0) return checkKey(p, mapPath, key, ENV_NAME);
    p.addBare(mapPath, `${jsonValue(`${key.slice(0, eq)}=…`)} is not a valid environment variable name; write NAME: value, not NAME=value`);
    return false;
}

/**
 * A container's `secretEnv`: env names, each once, each set in `env` and a secret. Pulumi tells a
 * program only which top-level keys hold a secret, so "a secret" means: macvlan:networks is a
 * secret config key, which `pulumi config set --secret --path 'macvlan:networks[i]…env.NAME'` makes it.
 */
function checkSecretEnv(p: Problems, map: RawMap, path: string, networksSecret: boolean): void {
    const names = readField(p, map, "secretEnv", path, SECRET_ENV);
    const env = own(map, "env");
    // An env of the wrong type is reported already, not again for each name.
    if (names === undefined || (env !== undefined && !isMap(env))) return;
    const seen = new Set<string>();
    names.forEach((v, i) => {
        const at = `${path}.secretEnv[${i}]`;
        const name = checkValue(p, v, at, SECRET_ENV_NAME);
        if (name === undefined) return;
        if (seen.has(name)) {
            p.add(at, name, LISTED_TWICE);
            return;
        }
        seen.add(name);
        const envAt = childPath(`${path}.env`, name);
        const set = `set it with \`pulumi config set --secret --path 'macvlan:${envAt}'\` (it prompts for the value)`;
        if (env === undefined || !Object.prototype.hasOwnProperty.call(env, name)) p.addBare(envAt, `is required by ${path}.secretEnv: ${set}`);
        else if (!networksSecret) p.addBare(envAt, `is listed in ${path}.secretEnv but is not a secret: ${set}`);
    });
}
