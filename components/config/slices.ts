/**
 * The rules of a LAN segment's address plan, for networks with per-host `slices`: each host's
 * engine hands out addresses only from its own slice, so every engine's dynamic pool on a segment
 * must be disjoint from every other engine's, no fixed address may lie in a pool where that engine
 * could hand it out, and each slice must leave its engine an address to hand out. Run by
 * checkSegments (segments.ts) on what passed each entry's own checks. Pure: no resource imports.
 *
 * A network without `slices` spans one host (checkSlicedSpan), whose engine gets the network's
 * `ipRange` (or its whole subnet): that pool must be disjoint from every other engine's on the
 * segment too.
 */
import { broadcastAddress, networkAddress, parseAddress, sliceAt, type Address, type Cidr } from "../net/addr";
import { segmentKey, segmentLabel } from "../net/names";
import { isIpv4Literal } from "../net/patterns";
import type { CheckedHost } from "./hosts";
import { poolsOf, type CheckedNetwork } from "./networks";
import { entryLabel as label, type Problems } from "./problems";

/** One engine's dynamic pool on a segment: what Docker on `host` may hand out on network `network`. */
export interface Pool {
    readonly network: CheckedNetwork;
    readonly host: string;
    readonly block: Cidr;
    /** The subnet of the IPAM pool the block belongs to. */
    readonly subnet: Cidr;
    /** Where the pool is configured: the slice, the pool's ipRange, or its subnet. */
    readonly path: string;
    readonly sliced: boolean;
}

/** An address someone holds on a segment. */
export interface Fixed {
    readonly address: Address;
    readonly path: string;
    /** `the gateway of networks[0] (pub_net)`, … */
    readonly what: string;
    /** The network whose gateway or aux address it is, or whose container has it. */
    readonly network?: CheckedNetwork;
    readonly kind: "gateway" | "aux" | "shim" | "container" | "ssh";
    /** The container's host. */
    readonly host?: string;
}

/**
 * Each engine's dynamic IPv4 pools, by segment key: per IPv4 pool of a network, per host. A sliced
 * network has one IPv4 pool (networks.ts); its host without a valid slice has none (its problem is
 * reported). IPv6 pools have no slices: every container pins its ip6 (networks.ts).
 */
export function pools(networks: readonly CheckedNetwork[]): Map<string, Pool[]> {
    const out = new Map<string, Pool[]>();
    for (const n of networks) {
        const v4 = poolsOf(n, "ipv4");
        if (!n.vlanOk || v4.length === 0) continue;
        const list = out.get(segmentKey(n.vlan)) ?? [];
        const sliceOf = new Map((n.slices ?? []).map((x) => [x.host, x] as const));
        for (const host of n.hosts) {
            if (n.slices !== undefined) {
                const s = sliceOf.get(host);
                if (s !== undefined) list.push({ network: n, host, block: s.block, subnet: v4[0].subnet, path: s.path, sliced: true });
                continue;
            }
            for (const pool of v4) {
                if (pool.ipRange !== undefined) list.push({ network: n, host, block: pool.ipRange, subnet: pool.subnet, path: `${pool.path}.ipRange`, sliced: false });
                else list.push({ network: n, host, block: pool.subnet, subnet: pool.subnet, path: `${pool.path}.subnet`, sliced: false });
            }
        }
        out.set(segmentKey(n.vlan), list);
    }
    return out;
}

/** Every fixed address, by segment key: gateways, aux addresses, shims, pinned containers (ip and ip6), hosts' SSH addresses (untagged). */
export function fixedAddresses(hosts: readonly CheckedHost[], networks: readonly CheckedNetwork[]): Map<string, Fixed[]> {
    const out = new Map<string, Fixed[]>();
    const put = (vlan: number | undefined, f: Fixed) => {
        const list = out.get(segmentKey(vlan)) ?? [];
        list.push(f);
        out.set(segmentKey(vlan), list);
    };
    for (const n of networks) {
        if (!n.vlanOk) continue;
        for (const pool of n.pools) {
            if (pool.gateway !== undefined) put(n.vlan, { address: pool.gateway, path: `${pool.path}.gateway`, what: `the gateway of ${label(n)}`, network: n, kind: "gateway" });
        }
        for (const a of n.aux) {
            if (a.address !== undefined) put(n.vlan, { address: a.address, path: a.path, what: `reserved as ${a.path}`, network: n, kind: "aux" });
        }
        for (const c of n.containers) {
            if (c.ip !== undefined && c.host !== undefined) {
                put(n.vlan, { address: c.ip, path: `${c.path}.ip`, what: `container ${c.name ?? c.path} of ${label(n)} on host ${c.host}`, network: n, kind: "container", host: c.host });
            }
            // (IPv6: never in a slice, which is IPv4; listed for the fleet's checks, config/fleet.ts.)
            if (c.ip6 !== undefined && c.host !== undefined) {
                put(n.vlan, { address: c.ip6, path: `${c.path}.ip6`, what: `container ${c.name ?? c.path} of ${label(n)} on host ${c.host}`, network: n, kind: "container", host: c.host });
            }
        }
    }
    for (const h of hosts) {
        if (h.shim?.address !== undefined && h.shim.vlanOk) {
            put(h.shim.vlan, { address: h.shim.address, path: `${h.shim.path}.address`, what: `the shim of host ${h.name ?? h.path}`, kind: "shim" });
        }
        if (h.address !== undefined && isIpv4Literal(h.address)) {
            const a = parseAddress(h.address);
            if (a.ok) put(undefined, { address: a.value, path: `${h.path}.address`, what: `the LAN address of host ${h.name ?? h.path}`, kind: "ssh" });
        }
    }
    return out;
}

