/**
 * The rules of each LAN segment (a network's vlan, or the untagged LAN), across all hosts and
 * networks: one subnet per segment, the hosts' shims, and the addresses and MACs held on it. Run
 * by checkNetworksAcross (cross.ts) on what passed each entry's own checks; a rule skips inputs
 * that already failed their own check, so one mistake gives one message.
 */
import type { Address } from "../net/addr";
import { segmentKey, segmentLabel, segmentLink } from "../net/names";
import { isIpv4Literal } from "../net/patterns";
import type { CheckedHost } from "./hosts";
import { overlappingPools, poolHolding, poolsOf, type CheckedNetwork, type CheckedPool } from "./networks";
import { entryLabel as label, type Problems } from "./problems";
import { reservedInSubnetProblem } from "./rules";
import { checkSlicePlan } from "./slices";

/** The rules of each LAN segment, in the order their problems are reported. */
export function checkSegments(p: Problems, hosts: readonly CheckedHost[], networks: readonly CheckedNetwork[]): void {
    checkSegmentSubnets(p, networks);
    const claims = segmentClaims(hosts, networks);
    checkShims(p, hosts, networks, claims);
    checkSegmentAddresses(p, hosts, networks, claims);
    checkSlicePlan(p, hosts, networks);
}

/**
 * Rule: networks of one segment on different hosts that overlap have the same subnet. One segment
 * is one LAN with one mask: 192.0.2.0/24 on one host and 192.0.2.0/25 on another would disagree
 * on which addresses are on the link and which is the broadcast. (Networks of one segment on one
 * host share its link: checkSharedParents refuses any overlap there.)
 */
function checkSegmentSubnets(p: Problems, networks: readonly CheckedNetwork[]): void {
    for (let i = 0; i < networks.length; i++) {
        for (let j = i + 1; j < networks.length; j++) {
            const a = networks[i];
            const b = networks[j];
            if (!a.vlanOk || !b.vlanOk || a.vlan !== b.vlan || a.hosts.some((h) => b.hosts.includes(h))) continue;
            const pair = overlappingPools(a, b, (pa, pb) => pa.subnet.prefix !== pb.subnet.prefix);
            if (pair === undefined) continue;
            const [pb, pa] = pair;
            p.add(
                `${pb.path}.subnet`,
                pb.subnet.toString(),
                `overlaps ${pa.path}.subnet ${pa.subnet.toString()} on ${segmentLabel(a.vlan)} with another mask; a segment is one LAN with one subnet: give both the same subnet (and split it with ipRange)`,
            );
        }
    }
}

/** An address somebody holds, for collision checks: where it is held and how a problem says so. */
interface Claim {
    readonly path: string;
    readonly phrase: string;
}

/** The addresses held before any container or shim, by `<segment> <address>`. */
interface SegmentClaims {
    /** Gateways and aux addresses; a network's own come first. */
    readonly fixed: ReadonlyMap<string, readonly { network: CheckedNetwork; claim: Claim }[]>;
    /**
     * The hosts' SSH addresses that are IPv4 literals, the first host of each: on the untagged
     * segment only, where a host's own address lives (its parent's untagged LAN). A VLAN is another
     * segment, where a container may have the same address.
     */
    readonly ssh: ReadonlyMap<string, Claim>;
}

function segmentClaims(hosts: readonly CheckedHost[], networks: readonly CheckedNetwork[]): SegmentClaims {
    const fixed = new Map<string, { network: CheckedNetwork; claim: Claim }[]>();
    const put = (key: string, network: CheckedNetwork, claim: Claim) => {
        const list = fixed.get(key) ?? [];
        list.push({ network, claim });
        fixed.set(key, list);
    };
    for (const n of networks) {
        if (!n.vlanOk) continue;
        const seg = segmentKey(n.vlan);
        for (const pool of n.pools) {
            if (pool.gateway !== undefined) put(`${seg} ${pool.gateway.toString()}`, n, { path: `${pool.path}.gateway`, phrase: `is the gateway ${pool.path}.gateway` });
        }
        for (const a of n.aux) {
            if (a.address !== undefined) put(`${seg} ${a.address.toString()}`, n, { path: a.path, phrase: `is reserved as ${a.path}` });
        }
    }
    const ssh = new Map<string, Claim>();
    for (const h of hosts) {
        const key = `${segmentKey(undefined)} ${h.address ?? ""}`;
        if (h.address === undefined || !isIpv4Literal(h.address) || ssh.has(key)) continue;
        ssh.set(key, { path: `${h.path}.address`, phrase: `is the SSH address of host ${h.name ?? h.path} (${h.path}.address)` });
    }
    return { fixed, ssh };
}

/**
 * Rules for each host's shim: its vlan's segment carries a network spanning the host whose subnet
 * holds the address; not on a passthru network's parent; not a network, broadcast or gateway
 * address, nor an SSH address (on the untagged segment) or another host's shim; reserved from Docker's dynamic allocation (outside the
 * ipRange or listed in auxAddresses) on every network of the segment whose subnet holds it.
 */
