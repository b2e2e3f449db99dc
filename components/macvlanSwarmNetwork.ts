/**
 * MacvlanSwarmNetwork: one macvlan network for swarm services. On every host it spans, a
 * config-only network `<networkName>-config` (the host's parent, the mode, and the host's slice of
 * the dynamic range); on a manager, one swarm-scoped network `<networkName>` made from them with
 * `--config-from`, which services attach to: each task gets an address from its own host's slice.
 * `@pulumi/docker`'s Network has no input for either, so each is a remote.Command whose script
 * (`host/swarmNetwork.sh`) ensures the network and, on delete, removes exactly what it created.
 * The plan (`plan/swarm.ts`) checks the arguments and renders the scripts.
 *
 * Not managed here: swarm membership (`docker swarm init`/`join`: every host must be in the swarm,
 * the manager a manager, before `pulumi up`) and the services (a `docker.Service` through the
 * manager's provider, with `networksAdvanceds: [{ name: <networkName> }]`).
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_MODE, type IpamPoolModel } from "./config/model";
import type { SwarmMode } from "./host/swarmNetwork";
import { problemsOf } from "./net/problems";
import { planSwarmNetwork } from "./plan/swarm";

/** Pulumi type token of the component. */
export const MACVLAN_SWARM_NETWORK_TYPE = "macvlan:index:MacvlanSwarmNetwork";

/** One host the swarm network spans. */
export interface MacvlanSwarmNetworkHost {
    /** Host name, used in child names (`<network>-<host>-config`) and the owner label. */
    readonly name: string;
    /** The effective parent link on this host: the NIC, or `<nic>.<vlan>` for a VLAN network. */
    readonly parent: string;
    /** The SSH connection of the host's commands (MacvlanHost.connection). */
    readonly connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
    /**
     * This host's slice of the dynamic range: the `ipRange` its config-only network gets, replacing
     * that of the pool whose subnet holds it, so that the engines hand out disjoint addresses.
     * Default: the pool's own `ipRange` (only safe for a network on one host).
     */
    readonly ipRange?: string;
    /** What this host's config-only network waits for, normally the MacvlanHost component. Default none. */
    readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** Arguments of MacvlanSwarmNetwork. The shape of the graph (hosts, pools, manager) is plain. */
export interface MacvlanSwarmNetworkArgs {
    /** Docker name of the swarm network (at most 57 characters: its config-only networks are `<name>-config`). Default: the component name. */
    readonly networkName?: string;
    /** macvlan mode of every host's config-only network. Default `bridge` (`DEFAULT_MODE`); `passthru` is refused. */
    readonly mode?: SwarmMode;
    /** IPAM pools (subnet, gateway, ipRange), in order. At least one. */
    readonly ipam: readonly IpamPoolModel[];
    /** Reserved addresses by name, on every host. Default none. */
    readonly auxAddresses?: Readonly<Record<string, string>>;
    /** VLAN id the network rides on (informational: `hosts[].parent` already names the sub-interface). */
    readonly vlan?: number;
    /** Hosts that get a config-only network, in order: every host a task may run on. */
    readonly hosts: readonly MacvlanSwarmNetworkHost[];
    /** Name of the host (one of `hosts`, a swarm manager) that creates the swarm network. Default: the first of `hosts`. */
    readonly manager?: string;
}

/**
 * A swarm macvlan network. Children: `<name>-<host>-config` per host (remote.Command: the
 * config-only network, after that host's `dependsOn`) and `<name>-swarm` (remote.Command on the
 * manager: the swarm network, after every config-only one, so a destroy removes it first). Every
 * command is replaced (delete, then create) when its values change; a change of any host's
 * config-only network replaces the swarm network too.
 */
export class MacvlanSwarmNetwork extends pulumi.ComponentResource {
    /** Docker name of the swarm network. */
    readonly networkName: string;
    /** Docker name of the config-only network on every host. */
    readonly configNetworkName: string;
    readonly mode: SwarmMode;
    readonly vlan?: number;
    /** The host that creates the swarm network. */
    readonly manager: string;
    /** The config-only network's command, by host name. */
    readonly configCommands: ReadonlyMap<string, command.remote.Command>;
    /** The swarm network's command (on the manager). */
    readonly swarmCommand: command.remote.Command;

    constructor(name: string, args: MacvlanSwarmNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        const networkName = args.networkName ?? name;
        const mode = args.mode ?? (DEFAULT_MODE as SwarmMode);
        // Checked and rendered before anything is registered.
        const { problems, plan } = planSwarmNetwork(name, { ...args, networkName, mode }, pulumi.getProject(), pulumi.getStack());
        if (plan === undefined) throw problemsOf(`MacvlanSwarmNetwork ${name}`, problems);
        super(MACVLAN_SWARM_NETWORK_TYPE, name, {}, opts);
        this.networkName = networkName;
        this.configNetworkName = plan.configNetworkName;
        this.mode = mode;
        this.vlan = args.vlan;
        this.manager = plan.manager;

        const byHost = new Map(args.hosts.map((h) => [h.name, h]));
        const host = (n: string): MacvlanSwarmNetworkHost => {
            const h = byHost.get(n);
            if (h === undefined) throw new Error(`internal: MacvlanSwarmNetwork ${name} has no host ${n}`);
            return h;
        };
        const configCommands = new Map<string, command.remote.Command>();
        for (const c of plan.configOnly) {
            const h = host(c.host);
            configCommands.set(
                c.host,
                new command.remote.Command(
                    c.name,
                    { connection: h.connection, create: c.rendered.create, update: c.rendered.update, delete: c.rendered.delete, stdin: c.rendered.stdin, triggers: [...c.triggers] },
                    { parent: this, dependsOn: h.dependsOn ?? [], deleteBeforeReplace: true },
                ),
            );
        }
        this.configCommands = configCommands;
        const s = plan.swarm;
        this.swarmCommand = new command.remote.Command(
            s.name,
            {
                connection: host(s.host).connection,
                create: s.rendered.create,
                update: s.rendered.update,
                delete: s.rendered.delete,
                stdin: s.rendered.stdin,
                // The config-only commands' ids too: an input that comes from them makes a
                // replaced config-only network replace this one as well, and the engine deletes
                // this one first (Docker refuses to remove a config-only network in use).
                triggers: [...s.triggers, ...[...configCommands.values()].map((c) => c.id)],
            },
            { parent: this, dependsOn: [...configCommands.values()], deleteBeforeReplace: true },
        );

        this.registerOutputs({
            networkName: this.networkName,
            configNetworkName: this.configNetworkName,
            mode: this.mode,
            vlan: this.vlan,
            manager: this.manager,
            hosts: [...configCommands.keys()],
        });
    }
}
