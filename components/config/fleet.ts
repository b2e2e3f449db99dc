/**
 * A fleet split into several stacks (README, "Fleets larger than one stack"): each group stack
 * names the other stacks of its fleet in `macvlan:fleet`, reads what they published (their `hosts`
 * and `addressPlan` outputs, through a StackReference: components/stack/program.ts), and checks its
 * own hosts, pools and fixed addresses against theirs, so that duplicate-address and overlapping-pool
 * checks span the whole fleet while each stack file describes only its own hosts.
 *
 * The rules, per LAN segment (the untagged LAN, or a VLAN id, as in `addressPlan`):
 * - a host (by name, and by SSH target) belongs to one stack of the fleet;
 * - an address is held once on a segment across the fleet (a network's gateway and aux addresses
 *   are shared by every stack that has the network, or another network with the same gateway);
 * - a container's MAC is used once on a segment across the fleet;
 * - no engine's dynamic pool overlaps another stack's engine's pool;
 * - no fixed address lies in another stack's engine's pool, unless that engine holds it on that
 *   network (its gateway or an aux address).
 *
 * Pure: no resource imports. Linear: each segment's pools are sorted once and every address is
 * looked up by binary search (1,000 hosts in 10 stacks: test/unit/fleetPeers.test.ts).
 */
import { parseAddress, parseCidr, POOL_FAMILIES, type Address, type Cidr } from "../net/addr";
import { segmentLabel, segmentName, sshTarget } from "../net/names";
import type { CheckedHost } from "./hosts";
import type { CheckedNetwork } from "./networks";
import { entryLabel, type Problems } from "./problems";
import { isMap } from "./read";
import { fixedAddresses, heldOnNetwork, lowerBound, pools, type Fixed, type Pool } from "./slices";

/** One engine's IPv4 pool in another stack. */
interface PeerPool {
    readonly network: string;
    readonly host: string;
    readonly block: Cidr;
}

/** What another stack published about one segment. */
interface PeerSegment {
    /** Fixed addresses by canonical text: who holds each (`gateway of vlan10; aux r1 of vlan10`). */
    readonly fixed: ReadonlyMap<string, string>;
    /** The fixed addresses parsed, for the pool lookups. */
    readonly addresses: readonly { readonly address: Address; readonly holders: string }[];
    /** Containers' MACs: who holds each. */
    readonly macs: ReadonlyMap<string, string>;
    /** Each engine's IPv4 pools (slices, ipRanges or subnets). IPv6 pools are not sliced: every container pins its ip6. */
    readonly pools: readonly PeerPool[];
}

/** Another stack of the fleet, as read from its outputs. */
export interface FleetPeer {
    /** The stack's name as written in `macvlan:fleet` (`org/project/stack`, or a name in the same project). */
    readonly stack: string;
    /** Where it is named: `fleet[1]`. */
    readonly path: string;
    /** Its hosts, by name. */
    readonly hosts: ReadonlySet<string>;
    /** Its hosts' SSH targets (`<address lower case> port <port>`): the host's name. */
    readonly targets: ReadonlyMap<string, string>;
    /** Its segments, by `addressPlan` key (`untagged`, `vlan10`). */
    readonly segments: ReadonlyMap<string, PeerSegment>;
}