function checkShims(p: Problems, hosts: readonly CheckedHost[], networks: readonly CheckedNetwork[], claims: SegmentClaims): void {
    const shims = new Map<string, string>();
    for (const h of hosts) {
        const shim = h.shim;
        if (shim?.address === undefined || !shim.vlanOk || h.name === undefined) continue;
        const at = `${shim.path}.address`;
        const addr = shim.address;
        const text = addr.toString();
        const key = `${segmentKey(shim.vlan)} ${text}`;
        const seg = segmentLabel(shim.vlan);
        const sameSegment = networks.filter((n) => n.vlanOk && n.vlan === shim.vlan);
        const here = sameSegment.filter((n) => n.hosts.includes(h.name ?? ""));

        // (A refused passthru on the untagged parent is its own problem, whose fix frees the parent.)
        const passthru = here.find((n) => n.mode === "passthru" && n.modeOk);
        if (passthru !== undefined && h.parent !== undefined) {
            p.add(at, text, `would sit on parent ${segmentLink(h.parent, shim.vlan)}, which passthru network ${label(passthru)} takes whole on host ${h.name}; put the shim on another vlan or remove it`);
            continue;
        }
        // Each network of the segment whose pool holds the shim, with that pool.
        const holders = sameSegment.flatMap((n) => {
            const pool = poolHolding(n, addr);
            return pool === undefined ? [] : [{ n, pool }];
        });
        if (!holders.some((x) => here.includes(x.n))) {
            const subnets = here.flatMap((n) => poolsOf(n, "ipv4").map((x) => x.subnet.toString()));
            const where = subnets.length === 0 ? `: no network on ${seg} spans host ${h.name}` : ` (${subnets.join(", ")})`;
            p.add(at, text, `does not belong to the subnet of any network on ${seg} that spans host ${h.name}${where}`);
            continue;
        }
        const reserved = holders.map((x) => reservedInSubnetProblem(addr, x.pool.subnet)).find((r) => r !== undefined);
        if (reserved !== undefined) {
            p.add(at, text, reserved);
            continue;
        }
        const gateway = (claims.fixed.get(key) ?? []).find((f) => f.claim.path.endsWith(".gateway"));
        const taken = gateway?.claim ?? claims.ssh.get(key);
        if (taken !== undefined) {
            p.add(at, text, taken.phrase);
            continue;
        }
        const earlier = shims.get(key);
        if (earlier !== undefined) {
            p.add(at, text, `is already used by ${earlier} on ${seg}`);
            continue;
        }
        shims.set(key, at);
        for (const { n, pool } of holders) {
            // A network with slices hands out only from its hosts' slices: slices.ts checks those.
            if (n.slices !== undefined || n.aux.some((a) => a.address?.equals(addr) === true)) continue;
            shimInPoolProblem(p, at, addr, h.name, n, pool);
        }
    }
}

/** Rule: a shim in `pool` of network `n` lies outside what Docker may hand out there. */
function shimInPoolProblem(p: Problems, at: string, address: Address, host: string, n: CheckedNetwork, pool: CheckedPool): void {
    const text = address.toString();
    const example = `(e.g. ${host}-shim: ${text})`;
    if (pool.ipRange === undefined) {
        p.add(at, text, `may be handed out by Docker on ${label(n)}, which has no ipRange: list it in ${n.path}.auxAddresses ${example} or set ${pool.path}.ipRange to a range that excludes it`);
    } else if (pool.ipRange.contains(address)) {
        p.add(at, text, `is inside ${pool.path}.ipRange ${pool.ipRange.toString()}, so Docker may hand it out: list it in ${n.path}.auxAddresses ${example} or choose an address outside the ipRange`);
    }
}

/**
 * Rules for container addresses on each LAN segment (a network's vlan, or untagged), across all
 * hosts and networks: a container ip (or ip6) is not a gateway, an aux address, a shim, a host's SSH
 * address (on the untagged segment) or another container's; a container MAC (configured or
 * derived) is not another's.
 */
function checkSegmentAddresses(p: Problems, hosts: readonly CheckedHost[], networks: readonly CheckedNetwork[], claims: SegmentClaims): void {
    const shims = new Map<string, Claim>();
    for (const h of hosts) {
        if (h.shim?.address === undefined || !h.shim.vlanOk) continue;
        const key = `${segmentKey(h.shim.vlan)} ${h.shim.address.toString()}`;
        if (!shims.has(key)) shims.set(key, { path: `${h.shim.path}.address`, phrase: `is the shim address ${h.shim.path}.address of host ${h.name ?? h.path}` });
    }
    const ips = new Map<string, string>();
    const macs = new Map<string, { path: string; derived: boolean }>();
    const derivedNote = (d: boolean) => (d ? " (derived from its ip)" : "");
    for (const n of networks) {
        if (!n.vlanOk) continue;
        const seg = segmentKey(n.vlan);
        for (const c of n.containers) {
            for (const [key, address] of [["ip", c.ip] as const, ["ip6", c.ip6] as const]) {
                if (address === undefined) continue;
                const text = address.toString();
                const held = `${seg} ${text}`;
                const fixed = claims.fixed.get(held) ?? [];
                const phrase =
                    (fixed.find((f) => f.network === n) ?? fixed[0])?.claim.phrase ??
                    shims.get(held)?.phrase ??
                    claims.ssh.get(held)?.phrase ??
                    (ips.has(held) ? `is already used by ${ips.get(held)} on ${segmentLabel(n.vlan)}` : undefined);
                if (phrase !== undefined) p.add(`${c.path}.${key}`, text, phrase);
                if (!ips.has(held)) ips.set(held, `${c.path}.${key}`);
            }
            if (c.mac !== undefined) {
                const key = `${seg} ${c.mac}`;
                const first = macs.get(key);
                if (first === undefined) macs.set(key, { path: `${c.path}.mac`, derived: c.macDerived });
                else if (!(first.derived && c.macDerived)) {
                    p.addBare(`${c.path}.mac`, `${c.mac}${derivedNote(c.macDerived)} is already used by ${first.path}${derivedNote(first.derived)} on ${segmentLabel(n.vlan)}`);
                }
            }
        }
    }
}
