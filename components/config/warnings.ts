/**
 * Warnings on a valid stack: what the rules allow but is risky, or rarely what is meant. Nothing
 * here refuses anything or changes what registers; the program tells them through `pulumi.log.warn`
 * (the config's always, the probed facts' when the probe runs), and a tool that shows a stack (the
 * doctor) can call `configWarnings` with what it probed. Each names its config path, like a problem:
 *
 * - a host with no shim whose containers sit on bridge-mode networks on its own parent: the host
 *   cannot reach them (the field notes' first surprise);
 * - VLAN 1 on a network, a host's `vlans` or a shim: the default (native) VLAN of most switches,
 *   usually untagged on a trunk;
 * - a container pinned inside the dynamic range its own engine hands out (the network's `ipRange`,
 *   or its host's slice): legal, as that engine holds the address for it, but it shrinks the pool
 *   and a container started by hand could take it while the pinned one is down. (Every other fixed
 *   address in a range an engine hands out is refused: slices.ts, segments.ts.)
 * - with the probe's facts (probed.ts): a parent that is down; `promisc: false` on a VM's NIC.
 *
 * Pure: no resource imports.
 */
import { parseAddress, parseCidr, POOL_FAMILIES, type Address, type Cidr } from "../net/addr";
import { segmentLabel, segmentLink } from "../net/names";
import type { NetworkModel, StackModel } from "./model";
import { probedFactsWarnings, type ProbedHostFacts } from "./probed";
import { childPath } from "./problems";

/** The VLAN id most switches use as their default (native) VLAN, untagged on a trunk. */
export const DEFAULT_SWITCH_VLAN = 1;

/**
 * Every warning of a valid model, in this order: shims, VLAN 1, pinned addresses in a dynamic
 * range; then, when `facts` (what the drift probe read, by host name) is given, those of the facts
 * (probedFactsWarnings). None: nothing risky found.
 */
export function configWarnings(model: StackModel, facts?: ReadonlyMap<string, ProbedHostFacts>): string[] {
    return [...shimWarnings(model), ...vlanOneWarnings(model), ...dynamicRangeWarnings(model), ...(facts === undefined ? [] : probedFactsWarnings(model, facts))];
}

/** `a`, `a and b`, `a, b and 3 more`: at most two named. */
function someOf(names: readonly string[]): string {
    if (names.length <= 2) return names.join(" and ");
    return `${names.slice(0, 2).join(", ")} and ${names.length - 2} more`;
}

/** One container attachment of a host on a bridge-mode network: the container's name, the network and its index. */
interface OwnContainer {
    readonly container: string;
    readonly network: NetworkModel;
    readonly index: number;
}

/**
 * The attachments of each host's containers to bridge-mode networks, by host name, in config order
 * (networks, then containers): one pass over every container of the stack.
 */
function bridgeContainersByHost(model: StackModel): Map<string, OwnContainer[]> {
    const byName = new Map(model.networks.map((n, index) => [n.name, { network: n, index }] as const));
    const out = new Map<string, OwnContainer[]>();
    for (const n of model.networks) {
        for (const c of n.containers) {
            for (const a of c.attachments) {
                const at = byName.get(a.network);
                if (at === undefined || at.network.mode !== "bridge") continue;
                const list = out.get(c.host) ?? [];
                list.push({ container: c.name, ...at });
                out.set(c.host, list);
            }
        }
    }
    return out;
}

/**
 * At most this many hosts get a shim warning of their own; past it, the first host's warning names
 * the others in one line, so a fleet that never reaches its containers from the hosts gets one
 * warning rather than one per host.
 */
export const SHIM_WARNINGS_MAX = 5;

