/**
 * The topology picture of a stack (pure, no resource imports): the validated model as a Mermaid
 * flowchart. Each host is a subgraph holding its parent NIC, its VLAN sub-interfaces (`eth0.50`),
 * its shim (address and routes) and its containers (address, IPv6 address, MAC on each network);
 * each network is one node outside the hosts (macvlan mode, segment, every pool's subnet, gateway
 * and ipRange, aux addresses; a swarm network its manager), tied to the link it rides on each host
 * by an edge that names that host's pool (its slice), and to each container on it.
 *
 * The text is a function of the model alone, in config order: the same config gives the same
 * text. `npm run topology` prints it (scripts/topology.ts) and the program exports it as the stack
 * output `topology`.
 */
import { DEFAULT_SHIM_LINK, type ContainerModel, type HostModel, type NetworkModel, type StackModel } from "../config/model";
import { segmentLink, swarmConfigNetworkName } from "../net/names";
import { hostPools } from "./addressPlan";
import { hostSpec } from "./stack";

/** The first line of every diagram: a Mermaid comment saying what made it. */
export const TOPOLOGY_HEADER = "%% pulumi-macvlan topology: generated from the stack config (npm run topology); do not edit";

/** Characters kept as they are in a Mermaid id; every other one is written `_<hex>` (`_` itself too). */
const ID_SAFE = /[A-Za-z0-9]/;

/**
 * One part of a Mermaid id: letters and digits kept, every other character (`-`, `.`, `:`, `_`,
 * …) written as `_` and two hex digits of its code (`_u` and six beyond U+00FF): `eth0.50` ->
 * `eth0_2e50`, `pub_net` -> `pub_5fnet`. Two different names never give the same part, and a
 * part never holds `__`, which joins the parts of an id (`mermaidId`).
 */
export function mermaidIdPart(name: string): string {
    let out = "";
    for (const ch of name) {
        if (ID_SAFE.test(ch)) out += ch;
        else {
            const code = ch.codePointAt(0) ?? 0;
            // Fixed width per range so that the next character cannot be read as part of the code.
            out += code < 0x100 ? `_${code.toString(16).padStart(2, "0")}` : `_u${code.toString(16).padStart(6, "0")}`;
        }
    }
    return out;
}

/** A Mermaid node id from a kind and the names that make it unique: `ctr__docker1__nginx`. */
export function mermaidId(kind: string, ...names: readonly string[]): string {
    return [kind, ...names.map(mermaidIdPart)].join("__");
}

/** Characters kept as they are in a label; every other one becomes a Mermaid entity (`#quot;`, `#35;`). */
const LABEL_SAFE = /[A-Za-z0-9 ._:/,=+()@-]/;

/**
 * One line of a Mermaid label, escaped: a quote becomes `#quot;`, and every character outside
 * letters, digits and ` ._:/,=+()@-` its numeric entity (`#` -> `#35;`, `<` -> `#60;`), so
 * nothing in a name can end the label or be read as markup.
 */
export function mermaidText(text: string): string {
    let out = "";
    for (const ch of text) {
        if (LABEL_SAFE.test(ch)) out += ch;
        else if (ch === '"') out += "#quot;";
        else out += `#${ch.codePointAt(0) ?? 0};`;
    }
    return out;
}

/** A quoted label of several lines (each escaped, joined by `<br/>`). */
function label(lines: readonly string[]): string {
    return `"${lines.map(mermaidText).join("<br/>")}"`;
}

const INDENT = "    ";

/** The lines of one container's node: its address(es) and MAC, per network when it is on several. */
function containerLines(c: ContainerModel): string[] {
    const addr = (a: ContainerModel["attachments"][number]) => [a.ipv4Address, ...(a.ipv6Address === undefined ? [] : [a.ipv6Address])];
    const [only] = c.attachments;
    if (c.attachments.length === 1 && only !== undefined) return [c.name, ...addr(only), `mac ${only.mac}`];
    return [
        c.name,
        ...c.attachments.map((a) => `${a.network}: ${[...addr(a), a.mac].join(", ")}`),
        ...(c.defaultRoute === undefined ? [] : [`default route via ${c.defaultRoute}`]),
    ];
}

/** The blocks host `host`'s engine hands out from on network `n`, one per pool, its slice marked: `pool 198.51.100.128/26 (slice)`. */
function poolLine(n: NetworkModel, host: string): string {
    const slice = n.slices?.[host];
    const blocks = hostPools(n, host).map((b) => (b === slice ? `${b} (slice)` : b));
    return `${blocks.length === 1 ? "pool" : "pools"} ${blocks.join(", ")}`;
}

/**
 * The subgraph of one host: its parent NIC, VLAN links and shim; each network on it (`<network>
 * on <host>`, with that host's pool) on the link it rides; and the containers on those networks.
 */