/** A stack name as `pulumi stack` and StackReference take it: `stack`, `project/stack` or `org/project/stack`. */
const STACK_NAME = /^(?:[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\/){0,2}[A-Za-z0-9_.-]{1,100}$/;

/**
 * The value of `macvlan:fleet`: a list of the other stacks of the fleet, each named once and none
 * of them this stack. Unset: an empty list (a stack of its own).
 */
export function checkFleetKey(p: Problems, raw: unknown, own: { readonly project: string; readonly stack: string }): { readonly stack: string; readonly path: string }[] {
    if (raw === undefined || raw === null) return [];
    if (!Array.isArray(raw)) {
        p.wrongType("fleet", raw, "a list of stack names");
        return [];
    }
    const out: { stack: string; path: string }[] = [];
    const seen = new Set<string>();
    raw.forEach((v: unknown, i) => {
        const path = `fleet[${i}]`;
        if (typeof v !== "string" || !STACK_NAME.test(v)) {
            p.add(path, v, "is not a stack name (`stack`, `project/stack` or `org/project/stack`: letters, digits, `-`, `_`, `.`)");
            return;
        }
        const parts = v.split("/");
        const [stack, project] = [parts[parts.length - 1], parts.length >= 2 ? parts[parts.length - 2] : own.project];
        if (stack === own.stack && project === own.project) {
            p.add(path, v, "is this stack: macvlan:fleet lists the other stacks of the fleet");
            return;
        }
        if (seen.has(v)) {
            p.add(path, v, "is listed twice");
            return;
        }
        seen.add(v);
        out.push({ stack: v, path });
    });
    return out;
}

/** A map's own string values, or undefined when `v` is not a map of strings. */
function stringMap(v: unknown): Map<string, string> | undefined {
    if (!isMap(v)) return undefined;
    const out = new Map<string, string>();
    for (const [k, x] of Object.entries(v)) {
        if (typeof x !== "string") return undefined;
        out.set(k, x);
    }
    return out;
}

/** One segment of another stack's `addressPlan` output, or a description of what is wrong with it. */
function readPeerSegment(v: unknown): PeerSegment | string {
    if (!isMap(v)) return "a segment is not a map";
    const fixed = stringMap(v["fixed"]);
    if (fixed === undefined) return "a segment's `fixed` is not a map of addresses to holders";
    // `macs` arrived with fleets; a stack deployed by an earlier release has none.
    const macs = v["macs"] === undefined ? new Map<string, string>() : stringMap(v["macs"]);
    if (macs === undefined) return "a segment's `macs` is not a map of MACs to holders";
    const addresses: { address: Address; holders: string }[] = [];
    for (const [text, holders] of fixed) {
        const a = parseAddress(text, POOL_FAMILIES);
        if (!a.ok) return `${JSON.stringify(text)} in a segment's \`fixed\` is not an address`;
        addresses.push({ address: a.value, holders });
    }
    const poolList: PeerPool[] = [];
    const byNetwork: unknown = v["pools"];
    if (!isMap(byNetwork)) return "a segment's `pools` is not a map";
    for (const [network, byHost] of Object.entries(byNetwork)) {
        if (!isMap(byHost)) return `pools of ${network} are not a map of hosts`;
        for (const [host, blocks] of Object.entries(byHost)) {
            if (!Array.isArray(blocks)) return `pools of ${network} on ${host} are not a list`;
            for (const b of blocks as unknown[]) {
                const c = typeof b === "string" ? parseCidr(b, POOL_FAMILIES) : undefined;
                if (c === undefined || !c.ok) return `pool ${JSON.stringify(b)} of ${network} on ${host} is not a CIDR block`;
                if (c.value.family === "ipv4") poolList.push({ network, host, block: c.value });
            }
        }
    }
    return { fixed, addresses, macs, pools: poolList };
}

/**
 * Another stack of the fleet from its `hosts` and `addressPlan` outputs (as a StackReference reads
 * them). A stack without them (not deployed yet, or not a stack of this program) is a problem at
 * `path`, which names it.
 */
export function readFleetPeer(p: Problems, path: string, stack: string, outputs: { readonly hosts: unknown; readonly addressPlan: unknown }): FleetPeer | undefined {
    const where = `stack ${stack}`;
    if (outputs.addressPlan === undefined || outputs.hosts === undefined) {
        const missing = [outputs.hosts === undefined ? "hosts" : undefined, outputs.addressPlan === undefined ? "addressPlan" : undefined].filter((x) => x !== undefined);
        p.add(path, stack, `has no ${missing.join(" and no ")} output: run \`pulumi up\` on ${where} first (a stack joins macvlan:fleet once it is deployed), or remove it from macvlan:fleet`);
        return undefined;
    }
    if (!isMap(outputs.hosts)) {
        p.add(path, stack, "publishes a `hosts` output that is not a map of host names: is it a stack of this program?");
        return undefined;
    }
    if (!isMap(outputs.addressPlan)) {
        p.add(path, stack, "publishes an `addressPlan` output that is not a map of segments: is it a stack of this program?");
        return undefined;
    }
    const segments = new Map<string, PeerSegment>();
    for (const [name, seg] of Object.entries(outputs.addressPlan)) {
        const read = readPeerSegment(seg);
        if (typeof read === "string") {
            p.add(path, stack, `publishes an addressPlan this program cannot read (${name}: ${read})`);
            return undefined;
        }
        segments.set(name, read);
    }
    const targets = new Map<string, string>();
    for (const [name, h] of Object.entries(outputs.hosts)) {
        if (isMap(h) && typeof h["address"] === "string" && typeof h["port"] === "number") targets.set(sshTarget(h["address"], h["port"]), name);
    }
    return { stack, path, hosts: new Set(Object.keys(outputs.hosts)), targets, segments };
}

/** The VLAN id of a segment key (config/slices.ts's `untagged` or the id), or undefined for the untagged LAN. */
function vlanOfKey(key: string): number | undefined {
    return key === "untagged" ? undefined : Number(key);
}

/** IPv4 blocks sorted by their first address, to find those that overlap a range without a scan. */
class Spans<T> {
    private readonly items: readonly { readonly start: bigint; readonly end: bigint; readonly item: T }[];
    private readonly starts: readonly bigint[];
    /** The largest end among items[0..i]. */
    private readonly maxEnd: readonly bigint[];

    constructor(list: readonly T[], block: (item: T) => Cidr) {
        this.items = list
            .map((item) => {
                const b = block(item);
                const start = b.first().value;
                return { start, end: start + b.size - 1n, item };
            })
            .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
        this.starts = this.items.map((x) => x.start);
        const maxEnd: bigint[] = [];
        for (const x of this.items) {
            const before = maxEnd[maxEnd.length - 1];
            maxEnd.push(before === undefined || x.end > before ? x.end : before);
        }
        this.maxEnd = maxEnd;
    }

    /** The items that overlap [lo, hi], in address order. */
    overlapping(lo: bigint, hi: bigint): T[] {
        const out: T[] = [];
        for (let j = lowerBound(this.starts, hi + 1n) - 1; j >= 0 && this.maxEnd[j] >= lo; j--) {
            const x = this.items[j];
            if (x !== undefined && x.end >= lo) out.push(x.item);
        }
        return out.reverse();
    }
}

/** Another stack's plan of the segment being checked. */
interface PeerOnSegment {
    readonly peer: FleetPeer;
    readonly seg: PeerSegment;
}

/** One engine's pool in another stack, with that stack's plan of the segment. */
interface PeerPoolOnSegment extends PeerOnSegment {
    readonly pool: PeerPool;
}

/** A holder text of another stack's plan names a network's shared address: its gateway or an aux address. */
function sharedHolder(holder: string): boolean {
    return holder.startsWith("gateway of ") || holder.startsWith("aux ");
}

/** True when `holders` (another stack's, `; `-joined) say that engine holds the address on `network` (its gateway or aux address). */
function heldOnPeerNetwork(holders: string | undefined, network: string): boolean {
    return (holders ?? "").split("; ").some((h) => h === `gateway of ${network}` || (h.startsWith("aux ") && h.endsWith(` of ${network}`)));
}

/** Where a problem sends the user: the other stack and its place in macvlan:fleet. */
function inStack(peer: FleetPeer): string {
    return `stack ${peer.stack} (${peer.path})`;
}

/** The rules across the stacks of a fleet, on what passed each entry's own checks (see the file comment). */
export function checkFleet(p: Problems, hosts: readonly CheckedHost[], networks: readonly CheckedNetwork[], peers: readonly FleetPeer[]): void {
    if (peers.length === 0) return;
    for (const h of hosts) {
        if (h.name === undefined) continue;
        for (const peer of peers) {
            if (peer.hosts.has(h.name)) p.add(`${h.path}.name`, h.name, `is also a host of ${inStack(peer)}: a host belongs to one stack of the fleet`);
            const other = h.address === undefined ? undefined : peer.targets.get(sshTarget(h.address, h.port));
            if (other !== undefined && h.address !== undefined) {
                p.add(`${h.path}.address`, h.address, `with port ${h.port} is also the SSH target of host ${other} in ${inStack(peer)}: describe each machine once across the fleet`);
            }
        }
    }
    const ownPools = pools(networks);
    const ownFixed = fixedAddresses(hosts, networks);
    const keys = new Set([...ownPools.keys(), ...ownFixed.keys()]);
    for (const key of [...keys].sort()) {
        const segs = peers.flatMap((peer) => {
            const seg = peer.segments.get(segmentName(vlanOfKey(key)));
            return seg === undefined ? [] : [{ peer, seg }];
        });
        if (segs.length === 0) continue;
        // The other stacks' pools on the segment, sorted once for both rules.
        const peerPools = new Spans(
            segs.flatMap(({ peer, seg }) => seg.pools.map((pool) => ({ peer, seg, pool }))),
            (x) => x.pool.block,
        );
        checkFixed(p, ownFixed.get(key) ?? [], segs, peerPools, vlanOfKey(key));
        checkPools(p, ownPools.get(key) ?? [], segs, peerPools);
    }
    checkMacs(p, networks, peers);
}

/** Rules: an own fixed address is not held in another stack (unless both are a network's shared address), nor inside another stack's engine's pool. */
function checkFixed(p: Problems, fixed: readonly Fixed[], segs: readonly PeerOnSegment[], peerPools: Spans<PeerPoolOnSegment>, vlan: number | undefined): void {
    for (const f of fixed) {
        const text = f.address.toString();
        const shared = f.kind === "gateway" || f.kind === "aux";
        for (const { peer, seg } of segs) {
            const holders = seg.fixed.get(text);
            if (holders === undefined || (shared && holders.split("; ").every(sharedHolder))) continue;
            p.add(f.path, text, `is ${f.what}, and ${inStack(peer)} holds it too on ${segmentLabel(vlan)} (${holders}): an address is held once on a LAN segment across the fleet`);
        }
        if (f.address.family !== "ipv4") continue;
        for (const { peer, seg, pool } of peerPools.overlapping(f.address.value, f.address.value)) {
            if (heldOnPeerNetwork(seg.fixed.get(text), pool.network)) continue;
            p.add(
                f.path,
                text,
                `is ${f.what} and lies inside ${pool.block.toString()}, the pool of host ${pool.host}'s engine on ${pool.network} in ${inStack(peer)}: that engine could hand it out; choose an address outside every engine's pool of the fleet`,
            );
        }
    }
}

/** Rules: an own engine's pool overlaps no other stack's engine's pool, and holds no address fixed in another stack (unless it is this network's gateway or aux address). */
function checkPools(p: Problems, own: readonly Pool[], segs: readonly PeerOnSegment[], peerPools: Spans<PeerPoolOnSegment>): void {
    if (own.length === 0) return;
    for (const mine of own) {
        const first = mine.block.first().value;
        for (const { peer, pool } of peerPools.overlapping(first, first + mine.block.size - 1n)) {
            p.add(
                mine.path,
                mine.block.toString(),
                `overlaps ${pool.block.toString()}, the pool of host ${pool.host}'s engine on ${pool.network} in ${inStack(peer)}: two engines could hand out the same address; give each host of the fleet its own slot`,
            );
        }
    }
    const ownSpans = new Spans(own, (x) => x.block);
    const held = new Map<CheckedNetwork, ReadonlySet<bigint>>();
    for (const { peer, seg } of segs) {
        for (const { address, holders } of seg.addresses) {
            if (address.family !== "ipv4") continue;
            for (const mine of ownSpans.overlapping(address.value, address.value)) {
                const n = mine.network;
                let onNetwork = held.get(n);
                if (onNetwork === undefined) {
                    onNetwork = heldOnNetwork(n);
                    held.set(n, onNetwork);
                }
                if (onNetwork.has(address.value) || (n.name !== undefined && heldOnPeerNetwork(holders, n.name))) continue;
                p.add(
                    mine.path,
                    mine.block.toString(),
                    `holds ${address.toString()}, which ${inStack(peer)} fixes (${holders}): host ${mine.host}'s engine could hand it out on ${entryLabel(n)}; move the slot, or choose another address there`,
                );
            }
        }
    }
}

/** Rule: a container's MAC is used once on a segment across the fleet (a MAC derived from a duplicate ip is that ip's problem). */
function checkMacs(p: Problems, networks: readonly CheckedNetwork[], peers: readonly FleetPeer[]): void {
    for (const n of networks) {
        if (!n.vlanOk) continue;
        const segName = segmentName(n.vlan);
        for (const peer of peers) {
            const seg = peer.segments.get(segName);
            if (seg === undefined) continue;
            for (const c of n.containers) {
                if (c.mac === undefined) continue;
                const holders = seg.macs.get(c.mac);
                if (holders === undefined) continue;
                if (c.macDerived && c.ip !== undefined && seg.fixed.has(c.ip.toString())) continue;
                p.addBare(
                    `${c.path}.mac`,
                    `${c.mac}${c.macDerived ? " (derived from its ip)" : ""} is also used in ${inStack(peer)} on ${segmentLabel(n.vlan)} (${holders}): a MAC is used once on a LAN segment across the fleet`,
                );
            }
        }
    }
}