/**
 * Warning: a host without a shim whose own containers are on bridge-mode networks. The macvlan
 * driver passes no frame between a parent and its own macvlan links, so the host cannot reach
 * them (other machines on the LAN can). Private and vepa networks are left out (a bridge-mode
 * shim does not reach their containers either, without a hairpin switch), and so are passthru
 * ones (a shim cannot share their parent). The suggestion is the first segment with such a
 * container: one shim reaches one segment. More than SHIM_WARNINGS_MAX such hosts: one warning.
 */
function shimWarnings(model: StackModel): string[] {
    const byHost = bridgeContainersByHost(model);
    const unshimmed = model.hosts.flatMap((h, i) => (h.shim === undefined && (byHost.get(h.name)?.length ?? 0) > 0 ? [i] : []));
    const one = (i: number): string => {
        const h = model.hosts[i];
        const own = byHost.get(h.name) ?? [];
        const first = own[0].network;
        const names = [...new Set(own.filter((o) => o.network.vlan === first.vlan).map((o) => o.container))];
        const links = [...new Set(own.map((o) => segmentLink(h.parent, o.network.vlan)))];
        const subnet = first.ipam.find((p) => !p.subnet.includes(":"))?.subnet ?? first.ipam[0].subnet;
        const others = links.length > 1 ? `; one shim reaches one segment, and its containers on ${links.filter((l) => l !== segmentLink(h.parent, first.vlan)).join(", ")} stay out of the host's reach` : "";
        return (
            `hosts[${i}].shim is not set, and host ${h.name} cannot reach its own containers ${someOf(names)} on ${segmentLink(h.parent, first.vlan)} ` +
            `(${segmentLabel(first.vlan)}): the macvlan driver passes no frames between a parent and its own macvlan links (other machines on the LAN reach them). ` +
            `If the host must reach them, give hosts[${i}] \`shim: { address: <a free address of ${subnet}>${first.vlan === undefined ? "" : `, vlan: ${first.vlan}`} }\`, ` +
            `reserved from Docker in networks[${own[0].index}].auxAddresses (or outside its dynamic range): the program adds a /32 route to each of the host's containers there${others}`
        );
    };
    if (unshimmed.length <= SHIM_WARNINGS_MAX) return unshimmed.map(one);
    const [first, ...rest] = unshimmed;
    return [`${one(first)}. The same holds for ${rest.length} other hosts without a shim: ${someOf(rest.map((i) => `hosts[${i}] (${model.hosts[i].name})`))}`];
}

/** The phrase of the VLAN 1 warning, after `<path> 1`. */
function vlanOneRule(link: string): string {
    return (
        `is VLAN ${DEFAULT_SWITCH_VLAN}, the default (native) VLAN of most switches, whose frames usually cross a trunk untagged: ` +
        `the tagged sub-interface ${link} then sees none of them. For the untagged LAN leave the vlan out; keep ${DEFAULT_SWITCH_VLAN} only if the switch port carries VLAN ${DEFAULT_SWITCH_VLAN} tagged`
    );
}

/** Warning: VLAN 1 on a network, in a host's `vlans`, or on a shim. */
function vlanOneWarnings(model: StackModel): string[] {
    const out: string[] = [];
    model.hosts.forEach((h, i) => {
        const link = segmentLink(h.parent, DEFAULT_SWITCH_VLAN);
        if (h.vlans.includes(DEFAULT_SWITCH_VLAN)) out.push(`hosts[${i}].vlans lists ${DEFAULT_SWITCH_VLAN}, which ${vlanOneRule(link)}`);
        if (h.shim?.vlan === DEFAULT_SWITCH_VLAN) out.push(`hosts[${i}].shim.vlan ${DEFAULT_SWITCH_VLAN} ${vlanOneRule(link)}`);
    });
    model.networks.forEach((n, i) => {
        if (n.vlan === DEFAULT_SWITCH_VLAN) out.push(`networks[${i}].vlan ${DEFAULT_SWITCH_VLAN} ${vlanOneRule(`<parent>.${DEFAULT_SWITCH_VLAN} of each host`)}`);
    });
    return out;
}