/**
 * What an engine holds already on a network, whatever the host: the gateways and aux addresses of
 * its pools, by value (computed once per network, not once per pool and fixed address).
 */
type HeldOnNetwork = ReadonlySet<bigint>;

export function heldOnNetwork(n: CheckedNetwork): HeldOnNetwork {
    const held = new Set<bigint>();
    for (const x of n.pools) if (x.gateway !== undefined && x.gateway.family === "ipv4") held.add(x.gateway.value);
    for (const a of n.aux) if (a.address !== undefined && a.address.family === "ipv4") held.add(a.address.value);
    return held;
}

/** True when Docker on the pool's host holds `f` already on the pool's network, so it never hands it out. */
function heldByEngine(pool: Pool, f: Fixed, onNetwork: HeldOnNetwork): boolean {
    const subnet = pool.subnet;
    if (f.address.equals(networkAddress(subnet))) return true;
    const broadcast = broadcastAddress(subnet);
    if (broadcast !== undefined && f.address.equals(broadcast)) return true;
    if (f.address.family === "ipv4" && onNetwork.has(f.address.value)) return true;
    // A container of this network on this host holds its own address on this engine.
    return f.kind === "container" && f.network === pool.network && f.host === pool.host;
}

/** A segment's fixed IPv4 addresses sorted by value (with their place in config order), to find those inside a block without a scan. */
interface SortedFixed {
    readonly values: readonly bigint[];
    readonly entries: ReadonlyArray<{ readonly order: number; readonly fixed: Fixed }>;
}

function sortFixed(fixed: readonly Fixed[]): SortedFixed {
    const entries = fixed
        .map((f, order) => ({ order, fixed: f }))
        .filter((e) => e.fixed.address.family === "ipv4")
        .sort((a, b) => (a.fixed.address.value < b.fixed.address.value ? -1 : a.fixed.address.value > b.fixed.address.value ? 1 : a.order - b.order));
    return { values: entries.map((e) => e.fixed.address.value), entries };
}

