/**
 * `macvlan-network-shape` (per resource): a macvlan docker.Network names its parent link
 * (`options.parent`) and gives every IPAM pool an explicit subnet and a gateway inside it
 * (`ipamConfigs`). Without a parent Docker makes a dummy link (the containers reach nothing);
 * without a subnet it picks one of its own, not the LAN's; without a gateway engines before 29
 * invent one (the subnet's first address), which is then wrong for the LAN and reads back as a change.
 */
import { parseAddress, parseCidr, POOL_FAMILIES } from "../../components/net/addr";
import { ifNameProblem } from "../../components/net/patterns";
import { isMacvlanNetwork, readNetwork } from "./read";
import type { Violation } from "./types";

/** Every problem with one resource, when it is a macvlan docker.Network; none otherwise. */
export function networkShapeViolations(type: string, name: string, props: Record<string, unknown>): Violation[] {
    if (!isMacvlanNetwork(type, props)) return [];
    const n = readNetwork(props, name);
    const out: string[] = [];
    if (n.parent === undefined) out.push("options.parent is not set: a macvlan network needs the link it hangs off (the NIC, or <nic>.<vlan>)");
    else {
        const problem = ifNameProblem(n.parent);
        if (problem !== undefined) out.push(`options.parent ${n.parent} ${problem}`);
    }
    if (n.ipam.length === 0) out.push("ipamConfigs is empty: a macvlan network needs an explicit subnet and gateway (the LAN's), else Docker picks a subnet of its own");
    n.ipam.forEach((pool, i) => {
        const at = `ipamConfigs[${i}]`;
        const subnet = pool.subnet === undefined ? undefined : parseCidr(pool.subnet, POOL_FAMILIES);
        if (pool.subnet === undefined) out.push(`${at}.subnet is not set: give the LAN's subnet`);
        else if (subnet?.ok === false) out.push(`${at}.subnet ${pool.subnet} ${subnet.problem}`);
        if (pool.gateway === undefined) {
            out.push(`${at}.gateway is not set: give the LAN router's address (engines before 29 would take the subnet's first address)`);
            return;
        }
        const gateway = parseAddress(pool.gateway, POOL_FAMILIES);
        if (!gateway.ok) out.push(`${at}.gateway ${pool.gateway} ${gateway.problem}`);
        else if (subnet?.ok === true && !subnet.value.contains(gateway.value)) out.push(`${at}.gateway ${pool.gateway} is not inside ${at}.subnet ${pool.subnet}`);
    });
    return out.map((message) => ({ message }));
}