/** Parses the model's CIDRs (valid by construction), each text once: parsing one costs far more than using it. */
type CidrCache = (text: string) => Cidr | undefined;

function cidrCache(): CidrCache {
    const seen = new Map<string, Cidr | undefined>();
    return (text) => {
        if (seen.has(text)) return seen.get(text);
        const c = parseCidr(text, POOL_FAMILIES);
        const value = c.ok ? c.value : undefined;
        seen.set(text, value);
        return value;
    };
}

/** True when `a` lies in `block` (by value, against the block's cached ends: ip-num's own `contains` is far slower). */
function inside(block: Cidr, a: Address): boolean {
    return block.family === a.family && block.first().value <= a.value && a.value <= block.last().value;
}

/**
 * The dynamic range `host`'s engine hands out on `n` that holds `address`, with where it is
 * configured, or undefined: the host's slice (sliced networks, IPv4), else the `ipRange` of the
 * pool whose subnet holds the address. A network with no ipRange hands out its whole subnet; that
 * is not a range the user drew, and is not warned about (every pinned address would be).
 */
function dynamicRangeHolding(n: NetworkModel, index: number, host: string, address: string, cidrOf: CidrCache): { readonly block: Cidr; readonly where: string } | undefined {
    const a = parseAddress(address, POOL_FAMILIES);
    if (!a.ok) return undefined;
    const slice = a.value.family === "ipv4" ? n.slices?.[host] : undefined;
    if (slice !== undefined) {
        const block = cidrOf(slice);
        return block !== undefined && inside(block, a.value) ? { block, where: `${childPath(`networks[${index}].slices`, host)} ${slice}, the slice host ${host}'s engine hands out on ${n.name}` } : undefined;
    }
    if (n.slices !== undefined && a.value.family === "ipv4") return undefined;
    for (const p of n.ipam) {
        const subnet = cidrOf(p.subnet);
        if (subnet === undefined || !inside(subnet, a.value) || p.ipRange === undefined) continue;
        const block = cidrOf(p.ipRange);
        if (block !== undefined && inside(block, a.value)) return { block, where: `the ipRange ${p.ipRange} of networks[${index}] (${n.name}), which host ${host}'s engine hands out` };
    }
    return undefined;
}

/**
 * Warning: a container's pinned address (ip or ip6, on the network it is declared under or one it
 * joins) inside the dynamic range its own engine hands out on that network. The rules allow it
 * (that engine holds the address for the container), but it takes an address out of the pool, and
 * Docker holds it only while the container is attached: a container started by hand on that
 * network with no address can take it while the pinned one is stopped or being re-created.
 */
function dynamicRangeWarnings(model: StackModel): string[] {
    const index = new Map(model.networks.map((n, i) => [n.name, i] as const));
    const cidrOf = cidrCache();
    const out: string[] = [];
    model.networks.forEach((n, i) => {
        n.containers.forEach((c, j) => {
            c.attachments.forEach((a, k) => {
                const at = k === 0 ? `networks[${i}].containers[${j}]` : `networks[${i}].containers[${j}].networks[${k - 1}]`;
                const mi = index.get(a.network);
                if (mi === undefined) return;
                const joined = model.networks[mi];
                for (const [key, ip] of [["ip", a.ipv4Address], ["ip6", a.ipv6Address]] as const) {
                    if (ip === undefined) continue;
                    const range = dynamicRangeHolding(joined, mi, c.host, ip, cidrOf);
                    if (range === undefined) continue;
                    out.push(
                        `${at}.${key} ${ip} is inside ${range.where}: that engine holds it for container ${c.name}, but it leaves the dynamic pool one address smaller, ` +
                            `and Docker holds it only while ${c.name} is attached, so a container started by hand on ${joined.name} with no address can take it while ${c.name} is stopped or re-created; ` +
                            `pin ${c.name} outside ${range.block.toString()} (or move the range)`,
                    );
                }
            });
        });
    });
    return out;
}
