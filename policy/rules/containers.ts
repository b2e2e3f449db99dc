/**
 * The container rules, over the whole stack (a container names its networks by Docker name only:
 * `stack.ts` resolves them to the stack's macvlan networks):
 * - `macvlan-container-pinned`: on every macvlan network a container has a pinned IPv4 address inside
 *   one of the network's subnets, not its gateway (an IPv6 address, when given, inside an IPv6 subnet),
 *   and a pinned unicast MAC (`networksAdvanced[i].ipv4Address`, `macAddress`). An engine left to pick
 *   hands out addresses from its own range, which on a LAN shared with other hosts and a DHCP server
 *   collide; a MAC left to the engine changes with the address. A container that joins a macvlan
 *   network through `networkMode` alone cannot pin either.
 * - `macvlan-container-no-ports`: a container on a macvlan network publishes no `ports`: it is on the
 *   LAN with its own address, and the engine ignores port mappings there (they only mislead).
 */
import { parseAddress, POOL_FAMILIES, type Address } from "../../components/net/addr";
import { parseMac } from "../../components/net/mac";
import { engineOf } from "./read";
import type { MacvlanEndpoint, MacvlanStack } from "./stack";
import type { Violation } from "./types";

/** `networksAdvanced[i] (macvlan network <name>)`: how a message names an endpoint. */
export function endpointLabel(e: MacvlanEndpoint): string {
    return `networksAdvanced[${e.endpoint.index}] (macvlan network ${e.network.view.dockerName})`;
}

/** `container <docker name> (<resource name>)`: how a stack message names a container. */
export function containerLabel(e: { readonly container: { readonly name: string }; readonly view: { readonly dockerName: string } }): string {
    return `container ${e.view.dockerName} (${e.container.name})`;
}

/** The problems of one endpoint on a macvlan network: its address and MAC. */
function endpointProblems(e: MacvlanEndpoint): string[] {
    const out: string[] = [];
    const pools = e.network.view.ipam;
    const v4 = e.endpoint.ipv4Address;
    if (v4 === undefined) out.push("ipv4Address is not set: pin the container's address (the engine would hand out one of its own range)");
    else {
        const a = parseAddress(v4, POOL_FAMILIES);
        if (!a.ok) out.push(`ipv4Address ${v4} ${a.problem}`);
        else if (a.value.family !== "ipv4") out.push(`ipv4Address ${v4} is not an IPv4 address (an IPv6 address goes in ipv6Address)`);
        else if (!e.network.subnets.some((s) => s.contains(a.value))) {
            out.push(`ipv4Address ${v4} is not inside the network's subnets (${subnetList(e)})`);
        } else if (pools.some((p) => isAddress(p.gateway, a.value))) {
            out.push(`ipv4Address ${v4} is the network's gateway`);
        }
    }
    const v6 = e.endpoint.ipv6Address;
    if (v6 !== undefined) {
        const a = parseAddress(v6, POOL_FAMILIES);
        if (!a.ok) out.push(`ipv6Address ${v6} ${a.problem}`);
        else if (a.value.family !== "ipv6") out.push(`ipv6Address ${v6} is not an IPv6 address`);
        else if (!e.network.subnets.some((s) => s.contains(a.value))) out.push(`ipv6Address ${v6} is not inside the network's subnets (${subnetList(e)})`);
    }
    const mac = e.endpoint.macAddress;
    if (mac === undefined) out.push("macAddress is not set: pin the container's MAC (the engine derives one that changes with the address)");
    else {
        const m = parseMac(mac);
        if (!m.ok) out.push(`macAddress ${mac} ${m.problem}`);
    }
    return out;
}

/** True when `text` is an address equal to `a`. */
function isAddress(text: string | undefined, a: Address): boolean {
    const b = text === undefined ? undefined : parseAddress(text, POOL_FAMILIES);
    return b?.ok === true && b.value.equals(a);
}

function subnetList(e: MacvlanEndpoint): string {
    return e.network.subnets.length === 0 ? "none" : e.network.subnets.map((s) => s.toString()).join(", ");
}

/** `macvlan-container-pinned` over a resolved stack. */
export function pinnedViolations(stack: MacvlanStack): Violation[] {
    const out: Violation[] = [];
    for (const e of stack.endpoints) {
        for (const p of endpointProblems(e)) out.push({ message: `${containerLabel(e)}: ${endpointLabel(e)}.${p}`, urn: e.container.urn });
    }
    for (const c of stack.containers) {
        const mode = c.view.networkMode;
        if (mode === undefined) continue;
        const network = stack.networkNamed(engineOf(c.resource), mode);
        if (network === undefined || c.view.endpoints.some((x) => x.network === mode)) continue;
        out.push({
            message: `${containerLabel({ container: c.resource, view: c.view })}: networkMode ${mode} is a macvlan network: attach it through networksAdvanced with a pinned ipv4Address and macAddress`,
            urn: c.resource.urn,
        });
    }
    return out;
}

/** `macvlan-container-no-ports` over a resolved stack: one violation per container that publishes ports. */
export function portsViolations(stack: MacvlanStack): Violation[] {
    const out: Violation[] = [];
    const seen = new Set<string>();
    for (const e of stack.endpoints) {
        if (e.view.ports === 0 || seen.has(e.container.urn)) continue;
        seen.add(e.container.urn);
        out.push({
            message: `${containerLabel(e)}: ports has ${e.view.ports} mapping(s), but it is on macvlan network ${e.network.view.dockerName}, where the engine ignores port mappings: the container has its own LAN address; remove ports`,
            urn: e.container.urn,
        });
    }
    return out;
}
