/**
 * The rules of a network marked `swarm: true` (`macvlan:networks[i].swarm`): a config-only network
 * on each host it spans (that host's parent, mode and slice) and one swarm-scoped network made from
 * them on the manager, the first host of the network's `hosts` (of every host when it lists none).
 * Run by parseStackConfig on what passed each entry's own checks. Pure: no resource imports.
 */
import { SWARM_NETWORK_NAME_MAX, swarmConfigNetworkName } from "../net/names";
import type { CheckedNetwork } from "./networks";
import type { Problems } from "./problems";

/** Checks every network with `swarm: true` against its own entry and the others' names. */
export function checkSwarmNetworks(p: Problems, networks: readonly CheckedNetwork[]): void {
    const names = new Set(networks.flatMap((n) => (n.name === undefined ? [] : [n.name])));
    for (const n of networks) {
        if (!n.swarm) continue;
        if (n.name !== undefined) {
            if (n.name.length > SWARM_NETWORK_NAME_MAX) {
                p.add(`${n.path}.name`, n.name, `is too long for a swarm network: at most ${SWARM_NETWORK_NAME_MAX} characters, as its config-only network on each host is named ${swarmConfigNetworkName("<name>")} (a Docker name of at most 64)`);
            } else if (names.has(swarmConfigNetworkName(n.name))) {
                p.add(`${n.path}.name`, n.name, `is a swarm network whose config-only networks are named ${swarmConfigNetworkName(n.name)}, which is the name of another network: rename one of them`);
            }
        }
        if (n.mode === "passthru") {
            p.add(`${n.path}.mode`, n.mode, `cannot be used with ${n.path}.swarm: passthru hands the parent to one container, and a swarm network is for the tasks of services; use bridge, vepa or private`);
        }
        // (A network on several hosts without slices is refused for every network: slices.ts.)
        if (n.containers.some((c) => c.joinOf === undefined)) {
            p.addBare(`${n.path}.containers`, `must be empty when ${n.path}.swarm is true: a swarm network carries the tasks of swarm services (each task gets an address from its host's slice), pinned containers are not supported on it; put them on a network without swarm`);
        }
        for (const c of n.containers.filter((x) => x.joinOf !== undefined)) {
            p.add(`${c.path}.network`, n.name, `is a swarm network (${n.path}.swarm), which carries the tasks of swarm services only: a pinned container cannot join it`);
        }
        if (n.pools.length > 1) {
            p.addBare(n.path, `has ${n.pools.length} IPAM pools; a swarm network (${n.path}.swarm) takes one IPv4 pool: its config-only networks are made with one subnet, and dual stack is not supported on it`);
        }
    }
}
