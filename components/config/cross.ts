/**
 * The rules across entries, run on what passed each entry's own checks: unique names and SSH
 * targets, resource names, the VLANs of networks on their hosts, networks sharing a parent,
 * passthru, the hosts' shims, and addresses and MACs on each LAN segment. A rule skips inputs that
 * already failed their own check, so one mistake gives one message.
 */
import { segmentLink } from "../net/names";
import { isIpv4Literal } from "../net/patterns";
import { networkChildNames } from "../net/names";
import type { CheckedHost } from "./hosts";
import type { CheckedContainer, CheckedNetwork } from "./networks";
import type { Problems } from "./problems";
import { allowsSharedParent, reservedInSubnetProblem } from "./rules";

/**
 * Rules: host names are unique, and so are SSH targets (address and port). Returns the valid hosts
 * by name, the first of each name.
 */
export function checkHostsAcross(p: Problems, hosts: readonly CheckedHost[]): Map<string, CheckedHost> {
    const byName = new Map<string, CheckedHost>();
    const targets = new Map<string, CheckedHost>();
    for (const h of hosts) {
        if (h.name !== undefined) {
            const first = byName.get(h.name);
            if (first !== undefined) p.add(`${h.path}.name`, h.name, `is already used by ${first.path}`);
            else byName.set(h.name, h);
        }
        // Two entries for one machine would share its host state, and each one's destroy would
        // undo the other's settings. (Names are compared as written: a DNS name and the address it
        // resolves to are not caught.)
        if (h.address !== undefined) {
            const target = `${h.address.toLowerCase()} port ${h.port}`;
            const first = targets.get(target);
            if (first !== undefined) p.add(`${h.path}.address`, h.address, `with port ${h.port} is already ${first.path}'s SSH target; describe each machine once`);
            else targets.set(target, h);
        }
    }
    return byName;
}

/** The rules across networks and the hosts they span, in the order their problems are reported. */
export function checkNetworksAcross(p: Problems, hosts: readonly CheckedHost[], byName: ReadonlyMap<string, CheckedHost>, networks: readonly CheckedNetwork[]): void {
    checkResourceNames(p, checkUniqueNames(p, networks));
    checkNetworkVlansOnHosts(p, byName, networks);
    checkSharedParents(p, byName, networks);
    checkPassthruContainers(p, networks);
    const claims = segmentClaims(hosts, networks);
    checkShims(p, hosts, networks, claims);
    checkSegmentAddresses(p, hosts, networks, claims);
}

/**
 * Rules: network names are unique; container names are unique per host across all networks.
 * Returns the first network of each name, by name.
 */
function checkUniqueNames(p: Problems, networks: readonly CheckedNetwork[]): Map<string, CheckedNetwork> {
    const nets = new Map<string, CheckedNetwork>();
    const containers = new Map<string, CheckedContainer>();
    for (const n of networks) {
        if (n.name !== undefined) {
            const first = nets.get(n.name);
            if (first !== undefined) p.add(`${n.path}.name`, n.name, `is already used by ${first.path}`);
            else nets.set(n.name, n);
        }
        for (const c of n.containers) {
            if (c.name === undefined || c.host === undefined) continue;
            const key = `${c.host}\n${c.name}`;
            const first = containers.get(key);
            if (first !== undefined) p.add(`${c.path}.name`, c.name, `is already used on host ${c.host} by ${first.path}`);
            else containers.set(key, c);
        }
    }
    return nets;
}

/**
 * Rule: the Pulumi resource names derived from network, host and container names
 * (`networkChildNames`: `<network>-<host>`, `<network>-<host>-<container>`) are unique. Both
 * parts may contain `-`, so network `a-b` on host `c` and network `a` on host `b-c` would both
 * be `a-b-c`: two resources of one URN, which the engine refuses after half the stack is planned.
 * `named` holds the first network of each name (a repeated name is its own problem).
 */
function checkResourceNames(p: Problems, named: ReadonlyMap<string, CheckedNetwork>): void {
    const netNames = new Map<string, { network: CheckedNetwork; host: string }>();
    const ctrNames = new Map<string, { container: CheckedContainer; network: CheckedNetwork }>();
    for (const [name, n] of named) {
        for (const host of n.hosts) {
            const rn = networkChildNames.network(name, host);
            const first = netNames.get(rn);
            if (first === undefined) netNames.set(rn, { network: n, host });
            else if (first.network !== n) {
                p.add(`${n.path}.name`, name, `on host ${host} gives the resource name ${rn}, which ${first.network.path} (${first.network.name ?? ""}) on host ${first.host} gives too; rename one of them`);
            }
        }
        for (const c of n.containers) {
            if (c.name === undefined || c.host === undefined) continue;
            const rn = networkChildNames.container(name, c.host, c.name);
            const first = ctrNames.get(rn);
            if (first === undefined) ctrNames.set(rn, { container: c, network: n });
            // (One name twice on one host is reported by checkUniqueNames.)
            else if (first.container.host !== c.host || first.container.name !== c.name) {
                p.add(`${c.path}.name`, c.name, `gives the resource name ${rn}, which ${first.container.path} gives too; rename one of them`);
            }
        }
    }
}