/** The first index whose value is at least `v`. */
export function lowerBound(values: readonly bigint[], v: bigint): number {
    let lo = 0;
    let hi = values.length;
    while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((values[mid]) < v) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/** The fixed addresses inside `block`, in config order: a binary search instead of a scan of the whole segment. */
function fixedInside(block: Cidr, sorted: SortedFixed): Fixed[] {
    const first = block.first().value;
    const from = lowerBound(sorted.values, first);
    const to = lowerBound(sorted.values, first + block.size);
    return sorted.entries
        .slice(from, to)
        .sort((a, b) => a.order - b.order)
        .map((e) => e.fixed);
}

/** The rules of each segment's address plan, in the order their problems are reported. */
export function checkSlicePlan(p: Problems, hosts: readonly CheckedHost[], networks: readonly CheckedNetwork[]): void {
    for (const n of networks) checkSlicedSpan(p, n);
    const bySegment = pools(networks);
    const fixed = fixedAddresses(hosts, networks);
    const held = new Map(networks.map((n) => [n, heldOnNetwork(n)]));
    for (const [seg, list] of bySegment) {
        checkDisjointPools(p, list);
        // Slices are IPv4 blocks: only the fixed IPv4 addresses inside one can break its rules.
        const sorted = sortFixed(fixed.get(seg) ?? []);
        for (const pool of list.filter((x) => x.sliced)) {
            const inside = fixedInside(pool.block, sorted);
            const onNetwork = held.get(pool.network) ?? heldOnNetwork(pool.network);
            checkFixedOutside(p, pool, inside, onNetwork);
            checkCapacity(p, pool, inside, onNetwork);
        }
    }
}

/**
 * Rule: a network that spans several hosts has `slices`. Without them every host's engine hands
 * out addresses from the same range (the network's ipRange, or its whole subnet), each on its own,
 * so two engines could give two containers on one LAN the same address. The problem suggests
 * slices: slot numbers in the ipRange, or, without one, in the upper half of the subnet (clear of
 * a gateway at the bottom); the other rules then hold them to the fixed addresses.
 */
function checkSlicedSpan(p: Problems, n: CheckedNetwork): void {
    const v4 = poolsOf(n, "ipv4");
    if (n.slicesWritten || n.hosts.length < 2 || v4.length === 0 || !n.poolsComplete || !n.vlanOk) return;
    const spans = `${label(n)} spans hosts ${n.hosts.join(", ")}`;
    if (v4.length > 1) {
        p.addBare(
            n.path,
            `has ${v4.length} IPv4 pools and spans hosts ${n.hosts.join(", ")}: each host's engine would hand out addresses on its own from the same pools, and slices divide one IPv4 pool; give each host its own network, or keep one IPv4 pool and slice it`,
        );
        return;
    }
    const pool = v4[0];
    const within = pool.ipRange ?? sliceAt(pool.subnet, pool.subnet.prefix + 1, 1n);
    const bits = Math.ceil(Math.log2(n.hosts.length));
    const size = within === undefined ? undefined : within.prefix + bits;
    const slots = n.hosts.map((h, i) => `${h}: ${i}`).join(", ");
    const example =
        within === undefined || size === undefined || size > within.bits
            ? ""
            : ` (e.g. ${pool.ipRange === undefined ? `ipRange: ${within.toString()}, ` : ""}sliceSize: ${size}, slices: {${slots}})`;
    const from = pool.ipRange === undefined ? `its whole subnet ${pool.subnet.toString()}` : `the same ipRange ${pool.ipRange.toString()}`;
    p.addBare(
        `${n.path}.slices`,
        `is required: ${spans}, and each host's engine hands out addresses on its own from ${from}, so two engines could give two containers the same address; give each host its own slice of the dynamic range${example}`,
    );
}

/**
 * Rule: an engine's dynamic pool (a slice, or an unsliced network's ipRange or subnet) does not
 * overlap the dynamic pool of another host's engine on its segment. Slices of one network are checked against each
 * other with the entry (networks.ts); networks on one host share a parent, whose rule refuses any
 * overlap (cross.ts).
 */
function checkDisjointPools(p: Problems, list: readonly Pool[]): void {
    for (let i = 0; i < list.length; i++) {
        for (let j = i + 1; j < list.length; j++) {
            const a = list[i];
            const b = list[j];
            // (Pools of one network on several hosts are a missing `slices`: checkSlicedSpan.)
            if (a.host === b.host || a.network === b.network || !a.block.overlaps(b.block)) continue;
            const [mine, other] = b.sliced || !a.sliced ? [b, a] : [a, b];
            const fix = mine.sliced ? "make the slices disjoint from every other engine's pool" : `give ${mine.path.replace(/\.(ipRange|subnet)$/, ".ipRange")} a block disjoint from every other engine's pool, or slices`;
            p.add(
                mine.path,
                mine.block.toString(),
                `overlaps ${other.path} ${other.block.toString()}, the dynamic pool of host ${other.host}'s engine on ${label(other.network)} (${segmentLabel(other.network.vlan)}): two engines could hand out the same address; ${fix}`,
            );
        }
    }
}

/**
 * Rule: no fixed address of the segment lies in a slice unless that engine holds it already on the
 * network (the network's gateway, network or broadcast address, one of its aux addresses, or a
 * container of that network on that host).
 */
function checkFixedOutside(p: Problems, pool: Pool, fixed: readonly Fixed[], onNetwork: HeldOnNetwork): void {
    for (const f of fixed) {
        if (!pool.block.contains(f.address) || heldByEngine(pool, f, onNetwork)) continue;
        const n = pool.network;
        // A container of this network (on another host) cannot be an aux address of it: that would reserve it on its own host too.
        const fix =
            f.kind === "container" && f.network === n
                ? `choose an address outside the slice (or move the slice)`
                : `list it in ${n.path}.auxAddresses or choose an address outside the slice`;
        p.add(
            f.path,
            f.address.toString(),
            `is ${f.what} and lies inside ${pool.path} ${pool.block.toString()}, host ${pool.host}'s slice of ${label(n)}: that engine could hand it out; ${fix}`,
        );
    }
}

/** Rule: a slice leaves its engine at least one address to hand out, once what the engine holds there is taken away. */
function checkCapacity(p: Problems, pool: Pool, fixed: readonly Fixed[], onNetwork: HeldOnNetwork): void {
    const held = new Set<bigint>();
    const subnet = pool.subnet;
    const candidates: Address[] = [networkAddress(subnet), ...(broadcastAddress(subnet) === undefined ? [] : [broadcastAddress(subnet) as Address])];
    for (const f of fixed) if (heldByEngine(pool, f, onNetwork)) candidates.push(f.address);
    for (const a of candidates) if (pool.block.contains(a)) held.add(a.value);
    if (BigInt(held.size) < pool.block.size) return;
    p.add(
        pool.path,
        pool.block.toString(),
        `leaves host ${pool.host}'s engine no address to hand out on ${label(pool.network)}: all ${pool.block.size} of its addresses are held already (network, broadcast, gateway, aux addresses, pinned containers); make it larger`,
    );
}
