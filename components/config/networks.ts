/**
 * The checks of one network entry on its own (`macvlan:networks[i]`, with its containers): types,
 * syntax, defaults and the address math inside the network's subnet. Rules across entries (unique
 * names, shared parents) are in cross.ts, the rules of a LAN segment in segments.ts.
 */
import { familyLabel, parseCidr, POOL_FAMILIES, sliceAt, type Address, type Cidr, type IpFamily } from "../net/addr";
import { defaultMac } from "../net/mac";
import { DEFAULT_MODE, DEFAULT_RESTART, type MacvlanMode, type RestartPolicy } from "./model";
import type { CheckedHost } from "./hosts";
import { childPath, jsonValue, type Problems } from "./problems";
import { BOOLEAN, checkKey, checkValue, isMap, own, readEntry, readField, readOptional, STRING, type Field, type RawMap } from "./read";
import {
    addressIn,
    addressInPools,
    AUX_MAP,
    POOL_LIST,
    type PoolSubnets,
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
    JOIN_LIST,
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
const NETWORK_KEYS = ["name", "vlan", "mode", "subnet", "gateway", "ipRange", "ipam", "sliceSize", "slices", "auxAddresses", "hosts", "containers", "swarm"] as const;
/** The keys of one pool: a network's own (the one-pool shorthand) or an entry of its `ipam`. */
const POOL_KEYS = ["subnet", "gateway", "ipRange"] as const;
/** Keys a container entry may have. */
const CONTAINER_KEYS = ["name", "host", "image", "ip", "ip6", "mac", "networks", "defaultRoute", "command", "env", "secretEnv", "restart"] as const;
/** Keys an entry of a container's `networks` (a further network it joins) may have. */
const JOIN_KEYS = ["network", "ip", "ip6", "mac"] as const;

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

/** One IPAM pool of a network whose subnet passed its checks. */
export interface CheckedPool {
    /** Where it is written: `networks[i]` for the one-pool shorthand (its keys `subnet`, `gateway`, `ipRange`), `networks[i].ipam[j]` for a listed pool. */
    readonly path: string;
    /** The subnet; with host bits set, the block it should be (the problem is reported). */
    readonly subnet: Cidr;
    gateway?: Address;
    ipRange?: Cidr;
}

/** A network's pools of one family, config order. */
export function poolsOf(n: CheckedNetwork, family: IpFamily): CheckedPool[] {
    return n.pools.filter((x) => x.subnet.family === family);
}

/** The pool of `n` whose subnet holds `a` (an address or a block), if any. */
export function poolHolding(n: CheckedNetwork, a: Address | Cidr): CheckedPool | undefined {
    return n.pools.find((x) => x.subnet.contains(a));
}

/** The first pair of pools, one of `b` and one of `a`, whose subnets overlap: `[b's, a's]`. */
export function overlappingPools(a: CheckedNetwork, b: CheckedNetwork, also: (pa: CheckedPool, pb: CheckedPool) => boolean = () => true): [CheckedPool, CheckedPool] | undefined {
    for (const pb of b.pools) {
        for (const pa of a.pools) if (pa.subnet.overlaps(pb.subnet) && also(pa, pb)) return [pb, pa];
    }
    return undefined;
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

/**
 * A further macvlan network a container joins on its host (`containers[j].networks[k]`), as read
 * on its own: the network is named, the ip is an address and the mac a MAC. Where the ip may sit
 * is known only once every network is read: cross.ts (`resolveJoins`) places it.
 */
export interface CheckedJoin {
    readonly path: string;
    network?: string;
    /** The ip as written, when it is a string (parsed against the joined network's pools later). */
    ipText?: string;
    /** The ip6 as written, when it is a string (likewise). */
    ip6Text?: string;
    mac?: string;
    /** The entry cross.ts added to the joined network's `containers` when the join passed its rules. */
    resolved?: CheckedContainer;
}

export interface CheckedContainer {
    readonly index: number;
    readonly path: string;
    name?: string;
    host?: string;
    image?: string;
    ip?: Address;
    /** The pinned IPv6 address (`ip6`), on a network with an IPv6 pool. */
    ip6?: Address;
    mac?: string;
    macDerived: boolean;
    command?: string[];
    env?: Record<string, string>;
    restart: RestartPolicy;
    /** The further networks it joins, as written (`networks`); none: only the one it is listed under. */
    joins: CheckedJoin[];
    /** The network whose gateway gives its default route (`defaultRoute`), as written. */
    defaultRoute?: string;
    /**
     * Set on the entry cross.ts adds to a joined network's `containers` for a join: the container
     * it stands for (declared under another network). The rules of a network and its segment
     * (addresses, MACs, passthru, slices) see the join as one of the network's containers; the
     * rules on containers themselves (names, the model) skip it.
     */
    joinOf?: { readonly container: CheckedContainer; readonly network: CheckedNetwork };
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
    /**
     * The IPAM pools whose subnet passed its checks, config order: several, of either family (an
     * IPv6 pool only beside an IPv4 one: dual stack).
     */
    pools: CheckedPool[];
    /** True when every pool given has a usable subnet, so that "outside every pool" is certain; false: the rules that place an address in a pool skip it. */
    poolsComplete: boolean;
    /** The per-host slices of the dynamic range, when `slices` is given (the valid ones, config order). */
    slices?: CheckedSlice[];
    /** `slices` or `sliceSize` is written (valid or not): a missing plan is then not reported again. */
    slicesWritten: boolean;
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
        slicesWritten: own(map, "slices") !== undefined || own(map, "sliceSize") !== undefined,
        pools: [],
        poolsComplete: true,
        aux: [],
        hosts: [...hosts.byName.keys()],
        containers: [],
        swarm: readField(p, map, "swarm", path, BOOLEAN) ?? false,
    };

    if (n.mode === "passthru" && n.vlan === undefined && n.vlanOk) {
        p.add(`${path}.mode`, n.mode, untaggedPassthruProblem(path));
        n.modeOk = false;
    }

    checkPools(p, map, n);
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

/** The subnets of a family an address of `n` may lie in (rules.ts `addressInPools`). */
export function subnetsOf(n: CheckedNetwork): (f: IpFamily) => PoolSubnets {
    // A network without an IPv4 pool is refused already (checkPools): its IPv4 addresses are not placed.
    return (f) => ({ subnets: poolsOf(n, f).map((x) => x.subnet), complete: n.poolsComplete && (f === "ipv6" || poolsOf(n, "ipv4").length > 0) });
}

/**
 * The network's IPAM pools: either the one-pool shorthand (`subnet`, `gateway`, `ipRange` on the
 * network, as before pools could be listed) or `ipam`, a list of pools with those keys; not both.
 * Each pool is checked on its own (a LAN subnet of either family, its gateway and ipRange inside
 * it), then the pools together: no two overlap, and an IPv6 pool needs an IPv4 pool beside it.
 */
function checkPools(p: Problems, map: RawMap, n: CheckedNetwork): void {
    const list = readOptional(p, map, "ipam", n.path, POOL_LIST);
    const shorthand = POOL_KEYS.filter((k) => own(map, k) !== undefined);
    if (list.value !== undefined || !list.ok) {
        if (shorthand.length > 0) {
            p.addBare(
                `${n.path}.ipam`,
                `is given together with ${shorthand.map((k) => `${n.path}.${k}`).join(", ")}: give one pool as ${n.path}.subnet, gateway and ipRange, or every pool in ${n.path}.ipam, not both`,
            );
        }
        if (list.value === undefined) {
            n.poolsComplete = false;
            return;
        }
        if (list.value.length === 0) p.add(`${n.path}.ipam`, [], "must list at least one pool {subnet, gateway, ipRange}");
        list.value.forEach((raw, j) => {
            const at = `${n.path}.ipam[${j}]`;
            const pool = readEntry(p, raw, at, POOL_KEYS, "a pool");
            if (pool === undefined) n.poolsComplete = false;
            else checkPool(p, pool, at, n);
        });
    } else checkPool(p, map, n.path, n, `is required (or ${n.path}.ipam, a list of pools {subnet, gateway, ipRange})`);

    for (let j = 1; j < n.pools.length; j++) {
        const b = n.pools[j];
        const a = n.pools.slice(0, j).find((x) => x.subnet.overlaps(b.subnet));
        if (a !== undefined) p.add(`${b.path}.subnet`, b.subnet.toString(), `overlaps ${a.path}.subnet ${a.subnet.toString()}: the pools of one network must not overlap`);
    }
    const v4 = poolsOf(n, "ipv4");
    const v6 = poolsOf(n, "ipv6");
    if (n.poolsComplete && v4.length === 0 && v6.length > 0) {
        const why = `IPv6 is supported as dual stack only (a container's ip, its MAC and a host's shim are IPv4): list an IPv4 pool and the IPv6 one in ${n.path}.ipam`;
        if (v6[0].path === n.path) p.add(`${n.path}.subnet`, v6[0].subnet.toString(), `is an IPv6 subnet, and a network needs an IPv4 pool; ${why}`);
        else p.addBare(`${n.path}.ipam`, `has no IPv4 pool; ${why}`);
    }
}

/**
 * One pool (at `at`: the network itself for the shorthand, or `ipam[j]`). A subnet with host bits
 * set is reported, and the block it should be stands in for it, so the checks that need the subnet
 * still run. A block no LAN can have is reported alone (the fix is another subnet, not the block it
 * should be), and the checks that need the subnet skip it.
 */
function checkPool(p: Problems, map: RawMap, at: string, n: CheckedNetwork, subnetRequired: true | string = true): void {
    let subnet: Cidr | undefined;
    const written = readField(p, map, "subnet", at, STRING, subnetRequired);
    if (written !== undefined) {
        const r = parseCidr(written, POOL_FAMILIES);
        const block = r.ok ? r.value : r.corrected;
        const notLan = block === undefined ? undefined : lanSubnetProblem(block);
        if (notLan !== undefined) p.add(`${at}.subnet`, written, notLan);
        else {
            if (!r.ok) p.add(`${at}.subnet`, written, r.problem);
            subnet = block;
        }
    }
    // Without a subnet the gateway cannot be placed: it is then left out of the checks across entries.
    const gateway = readField(p, map, "gateway", at, addressIn(subnet), GATEWAY_REQUIRED);
    const ipRange = readField(p, map, "ipRange", at, blockIn(subnet));
    if (subnet === undefined) {
        n.poolsComplete = false;
        return;
    }
    n.pools.push({ path: at, subnet, ...(gateway === undefined ? {} : { gateway }), ...(ipRange === undefined ? {} : { ipRange }) });
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
            const address = checkValue(p, v, at, addressInPools(subnetsOf(n), (f) => `is an ${familyLabel(f)} address, and ${n.path} has no ${familyLabel(f)} pool`));
            const twin = address === undefined ? undefined : n.aux.find((a) => a.address?.equals(address) === true);
            const gateway = address === undefined ? undefined : n.pools.find((x) => x.gateway?.equals(address) === true);
            if (gateway !== undefined) p.add(at, v, `is the gateway ${gateway.path}.gateway`);
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
/**
 * The slices accepted so far, by family and prefix length, then by network address: their index
 * in config order. Two blocks overlap only when one holds the other, so a block's overlapping
 * slices are found by lookups (one per shorter prefix in use) instead of a scan of every slice.
 */
type SliceIndex = Map<string, Map<bigint, number>>;

function remember(seen: SliceIndex, block: Cidr, index: number): void {
    const key = `${block.family}/${block.prefix}`;
    const m = seen.get(key) ?? new Map<bigint, number>();
    if (!m.has(block.first().value)) m.set(block.first().value, index);
    seen.set(key, m);
}

/** The first slice (config order) that overlaps `block`, as `slices.find(overlaps)` would answer. */
function firstOverlapping(slices: readonly CheckedSlice[], seen: SliceIndex, block: Cidr): CheckedSlice | undefined {
    let best: number | undefined;
    const first = block.first().value;
    const last = first + block.size - 1n;
    for (const [key, m] of seen) {
        const [family, prefixText] = key.split("/");
        if (family !== block.family) continue;
        const prefix = Number(prefixText);
        if (prefix <= block.prefix) {
            // A slice that holds the block: the block's address cut to its prefix.
            const shift = BigInt(block.bits - prefix);
            const i = m.get((first >> shift) << shift);
            if (i !== undefined && (best === undefined || i < best)) best = i;
        } else {
            // Slices inside the block (only when slices of several sizes are mixed).
            for (const [start, i] of m) if (start >= first && start <= last && (best === undefined || i < best)) best = i;
        }
    }
    return best === undefined ? undefined : slices[best];
}

function checkSlices(p: Problems, map: RawMap, n: CheckedNetwork): void {
    const mapPath = `${n.path}.slices`;
    // Slices divide the network's one IPv4 pool: with several, every host's engine would hand out
    // the pools that hold no slice of its own whole.
    const v4 = poolsOf(n, "ipv4");
    if (v4.length > 1 && own(map, "slices") !== undefined) {
        p.addBare(
            mapPath,
            `need a network with one IPv4 pool, and ${n.path}.ipam has ${v4.length}: a host's slice replaces the ipRange of the pool that holds it, so every host's engine would hand out the other pools whole; give the network one IPv4 pool`,
        );
        return;
    }
    const pool = v4.at(0);
    const within = pool?.ipRange ?? pool?.subnet;
    const size = readField(p, map, "sliceSize", n.path, SLICE_SIZE);
    const sizeOk = size === undefined || within === undefined || size > within.prefix;
    if (!sizeOk) p.add(`${n.path}.sliceSize`, size, `must be longer than the prefix of ${within?.toString() ?? ""}, which it divides into numbered slices`);
    const raw = readField(p, map, "slices", n.path, SLICE_MAP);
    if (raw === undefined) {
        if (size !== undefined) p.addBare(`${n.path}.sliceSize`, `is set but ${n.path}.slices is not: give each host its slot number (e.g. node1: 0)`);
        return;
    }
    const slices: CheckedSlice[] = [];
    const seen: SliceIndex = new Map();
    const spanned = new Set(n.hosts);
    for (const host of Object.keys(raw)) {
        const at = childPath(mapPath, host);
        const v = own(raw, host);
        if (v === undefined) {
            p.addBare(at, emptyProblem("a CIDR"));
            continue;
        }
        if (!spanned.has(host)) {
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
        } else block = checkValue(p, v, at, sliceIn(pool?.ipRange, pool?.subnet));
        if (block === undefined) continue;
        const twin = firstOverlapping(slices, seen, block);
        if (twin !== undefined) {
            p.add(at, v, `overlaps ${twin.path} ${twin.block.toString()}: each host's slice must be its own, or two engines could hand out the same address`);
            continue;
        }
        remember(seen, block, slices.length);
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
        joins: [],
    };
    const host = readField(p, map, "host", path, STRING, true);
    if (host !== undefined) {
        if (!hosts.given.has(host)) p.add(`${path}.host`, host, notAHostProblem(hosts.byName.keys()));
        else if (listed !== undefined && !listed.has(host)) p.add(`${path}.host`, host, `is not one of ${n.path}.hosts (${n.hosts.join(", ")})`);
        else if (hosts.byName.has(host)) c.host = host;
    }
    c.image = readField(p, map, "image", path, IMAGE, true);
    // Without every pool the ip cannot be placed: it is then left out of the checks across entries.
    const fields = addressFields(n, path);
    const ip = readField(p, map, "ip", path, fields.ip, true);
    if (n.poolsComplete) c.ip = ip;
    const ip6 = readField(p, map, "ip6", path, fields.ip6, fields.ip6Required);
    if (n.poolsComplete) c.ip6 = ip6;
    // A mac of the wrong type is reported, and the derived one stands in for it.
    const mac = readField(p, map, "mac", path, STRING);
    if (mac !== undefined) c.mac = checkValue(p, mac, `${path}.mac`, MAC);
    else if (c.ip !== undefined) {
        c.mac = defaultMac(c.ip);
        c.macDerived = true;
    }

    checkJoins(p, map, c);
    c.defaultRoute = readField(p, map, "defaultRoute", path, NETWORK_NAME);

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

/**
 * The rules of the `ip` and `ip6` of a container written at `path` (its own entry, or one of its
 * joins) on network `n`: `ip` in an IPv4 pool of `n`, `ip6` in an IPv6 pool, each refused where `n`
 * has no pool of its family. `ip6Required`: the problem of a missing `ip6` on a network with an
 * IPv6 pool, where an engine would otherwise pick one from the pool's start, as every other host's
 * engine would; undefined where `ip6` is optional.
 */
export function addressFields(n: CheckedNetwork, path: string): { readonly ip: Field<Address>; readonly ip6: Field<Address>; readonly ip6Required?: string } {
    const noPool = (f: IpFamily) => `is given, but ${n.path} has no ${familyLabel(f)} pool; add one to ${n.path}.ipam, or remove it`;
    const v6 = poolsOf(n, "ipv6");
    return {
        ip: addressInPools(subnetsOf(n), noPool, { family: "ipv4", wrongFamily: `a container's IPv6 address goes in ${path}.ip6` }),
        ip6: addressInPools(subnetsOf(n), noPool, { family: "ipv6", wrongFamily: `a container's IPv4 address goes in ${path}.ip` }),
        ...(v6.length > 0 && n.poolsComplete
            ? { ip6Required: `is required: ${n.path} has an IPv6 pool (${v6[0].subnet.toString()}), and without a pinned address each host's engine picks the pool's first free one, the same on every host` }
            : {}),
    };
}

/**
 * A container's `networks`: the further macvlan networks it joins on its host, each
 * `{network, ip, mac?}`. Read here on their own (types and syntax); cross.ts resolves them against
 * the stack's networks.
 */
function checkJoins(p: Problems, map: RawMap, c: CheckedContainer): void {
    const list = readField(p, map, "networks", c.path, JOIN_LIST);
    list?.forEach((raw, k) => {
        const at = `${c.path}.networks[${k}]`;
        const entry = readEntry(p, raw, at, JOIN_KEYS, "a joined network");
        if (entry === undefined) return;
        const j: CheckedJoin = { path: at, network: readField(p, entry, "network", at, NETWORK_NAME, true) };
        j.ipText = readField(p, entry, "ip", at, STRING, true);
        j.ip6Text = readField(p, entry, "ip6", at, STRING);
        const mac = readField(p, entry, "mac", at, STRING);
        if (mac !== undefined) j.mac = checkValue(p, mac, `${at}.mac`, MAC);
        c.joins.push(j);
    });
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
