/**
 * The rules across entries, run on what passed each entry's own checks: unique names and SSH
 * targets, resource names, the VLANs of networks on their hosts, networks sharing a parent or a
 * host, and passthru; the rules of each LAN segment are in segments.ts. A rule skips inputs that
 * already failed their own check, so one mistake gives one message.
 */
import type { ProbedDocker } from "../host/scripts";
import { defaultMac } from "../net/mac";
import type { Address } from "../net/addr";
import { networkChildNames, segmentLink, sshTarget } from "../net/names";
import { checkValue } from "./read";
import { LISTED_TWICE } from "./rules";
import { allowsPerNetworkMac, describeEngine, effectiveEngine, ENGINE_MIN, engineAtLeast, type EngineVersion } from "./engine";
import type { CheckedHost } from "./hosts";
import { addressFields, overlappingPools, type CheckedContainer, type CheckedNetwork } from "./networks";
import { entryLabel as label, type Problems } from "./problems";
import { checkSegments } from "./segments";

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
            const target = sshTarget(h.address, h.port);
            const first = targets.get(target);
            if (first !== undefined) p.add(`${h.path}.address`, h.address, `with port ${h.port} is already ${first.path}'s SSH target; describe each machine once`);
            else targets.set(target, h);
        }
    }
    return byName;
}

/**
 * How the rules that depend on a host's Docker Engine version run (see engine.ts): by default on
 * the declared `dockerVersion`s; `deferred` skips them (the program runs them once the probe has
 * read the engines); `probed`: the engines the probe found by host name, which win over the
 * declared versions.
 */
export interface EngineRuleOptions {
    readonly deferred?: boolean;
    readonly probed?: ReadonlyMap<string, ProbedDocker>;
}