/** Rule: a network's vlan is in the `vlans` of every host it spans. */
function checkNetworkVlansOnHosts(p: Problems, hosts: ReadonlyMap<string, CheckedHost>, networks: readonly CheckedNetwork[]): void {
    for (const n of networks) {
        if (n.vlan === undefined) continue;
        for (const name of n.hosts) {
            const h = hosts.get(name);
            if (h === undefined || !h.vlansOk || h.vlans.includes(n.vlan)) continue;
            p.add(`${n.path}.vlan`, n.vlan, `is not in ${h.path}.vlans of host ${name}; add it there or remove ${name} from ${n.path}.hosts`);
        }
    }
}

/** A network in messages: `networks[0] (pub_net)`. */
function label(n: CheckedNetwork): string {
    return n.name === undefined ? n.path : `${n.path} (${n.name})`;
}

/** A LAN segment in messages: `the untagged LAN segment` or `LAN segment vlan 50`. */
function segmentLabel(vlan: number | undefined): string {
    return vlan === undefined ? "the untagged LAN segment" : `LAN segment vlan ${vlan}`;
}

/** A LAN segment in lookup keys. */
function segmentKey(vlan: number | undefined): string {
    return vlan === undefined ? "untagged" : String(vlan);
}

type OnHost = { host: CheckedHost; link: string };

function onHosts(on: readonly OnHost[]): string {
    const list = on.map((o) => `${o.host.name ?? o.host.path} (parent ${o.link})`).join(", ");
    return on.length === 1 ? `on host ${list}` : `on hosts ${list}`;
}

/** The pairs of networks that use the same link on some host, with those hosts. */
function sharedParents(hosts: ReadonlyMap<string, CheckedHost>, networks: readonly CheckedNetwork[]): { a: CheckedNetwork; b: CheckedNetwork; on: OnHost[] }[] {
    const pairs: { a: CheckedNetwork; b: CheckedNetwork; on: OnHost[] }[] = [];
    for (let i = 0; i < networks.length; i++) {
        for (let j = i + 1; j < networks.length; j++) {
            const a = networks[i];
            const b = networks[j];
            if (!a.vlanOk || !b.vlanOk || a.vlan !== b.vlan) continue;
            const on: OnHost[] = [];
            for (const name of a.hosts) {
                const h = hosts.get(name);
                if (h?.parent === undefined || !b.hosts.includes(name)) continue;
                on.push({ host: h, link: segmentLink(h.parent, a.vlan) });
            }
            if (on.length > 0) pairs.push({ a, b, on });
        }
    }
    return pairs;
}

/**
 * Rules for networks on one link of a host: a passthru network shares it with no other; before
 * Docker 27 only one macvlan network per parent; subnets there must not overlap.
 */
function checkSharedParents(p: Problems, hosts: ReadonlyMap<string, CheckedHost>, networks: readonly CheckedNetwork[]): void {
    for (const { a, b, on } of sharedParents(hosts, networks)) {
        if (a.mode === "passthru" || b.mode === "passthru") {
            const [pt, other] = b.mode === "passthru" ? [b, a] : [a, b];
            p.add(`${pt.path}.mode`, "passthru", `cannot share its parent with ${label(other)} ${onHosts(on)}: a passthru network takes the whole parent; give one of them another vlan`);
        } else {
            const old = on.filter((o) => !allowsSharedParent(o.host.dockerVersion));
            if (old.length > 0) {
                const fields = old.map((o) => `${o.host.path}.dockerVersion`).join(", ");
                const which = old.length === 1 ? `that host runs` : `those hosts run`;
                p.addBare(
                    b.name === undefined ? b.path : `${b.path}.name ${b.name}`,
                    `shares its parent with ${label(a)} ${onHosts(old)}; Docker before 27 allows one macvlan network per parent: give one of them a vlan, or set ${fields} ("27.0" or later) if ${which} Docker 27 or later`,
                );
            }
        }
        if (a.subnet !== undefined && b.subnet !== undefined && a.subnet.overlaps(b.subnet)) {
            p.add(`${b.path}.subnet`, b.subnet.toString(), `overlaps ${a.path}.subnet ${a.subnet.toString()} ${onHosts(on)}`);
        }
    }
}

/** Rule: a passthru network has at most one container per host (a single macvlan port). */
function checkPassthruContainers(p: Problems, networks: readonly CheckedNetwork[]): void {
    for (const n of networks) {
        if (n.mode !== "passthru") continue;
        const first = new Map<string, CheckedContainer>();
        for (const c of n.containers) {
            if (c.host === undefined) continue;
            const taken = first.get(c.host);
            if (taken === undefined) first.set(c.host, c);
            else {
                p.add(
                    `${c.path}.host`,
                    c.host,
                    `already has ${taken.path} on passthru network ${label(n)}; passthru has a single port per parent (Docker: "failed to create the macvlan port: invalid argument")`,
                );
            }
        }
    }
}