function hostBlock(model: StackModel, h: HostModel, containers: readonly ContainerModel[]): string[] {
    const spec = hostSpec(model, h);
    const vlans = spec.vlans ?? [];
    const link = (name: string) => mermaidId("link", h.name, name);
    const out = [`subgraph ${mermaidId("host", h.name)}[${label([`host ${h.name}`, h.address])}]`];
    const parentNotes = [h.promisc ? "promisc on" : "promisc off", h.ipForward ? "ip_forward on" : "ip_forward off"];
    out.push(`${INDENT}${link(h.parent)}[${label([h.parent, `parent NIC, ${parentNotes.join(", ")}`])}]`);
    for (const vlan of vlans) {
        out.push(`${INDENT}${link(segmentLink(h.parent, vlan))}[${label([segmentLink(h.parent, vlan), `VLAN ${vlan}`])}]`);
        out.push(`${INDENT}${link(h.parent)} --- ${link(segmentLink(h.parent, vlan))}`);
    }
    if (spec.shim !== undefined) {
        const routes = spec.shim.routes.length === 0 ? ["no routes"] : [`routes ${spec.shim.routes.join(", ")}`];
        out.push(`${INDENT}${mermaidId("shim", h.name)}[/${label([DEFAULT_SHIM_LINK, spec.shim.address, ...routes])}/]`);
        out.push(`${INDENT}${link(segmentLink(h.parent, spec.shim.vlan))} --- ${mermaidId("shim", h.name)}`);
    }
    for (const n of model.networks.filter((x) => x.hosts.includes(h.name))) {
        const here = mermaidId("on", h.name, n.name);
        const what = n.swarm === true ? `config-only ${swarmConfigNetworkName(n.name)}` : `${n.name} on ${h.name}`;
        out.push(`${INDENT}${here}[${label([what, poolLine(n, h.name)])}]`);
        out.push(`${INDENT}${link(segmentLink(h.parent, n.vlan))} --- ${here}`);
    }
    for (const c of containers) {
        const ctr = mermaidId("ctr", h.name, c.name);
        out.push(`${INDENT}${ctr}(${label(containerLines(c))})`);
        // The network it is declared under, then each it joins (dotted).
        c.attachments.forEach((a, i) => {
            const edge = i === 0 ? " --- " : ` -.-|${label(["joins"])}| `;
            out.push(`${INDENT}${mermaidId("on", h.name, a.network)}${edge}${ctr}`);
        });
    }
    out.push("end");
    return out;
}

/** The node of one network: name, kind, segment, each pool, aux addresses. */
function networkNode(n: NetworkModel): string {
    const kind = `${n.swarm === true ? "swarm network" : "network"}, macvlan ${n.mode}, ${n.vlan === undefined ? "untagged" : `VLAN ${n.vlan}`}`;
    const pools = n.ipam.map((p) => [p.subnet, ...(p.gateway === undefined ? [] : [`gw ${p.gateway}`]), ...(p.ipRange === undefined ? [] : [`range ${p.ipRange}`])].join(" "));
    const aux = Object.entries(n.auxAddresses).map(([k, a]) => `aux ${k} ${a}`);
    const swarm = n.swarm === true ? [`manager ${n.hosts[0] ?? "?"}, config-only ${swarmConfigNetworkName(n.name)} per host`] : [];
    const text = label([n.name, kind, ...pools, ...aux, ...swarm]);
    // A swarm network is drawn as a subroutine box, a local one as a hexagon.
    return n.swarm === true ? `${mermaidId("net", n.name)}[[${text}]]` : `${mermaidId("net", n.name)}{{${text}}}`;
}

/**
 * The Mermaid flowchart of a validated stack (`parseStackConfig`): hosts, parent NICs and VLAN
 * links, networks with their subnets and each host's pool, containers with IP, IPv6 and MAC (and
 * every network they join), swarm networks and shims. Ids come from `mermaidId`, labels from
 * `mermaidText`; the text ends with a newline.
 */
export function renderTopology(model: StackModel): string {
    const out = [TOPOLOGY_HEADER, "flowchart LR"];
    // Each host's containers, in config order, found in one pass (a fleet has thousands).
    const byHost = new Map<string, ContainerModel[]>();
    for (const n of model.networks) {
        for (const c of n.containers) {
            const list = byHost.get(c.host);
            if (list === undefined) byHost.set(c.host, [c]);
            else list.push(c);
        }
    }
    for (const h of model.hosts) out.push(...hostBlock(model, h, byHost.get(h.name) ?? []).map((l) => INDENT + l));
    for (const n of model.networks) {
        const net = mermaidId("net", n.name);
        out.push(INDENT + networkNode(n));
        // Each host's network is on the one LAN segment the network node stands for.
        for (const host of n.hosts) out.push(`${INDENT}${mermaidId("on", host, n.name)} -.- ${net}`);
    }
    return out.join("\n") + "\n";
}
