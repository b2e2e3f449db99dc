/**
 * The address plan of each LAN segment (pure, no resource imports): which block each host's engine
 * hands out addresses from on each network, and which addresses are fixed there. Computed from the
 * validated model (config/slices.ts holds the rules that make it safe); MacvlanNetwork gets each
 * host's pool as that host's `ipRange`, and the program exports the plan as the `addressPlan`
 * stack output.
 *
 * Stability: a host's pool on a network is a function of that network's entry and that host's name
 * only (`hostIpRange`): its slice when the network has `slices`, else the network's `ipRange`.
 * Nothing is derived from the order or the number of hosts, so adding a host, removing one, or
 * reordering them leaves every other host's Docker network inputs as they were.
 */
import type { IpamPoolModel, NetworkModel, StackModel } from "../config/model";
import { parseAddress, parseCidr, POOL_FAMILIES } from "../net/addr";
import { segmentName } from "../net/names";
import { isIpv4Literal } from "../net/patterns";

/**
 * The `ipRange` host `host`'s Docker network gets for network `n`'s pool that slices divide (its
 * one IPv4 pool, config/networks.ts): its slice, else that pool's ipRange, else none (the whole subnet).
 */
export function hostIpRange(n: NetworkModel, host: string): string | undefined {
    return n.slices?.[host] ?? n.ipam.find((p) => {
        const s = parseCidr(p.subnet, POOL_FAMILIES);
        return s.ok && s.value.family === "ipv4";
    })?.ipRange;
}

/** True when `block` (a CIDR) lies inside the pool's subnet. */
function inPool(pool: IpamPoolModel, block: string): boolean {
    const s = parseCidr(pool.subnet, POOL_FAMILIES);
    const b = parseCidr(block, POOL_FAMILIES);
    return s.ok && b.ok && s.value.contains(b.value);
}

/**
 * The blocks host `host`'s engine hands out from on network `n`, one per pool in ipam order: the
 * host's slice for the pool that holds it, else the pool's ipRange, else its whole subnet.
 */
export function hostPools(n: NetworkModel, host: string): string[] {
    const slice = n.slices?.[host];
    return n.ipam.map((p) => (slice !== undefined && inPool(p, slice) ? slice : (p.ipRange ?? p.subnet)));
}

/** One segment of the plan (stack output `addressPlan.<segment>`). */
export interface SegmentPlan {
    /** `null` for the untagged LAN, else the VLAN id. */
    readonly vlan: number | null;
    /** The subnets of the networks on the segment, sorted, each once. */
    readonly subnets: readonly string[];
    /**
     * Per network, per host: the blocks that host's engine hands out from, one per IPAM pool in the
     * network's order (IPv4 and IPv6): its slice, the pool's ipRange, or the pool's whole subnet.
     */
    readonly pools: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;
    /** Fixed addresses on the segment, by address: who holds each (IPv4 first, each family sorted by address; several holders joined by `; `). */
    readonly fixed: Readonly<Record<string, string>>;
    /** The containers' MAC addresses on the segment (configured or derived), sorted: who holds each. */
    readonly macs: Readonly<Record<string, string>>;
}

/** Orders address texts: IPv4 before IPv6, then by value. */
function byAddress(x: string, y: string): number {
    const a = parseAddress(x, POOL_FAMILIES);
    const b = parseAddress(y, POOL_FAMILIES);
    if (!a.ok || !b.ok) return x < y ? -1 : x > y ? 1 : 0;
    if (a.value.family !== b.value.family) return a.value.family === "ipv4" ? -1 : 1;
    return a.value.value < b.value.value ? -1 : a.value.value > b.value.value ? 1 : 0;
}

/** The address plan of every segment that carries a network, by segment name (`untagged`, `vlan50`). */
export function addressPlan(model: StackModel): Record<string, SegmentPlan> {
    const segs = new Map<
        string,
        { vlan: number | undefined; subnets: Set<string>; pools: Record<string, Record<string, string[]>>; fixed: Map<string, string[]>; macs: Map<string, string[]> }
    >();
    const seg = (vlan: number | undefined) => {
        const key = segmentName(vlan);
        let s = segs.get(key);
        if (s === undefined) {
            s = { vlan, subnets: new Set(), pools: {}, fixed: new Map(), macs: new Map() };
            segs.set(key, s);
        }
        return s;
    };
    const hold = (vlan: number | undefined, address: string, who: string) => {
        const s = segs.get(segmentName(vlan));
        if (s === undefined) return; // no network on that segment: nothing to plan
        s.fixed.set(address, [...(s.fixed.get(address) ?? []), who]);
    };
    for (const n of model.networks) {
        const s = seg(n.vlan);
        for (const p of n.ipam) s.subnets.add(p.subnet);
        s.pools[n.name] = Object.fromEntries(n.hosts.map((h) => [h, hostPools(n, h)]));
    }
    const vlanOf = new Map(model.networks.map((n) => [n.name, n.vlan]));
    for (const n of model.networks) {
        for (const p of n.ipam) if (p.gateway !== undefined) hold(n.vlan, p.gateway, `gateway of ${n.name}`);
        for (const [k, a] of Object.entries(n.auxAddresses)) hold(n.vlan, a, `aux ${k} of ${n.name}`);
        for (const c of n.containers) {
            // A container holds its addresses and a MAC on each of its networks: this one, and those it joins.
            for (const att of c.attachments) {
                const vlan = vlanOf.get(att.network);
                const who = `container ${c.name} of ${att.network} on ${c.host}`;
                hold(vlan, att.ipv4Address, who);
                if (att.ipv6Address !== undefined) hold(vlan, att.ipv6Address, who);
                const s = segs.get(segmentName(vlan));
                if (s !== undefined) s.macs.set(att.mac, [...(s.macs.get(att.mac) ?? []), who]);
            }
        }
    }
    for (const h of model.hosts) {
        if (h.shim !== undefined) hold(h.shim.vlan, h.shim.address, `shim of host ${h.name}`);
        if (isIpv4Literal(h.address)) hold(undefined, h.address, `host ${h.name}`);
    }
    const out: Record<string, SegmentPlan> = {};
    for (const key of [...segs.keys()].sort()) {
        const s = segs.get(key) as NonNullable<ReturnType<typeof segs.get>>;
        const fixed: Record<string, string> = {};
        for (const a of [...s.fixed.keys()].sort(byAddress)) fixed[a] = [...new Set(s.fixed.get(a))].join("; ");
        const macs: Record<string, string> = {};
        for (const m of [...s.macs.keys()].sort()) macs[m] = [...new Set(s.macs.get(m))].join("; ");
        out[key] = { vlan: s.vlan ?? null, subnets: [...s.subnets].sort(), pools: s.pools, fixed, macs };
    }
    return out;
}
