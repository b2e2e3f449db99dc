/**
 * The plan of one swarm macvlan network (pure, no resource imports): per host, the config-only
 * network (that host's parent, the mode, the pools with the host's slice as the ipRange of the
 * pool that holds it, the aux addresses) and its command; on the manager, the swarm-scoped network
 * made from them. MacvlanSwarmNetwork registers what this says: one remote.Command per config-only
 * network, then the swarm network's, which follows all of them (so a destroy removes it first: a
 * config-only network cannot be removed while a swarm network uses it).
 */
import type { IpamPoolModel } from "../config/model";
import type { RenderedCommand } from "../host/feature";
import { featureOwner } from "../host/shell";
import {
    configOnlyIdentity,
    renderConfigOnlyNetwork,
    renderSwarmScopedNetwork,
    swarmScopedIdentity,
    SWARM_MODES,
    type ConfigOnlyNetworkSpec,
    type SwarmMode,
    type SwarmPoolSpec,
} from "../host/swarmNetwork";
import { swarmConfigNetworkName, swarmNetworkChildNames } from "../net/names";
import { planNetwork } from "./network";

/** What the plan reads of a swarm network's arguments. */
export interface SwarmNetworkSpec {
    /** Docker network name of the swarm network; its config-only networks are `<name>-config`. */
    readonly networkName: string;
    readonly mode: SwarmMode;
    readonly ipam: readonly IpamPoolModel[];
    readonly auxAddresses?: Readonly<Record<string, string>>;
    readonly hosts: readonly { readonly name: string; readonly parent: string; readonly ipRange?: string }[];
    /** The host that creates the swarm network: a swarm manager. Default: the first of `hosts`. */
    readonly manager?: string;
}

/** One planned remote command. */
export interface PlannedSwarmCommand {
    /** Child resource name (swarmNetworkChildNames). */
    readonly name: string;
    /** The host it runs on. */
    readonly host: string;
    readonly rendered: RenderedCommand;
    /** The command's triggers: a change replaces it (its delete, then its create). */
    readonly triggers: readonly string[];
}

/** The plan: config-only commands by host (in `hosts` order), then the swarm command. */
export interface SwarmNetworkPlan {
    readonly configNetworkName: string;
    readonly manager: string;
    readonly configOnly: readonly PlannedSwarmCommand[];
    readonly swarm: PlannedSwarmCommand;
}

/**
 * Either every problem (each `MacvlanSwarmNetwork <name>: …`) or the plan. `project` and `stack`
 * make the owner recorded in each network's label (`<project>/<stack>/<host>`).
 */
export function planSwarmNetwork(name: string, spec: SwarmNetworkSpec, project: string, stack: string): { readonly problems: readonly string[]; readonly plan?: SwarmNetworkPlan } {
    const at = `MacvlanSwarmNetwork ${name}`;
    const problems: string[] = [];
    if (!(SWARM_MODES as readonly string[]).includes(spec.mode)) problems.push(`${at}: mode ${JSON.stringify(spec.mode)} is not one of ${SWARM_MODES.join(", ")} (passthru hands the parent to one container)`);
    if (spec.hosts.length === 0) problems.push(`${at}: needs at least one host`);
    const manager = spec.manager ?? spec.hosts[0]?.name;
    if (manager !== undefined && !spec.hosts.some((h) => h.name === manager)) problems.push(`${at}: manager ${manager} is not one of its hosts (${spec.hosts.map((h) => h.name).join(", ")})`);
    const net = planNetwork(name, { ipam: spec.ipam, auxAddresses: spec.auxAddresses ?? {}, hosts: spec.hosts });
    problems.push(...net.problems.map((p) => p.replace(/^MacvlanNetwork /, "MacvlanSwarmNetwork ")));
    if (problems.length > 0 || net.ipamByHost === undefined || manager === undefined) return { problems };

    const configNetworkName = swarmConfigNetworkName(spec.networkName);
    const configOnly: PlannedSwarmCommand[] = [];
    const identities: string[] = [];
    try {
        for (const h of spec.hosts) {
            const pools: SwarmPoolSpec[] = (net.ipamByHost.get(h.name) ?? []).map((c) => ({
                subnet: c.subnet as string,
                ...(c.gateway === undefined ? {} : { gateway: c.gateway as string }),
                ...(c.ipRange === undefined ? {} : { ipRange: c.ipRange as string }),
            }));
            const s: ConfigOnlyNetworkSpec = {
                host: h.name,
                owner: featureOwner(project, stack, h.name),
                name: configNetworkName,
                parent: h.parent,
                mode: spec.mode,
                pools,
                auxAddresses: spec.auxAddresses ?? {},
            };
            const identity = configOnlyIdentity(s);
            identities.push(`${h.name}: ${identity}`);
            configOnly.push({ name: swarmNetworkChildNames.configOnly(name, h.name), host: h.name, rendered: renderConfigOnlyNetwork(s), triggers: [identity] });
        }
        const sw = { host: manager, owner: featureOwner(project, stack, manager), name: spec.networkName, configFrom: configNetworkName };
        // Any change of a config-only network replaces the swarm network too: Docker refuses to
        // remove a config-only network while a swarm network made from it exists.
        const swarm: PlannedSwarmCommand = {
            name: swarmNetworkChildNames.swarm(name),
            host: manager,
            rendered: renderSwarmScopedNetwork(sw),
            triggers: [swarmScopedIdentity(sw), `manager=${manager}`, ...identities],
        };
        return { problems: [], plan: { configNetworkName, manager, configOnly, swarm } };
    } catch (e) {
        return { problems: [`${at}: ${e instanceof Error ? e.message : String(e)}`] };
    }
}
