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
import type { NetworkModel, StackModel } from "../config/model";
import { isIpv4Literal } from "../net/patterns";

/** The `ipRange` host `host`'s Docker network gets for network `n`: its slice, else the network's ipRange, else none (the whole subnet). */
export function hostIpRange(n: NetworkModel, host: string): string | undefined {
    return n.slices?.[host] ?? n.ipam[0]?.ipRange;
}

/** One segment of the plan (stack output `addressPlan.<segment>`). */
export interface SegmentPlan {
    /** `null` for the untagged LAN, else the VLAN id. */
    readonly vlan: number | null;
    /** The subnets of the networks on the segment, sorted, each once. */
    readonly subnets: readonly string[];
    /** Per network, per host: the block that host's engine hands out from (its slice, the ipRange, or the whole subnet). */
    readonly pools: Readonly<Record<string, Readonly<Record<string, string>>>>;
    /** Fixed addresses on the segment, by address: who holds each (sorted by address; several holders joined by `; `). */
    readonly fixed: Readonly<Record<string, string>>;
}

/** The segment key in the output: `untagged` or `vlan<id>`. */
export function segmentName(vlan: number | undefined): string {
    return vlan === undefined ? "untagged" : `vlan${vlan}`;
}

function ipv4Value(a: string): number {
    return a.split(".").reduce((v, o) => v * 256 + Number(o), 0);
}

/** The address plan of every segment that carries a network, by segment name (`untagged`, `vlan50`). */
export function addressPlan(model: StackModel): Record<string, SegmentPlan> {
    const segs = new Map<string, { vlan: number | undefined; subnets: Set<string>; pools: Record<string, Record<string, string>>; fixed: Map<string, string[]> }>();
    const seg = (vlan: number | undefined) => {
        const key = segmentName(vlan);
        let s = segs.get(key);
        if (s === undefined) {
            s = { vlan, subnets: new Set(), pools: {}, fixed: new Map() };
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
        const pool = n.ipam[0];
        for (const p of n.ipam) s.subnets.add(p.subnet);
        s.pools[n.name] = Object.fromEntries(n.hosts.map((h) => [h, hostIpRange(n, h) ?? pool.subnet]));
    }
    const vlanOf = new Map(model.networks.map((n) => [n.name, n.vlan]));
    for (const n of model.networks) {
        for (const p of n.ipam) if (p.gateway !== undefined) hold(n.vlan, p.gateway, `gateway of ${n.name}`);
        for (const [k, a] of Object.entries(n.auxAddresses)) hold(n.vlan, a, `aux ${k} of ${n.name}`);
        // A container holds an address on each of its networks: this one, and those it joins.
        for (const c of n.containers) {
            for (const att of c.attachments) hold(vlanOf.get(att.network), att.ipv4Address, `container ${c.name} of ${att.network} on ${c.host}`);
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
        for (const a of [...s.fixed.keys()].sort((x, y) => ipv4Value(x) - ipv4Value(y))) fixed[a] = [...new Set(s.fixed.get(a))].join("; ");
        out[key] = { vlan: s.vlan ?? null, subnets: [...s.subnets].sort(), pools: s.pools, fixed };
    }
    return out;
}