/** An address somebody holds, for collision checks: where it is held and how a problem says so. */
interface Claim {
    readonly path: string;
    readonly phrase: string;
}

/** The addresses held before any container or shim: fixed ones by `<segment> <address>`, SSH targets by address. */
interface SegmentClaims {
    /** Gateways and aux addresses; a network's own come first. */
    readonly fixed: ReadonlyMap<string, readonly { network: CheckedNetwork; claim: Claim }[]>;
    /** The hosts' SSH addresses that are IPv4 literals (on every segment), the first host of each. */
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
        if (n.gateway !== undefined) put(`${seg} ${n.gateway.toString()}`, n, { path: `${n.path}.gateway`, phrase: `is the gateway ${n.path}.gateway` });
        for (const a of n.aux) {
            if (a.address !== undefined) put(`${seg} ${a.address.toString()}`, n, { path: a.path, phrase: `is reserved as ${a.path}` });
        }
    }
    const ssh = new Map<string, Claim>();
    for (const h of hosts) {
        if (h.address === undefined || !isIpv4Literal(h.address) || ssh.has(h.address)) continue;
        ssh.set(h.address, { path: `${h.path}.address`, phrase: `is the SSH address of host ${h.name ?? h.path} (${h.path}.address)` });
    }
    return { fixed, ssh };
}

/**
 * Rules for each host's shim: its vlan's segment carries a network spanning the host whose subnet
 * holds the address; not on a passthru network's parent; not a network, broadcast, gateway or SSH
 * address, nor another host's shim; reserved from Docker's dynamic allocation (outside the
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

        const passthru = here.find((n) => n.mode === "passthru");
        if (passthru !== undefined && h.parent !== undefined) {
            p.add(at, text, `would sit on parent ${segmentLink(h.parent, shim.vlan)}, which passthru network ${label(passthru)} takes whole on host ${h.name}; put the shim on another vlan or remove it`);
            continue;
        }
        const holders = sameSegment.filter((n) => n.subnet?.contains(addr) === true);
        if (!holders.some((n) => here.includes(n))) {
            const withSubnet = here.filter((n) => n.subnet !== undefined);
            const where = withSubnet.length === 0 ? `: no network on ${seg} spans host ${h.name}` : ` (${withSubnet.map((n) => n.subnet?.toString()).join(", ")})`;
            p.add(at, text, `does not belong to the subnet of any network on ${seg} that spans host ${h.name}${where}`);
            continue;
        }
        const reserved = holders.map((n) => (n.subnet === undefined ? undefined : reservedInSubnetProblem(addr, n.subnet))).find((r) => r !== undefined);
        if (reserved !== undefined) {
            p.add(at, text, reserved);
            continue;
        }
        const gateway = (claims.fixed.get(key) ?? []).find((f) => f.claim.path.endsWith(".gateway"));
        const taken = gateway?.claim ?? claims.ssh.get(text);
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
        for (const n of holders) {
            if (n.aux.some((a) => a.address?.equals(addr) === true)) continue;
            const example = `(e.g. ${h.name}-shim: ${text})`;
            if (n.ipRange === undefined) {
                p.add(at, text, `may be handed out by Docker on ${label(n)}, which has no ipRange: list it in ${n.path}.auxAddresses ${example} or set ${n.path}.ipRange to a range that excludes it`);
            } else if (n.ipRange.contains(addr)) {
                p.add(at, text, `is inside ${n.path}.ipRange ${n.ipRange.toString()}, so Docker may hand it out: list it in ${n.path}.auxAddresses ${example} or choose an address outside the ipRange`);
            }
        }
    }
}

/**
 * Rules for container addresses on each LAN segment (a network's vlan, or untagged), across all
 * hosts and networks: a container ip is not a gateway, an aux address, a shim, a host's SSH
 * address or another container's ip; a container MAC (configured or derived) is not another's.
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
            if (c.ip !== undefined) {
                const text = c.ip.toString();
                const key = `${seg} ${text}`;
                const fixed = claims.fixed.get(key) ?? [];
                const phrase =
                    (fixed.find((f) => f.network === n) ?? fixed[0])?.claim.phrase ??
                    shims.get(key)?.phrase ??
                    claims.ssh.get(text)?.phrase ??
                    (ips.has(key) ? `is already used by ${ips.get(key)} on ${segmentLabel(n.vlan)}` : undefined);
                if (phrase !== undefined) p.add(`${c.path}.ip`, text, phrase);
                if (!ips.has(key)) ips.set(key, `${c.path}.ip`);
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