/** The rules across networks and the hosts they span, in the order their problems are reported. */
export function checkNetworksAcross(
    p: Problems,
    hosts: readonly CheckedHost[],
    byName: ReadonlyMap<string, CheckedHost>,
    networks: readonly CheckedNetwork[],
    engines: EngineRuleOptions = {},
): void {
    // The one effective engine version of each host, for every version rule.
    const engineOf = (h: CheckedHost): EngineVersion | undefined => effectiveEngine(h.dockerVersion, h.name === undefined ? undefined : engines.probed?.get(h.name));
    const versionRules = engines.deferred !== true;
    const named = checkUniqueNames(p, networks);
    checkResourceNames(p, named);
    // From here on, a joined network's `containers` also hold the containers that join it.
    resolveJoins(p, named, networks);
    if (versionRules) checkDefaultRoutes(p, byName, networks, engineOf);
    checkNetworkVlansOnHosts(p, byName, networks);
    checkSharedParents(p, byName, networks, versionRules ? engineOf : undefined);
    if (versionRules) checkContainerMacs(p, byName, networks, engineOf);
    checkHostSubnets(p, byName, networks);
    checkPassthruContainers(p, networks);
    checkSegments(p, hosts, networks);
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

/**
 * Rules for the further networks a container joins (`containers[j].networks[k]`): each is another
 * network of the stack, listed once, that spans the container's host; its ip lies in that
 * network's subnet (not its network or broadcast address); its MAC is configured or derived from
 * that ip. A join that passes is added to the joined network's `containers` (`joinOf` set), so
 * the rules of that network and its segment hold it like any container there: its address and
 * MAC unique on the segment, passthru's single port, the address plan's fixed addresses. A
 * container's `defaultRoute` names one of its networks.
 */
function resolveJoins(p: Problems, named: ReadonlyMap<string, CheckedNetwork>, networks: readonly CheckedNetwork[]): void {
    const added: { target: CheckedNetwork; entry: CheckedContainer }[] = [];
    for (const n of networks) {
        for (const c of n.containers) {
            const seen = new Set<string>();
            for (const j of c.joins) {
                if (j.network === undefined) continue;
                const target = named.get(j.network);
                if (target === undefined) {
                    p.add(`${j.path}.network`, j.network, `is not a network of this stack (${[...named.keys()].join(", ")})`);
                    continue;
                }
                if (target === n || (n.name !== undefined && j.network === n.name)) {
                    p.add(`${j.path}.network`, j.network, `is the network ${c.path} is listed under; ${j.path} is for the further networks it joins`);
                    continue;
                }
                if (seen.has(j.network)) {
                    p.add(`${j.path}.network`, j.network, LISTED_TWICE);
                    continue;
                }
                seen.add(j.network);
                if (c.host !== undefined && !target.hosts.includes(c.host)) {
                    p.add(`${j.path}.network`, j.network, `does not span host ${c.host}, where ${c.path} runs; add ${c.host} to ${target.path}.hosts`);
                    continue;
                }
                // The join's addresses in the joined network's pools, as a container's own are in its network's.
                const fields = addressFields(target, j.path);
                const ip = j.ipText === undefined ? undefined : checkValue(p, j.ipText, `${j.path}.ip`, fields.ip);
                let ip6: Address | undefined;
                if (j.ip6Text !== undefined) ip6 = checkValue(p, j.ip6Text, `${j.path}.ip6`, fields.ip6);
                else if (fields.ip6Required !== undefined) p.addBare(`${j.path}.ip6`, fields.ip6Required);
                // Without the joined network's pools the ip cannot be placed, as for a container's own ip.
                if (ip === undefined || !target.poolsComplete || c.host === undefined) continue;
                const mac = j.mac ?? defaultMac(ip);
                const entry: CheckedContainer = {
                    index: c.index,
                    path: j.path,
                    ...(c.name === undefined ? {} : { name: c.name }),
                    host: c.host,
                    ip,
                    ...(ip6 === undefined ? {} : { ip6 }),
                    ...(mac === undefined ? {} : { mac }),
                    macDerived: j.mac === undefined,
                    restart: c.restart,
                    joins: [],
                    joinOf: { container: c, network: n },
                };
                j.resolved = entry;
                added.push({ target, entry });
            }
            if (c.defaultRoute !== undefined && c.defaultRoute !== n.name && !c.joins.some((j) => j.network === c.defaultRoute)) {
                const mine = [n.name ?? n.path, ...c.joins.flatMap((j) => (j.network === undefined ? [] : [j.network]))];
                p.add(`${c.path}.defaultRoute`, c.defaultRoute, `is not one of the container's networks (${mine.join(", ")}): name the network whose gateway gives its default route`);
            }
        }
    }
    for (const { target, entry } of added) target.containers.push(entry);
}

/** The networks of a container whose joins all resolved: its own first, then the joined ones; undefined when it joins none. */
function joinedNetworks(c: CheckedContainer, n: CheckedNetwork): string[] | undefined {
    if (c.joins.length === 0 || n.name === undefined) return undefined;
    const names = [n.name];
    for (const j of c.joins) {
        if (j.resolved === undefined || j.network === undefined) return undefined;
        names.push(j.network);
    }
    return names;
}

/**
 * Rule: the network that gives a container its default route is the one the config says
 * (`defaultRoute`, else the network it is listed under). Docker 28+ honours gateway priority,
 * which the container's endpoint on that network gets. Before 28 there is none: the engine gives
 * the default route to the network whose name sorts first (byte order) among the container's
 * networks with a gateway (every network here has one), whatever the config says, so a config
 * that asks otherwise is refused on a host whose engine is older or unknown.
 */
function checkDefaultRoutes(p: Problems, hosts: ReadonlyMap<string, CheckedHost>, networks: readonly CheckedNetwork[], engineOf: (h: CheckedHost) => EngineVersion | undefined): void {
    for (const n of networks) {
        for (const c of n.containers) {
            if (c.joinOf !== undefined || c.host === undefined) continue;
            const names = joinedNetworks(c, n);
            if (names === undefined) continue;
            const wanted = c.defaultRoute ?? names[0];
            if (!names.includes(wanted)) continue; // refused by resolveJoins
            const first = [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[0];
            const h = hosts.get(c.host);
            const e = h === undefined ? undefined : engineOf(h);
            if (wanted === first || h === undefined || engineAtLeast(e, ENGINE_MIN.gatewayPriority)) continue;
            const runs =
                e === undefined
                    ? `host ${c.host}'s Docker version is unknown (probe off, ${h.path}.dockerVersion not set), so it counts as older than 28`
                    : `host ${c.host} runs ${describeEngine(e, h.path)}`;
            const fix = `make ${first} the default route (defaultRoute: ${first}), rename the networks so that ${wanted} sorts first, or ${e === undefined ? `set ${h.path}.dockerVersion ("28.0" or later) if it runs` : "upgrade that engine to"} Docker 28 or later`;
            const why = `${runs}: Docker before 28 has no gateway priority and gives the default route to the network whose name sorts first among the container's networks (${names.join(", ")}), which is ${first}; ${fix}`;
            if (c.defaultRoute === undefined) p.addBare(c.path, `gets its default route from ${wanted}, the network it is listed under (defaultRoute is not set), but ${why}`);
            else p.add(`${c.path}.defaultRoute`, wanted, `cannot give the default route: ${why}`);
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
 * Docker 27 only one macvlan network per parent (the host's effective engine, `engineOf`; an
 * unknown one counts as older; no `engineOf`: not checked now); subnets there must not overlap.
 */
function checkSharedParents(
    p: Problems,
    hosts: ReadonlyMap<string, CheckedHost>,
    networks: readonly CheckedNetwork[],
    engineOf: ((h: CheckedHost) => EngineVersion | undefined) | undefined,
): void {
    for (const { a, b, on } of sharedParents(hosts, networks)) {
        if (a.mode === "passthru" || b.mode === "passthru") {
            const [pt, other] = b.mode === "passthru" ? [b, a] : [a, b];
            // (A refused passthru on the untagged parent is its own problem, whose fix ends the sharing.)
            if (pt.modeOk) p.add(`${pt.path}.mode`, "passthru", `cannot share its parent with ${label(other)} ${onHosts(on)}: a passthru network takes the whole parent; give one of them another vlan`);
        } else if (engineOf !== undefined) {
            const old = on.filter((o) => !engineAtLeast(engineOf(o.host), ENGINE_MIN.sharedParent));
            const at = b.name === undefined ? b.path : `${b.path}.name ${b.name}`;
            const found = old.flatMap((o) => {
                const e = engineOf(o.host);
                return e?.source === "probed" ? [`host ${o.host.name ?? o.host.path} runs ${describeEngine(e, o.host.path)}`] : [];
            });
            if (old.length > 0 && found.length > 0) {
                p.addBare(
                    at,
                    `shares its parent with ${label(a)} ${onHosts(old)}; Docker before 27 allows one macvlan network per parent, and ${found.join(", ")}: give one of them a vlan, or upgrade ${old.length === 1 ? "that engine" : "those engines"} to Docker 27 or later`,
                );
            } else if (old.length > 0) {
                const fields = old.map((o) => `${o.host.path}.dockerVersion`).join(", ");
                const which = old.length === 1 ? `that host runs` : `those hosts run`;
                p.addBare(
                    at,
                    `shares its parent with ${label(a)} ${onHosts(old)}; Docker before 27 allows one macvlan network per parent: give one of them a vlan, or set ${fields} ("27.0" or later) if ${which} Docker 27 or later`,
                );
            }
        }
        const pair = overlappingPools(a, b);
        if (pair !== undefined) {
            const [pb, pa] = pair;
            p.add(`${pb.path}.subnet`, pb.subnet.toString(), `overlaps ${pa.path}.subnet ${pa.subnet.toString()} ${onHosts(on)}`);
        }
    }
}

/**
 * Rule: the subnets of one host's networks on different links (its untagged parent, its VLAN
 * sub-interfaces) do not overlap. Docker keeps one address space per engine, whatever the parent:
 * "Pool overlaps with other one on this address space" (moby/moby#46438). Networks on one link
 * are checkSharedParents'.
 */
function checkHostSubnets(p: Problems, hosts: ReadonlyMap<string, CheckedHost>, networks: readonly CheckedNetwork[]): void {
    for (let i = 0; i < networks.length; i++) {
        for (let j = i + 1; j < networks.length; j++) {
            const a = networks[i];
            const b = networks[j];
            const pair = a.vlanOk && b.vlanOk && a.vlan !== b.vlan ? overlappingPools(a, b) : undefined;
            if (pair === undefined) continue;
            const [pb, pa] = pair;
            const on: string[] = [];
            for (const name of a.hosts) {
                const h = hosts.get(name);
                if (h === undefined || !b.hosts.includes(name)) continue;
                on.push(h.parent === undefined ? name : `${name} (parents ${segmentLink(h.parent, a.vlan)} and ${segmentLink(h.parent, b.vlan)})`);
            }
            if (on.length === 0) continue;
            p.add(
                `${pb.path}.subnet`,
                pb.subnet.toString(),
                `overlaps ${pa.path}.subnet ${pa.subnet.toString()} on ${on.length === 1 ? "host" : "hosts"} ${on.join(", ")}; Docker refuses overlapping subnets on one host whatever their parents ("Pool overlaps with other one on this address space"): give one of them another subnet, or leave one of them off ${on.length === 1 ? "that host" : "those hosts"}`,
            );
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
                // A container that joins the network is named at its join (`networks[k].network`).
                p.add(
                    c.joinOf === undefined ? `${c.path}.host` : `${c.path}.network`,
                    c.joinOf === undefined ? c.host : n.name,
                    `already has ${taken.path} on passthru network ${label(n)}; passthru has a single port per parent (Docker: "failed to create the macvlan port: invalid argument")`,
                );
            }
        }
    }
}

/**
 * Rule: a container's own MAC (not the default `02:42:<IPv4 bytes>`) needs an engine that honours
 * a per-network MAC (API 1.44, Engine 25+); an older one ignores it and derives the default. Only
 * checked when the host's engine is known (probed or declared).
 */
function checkContainerMacs(p: Problems, hosts: ReadonlyMap<string, CheckedHost>, networks: readonly CheckedNetwork[], engineOf: (h: CheckedHost) => EngineVersion | undefined): void {
    for (const n of networks) {
        for (const c of n.containers) {
            if (c.macDerived || c.mac === undefined || c.host === undefined || c.ip === undefined || c.mac === defaultMac(c.ip)) continue;
            const h = hosts.get(c.host);
            const e = h === undefined ? undefined : engineOf(h);
            if (h === undefined || e === undefined || allowsPerNetworkMac(e)) continue;
            p.add(
                `${c.path}.mac`,
                c.mac,
                `needs Docker Engine 25 or later (API 1.44) on host ${c.host}, which runs ${describeEngine(e, h.path)}: an older engine ignores a per-network MAC and gives the container ${defaultMac(c.ip) ?? "its own"}; remove mac, or upgrade the engine`,
            );
        }
    }
}
