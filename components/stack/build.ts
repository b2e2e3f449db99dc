/**
 * The stack as resources: one MacvlanHost per host and one MacvlanNetwork per network (a MacvlanSwarmNetwork for one with `swarm: true`), built from
 * the validated model, and the plain stack outputs another stack can read with a StackReference.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ContainerModel, NetworkModel, StackModel } from "../config/model";
import { MacvlanHost } from "../macvlanHost";
import { MacvlanNetwork, type MacvlanNetworkContainer } from "../macvlanNetwork";
import { MacvlanSwarmNetwork } from "../macvlanSwarmNetwork";
import { MacvlanConfigError } from "../net/problems";
import { hostKeyRequiredProblem } from "../plan/host";
import { addressPlan, hostIpRange, type SegmentPlan } from "../plan/addressPlan";
import { attachmentTo, planStack, type PlannedHost } from "../plan/stack";

/** Options of buildStack. */
export interface BuildStackOptions {
    /** SSH private key contents for the remote commands (kept secret). */
    readonly privateKey: pulumi.Input<string>;
    /** Drift tokens by feature key, per host name (what the program's drift probe read); a missing host or key gets `unprobed`. */
    readonly probes?: ReadonlyMap<string, pulumi.Input<Record<string, string>>>;
    /** Key file for the Docker provider's `ssh` (config `macvlan:sshIdentityFile`). Default: ssh agent/config. */
    readonly identityFile?: string;
}

/** Stack outputs of one host. */
export interface HostStackOutputs {
    readonly address: string;
    readonly port: number;
    readonly user: string;
    readonly parent: string;
    readonly vlans: readonly number[];
    readonly shim?: { readonly link: string; readonly lower: string; readonly address: string; readonly routes: readonly string[] };
}

/** Stack outputs of one container. */
export interface ContainerStackOutputs {
    readonly host: string;
    readonly ip: string;
    readonly mac: string;
    readonly id: pulumi.Output<string>;
}

/** Stack outputs of one network on one host. */
export interface NetworkHostStackOutputs {
    readonly id: pulumi.Output<string>;
    readonly parent: string;
    readonly containers: Readonly<Record<string, ContainerStackOutputs>>;
}

/** Stack outputs of one network. */
export interface NetworkStackOutputs {
    readonly name: string;
    readonly mode: string;
    readonly vlan?: number;
    readonly subnets: readonly string[];
    readonly hosts: Readonly<Record<string, NetworkHostStackOutputs>>;
    /** A swarm network (`swarm: true`): the host that created it and the config-only network's name on every host. */
    readonly swarm?: { readonly manager: string; readonly configNetwork: string };
}

/** All stack outputs: `hosts` and `networks`, by name, and the `addressPlan` of each LAN segment (`untagged`, `vlan50`). */
export interface StackOutputs {
    readonly hosts: Readonly<Record<string, HostStackOutputs>>;
    readonly networks: Readonly<Record<string, NetworkStackOutputs>>;
    readonly addressPlan: Readonly<Record<string, SegmentPlan>>;
}

/** What buildStack registered and the outputs to export. */
export interface BuiltStack {
    readonly hosts: ReadonlyMap<string, MacvlanHost>;
    readonly networks: ReadonlyMap<string, MacvlanNetwork>;
    /** The networks with `swarm: true`, by name. */
    readonly swarmNetworks: ReadonlyMap<string, MacvlanSwarmNetwork>;
    readonly outputs: StackOutputs;
}

/**
 * A container's env as MacvlanNetwork takes it: each value a Pulumi secret when the model says the
 * env is secret (`envSecret`), so the container's `envs` input and its state are secret while its
 * name, address and the graph stay plain.
 */
function containerEnv(c: ContainerModel): MacvlanNetworkContainer["env"] {
    if (c.env === undefined || c.envSecret !== true) return c.env;
    return Object.fromEntries(Object.entries(c.env).map(([k, v]) => [k, pulumi.secret(v)]));
}

/** The model's containers of a network as MacvlanNetwork containers (first attachment = this network). */
function networkContainers(network: NetworkModel): MacvlanNetworkContainer[] {
    return network.containers.map((c) => {
        const att = attachmentTo(c, network.name);
        return {
            name: c.name,
            host: c.host,
            image: c.image,
            ipv4Address: att.ipv4Address,
            mac: att.mac,
            restart: c.restart,
            ...(c.command === undefined ? {} : { command: c.command }),
            ...(c.env === undefined ? {} : { env: containerEnv(c) }),
        };
    });
}

/**
 * Registers the stack: one MacvlanHost per host (component name = host name) and one
 * MacvlanNetwork per network (component name = network name), each network's docker.Network on a
 * host depending on that host's component. Returns the components and the plain stack outputs.
 * Call it only with a validated model (`parseStackConfig`). Every host is planned before the first
 * is registered: a refusal (a MacvlanConfigError listing every problem) leaves nothing registered.
 */
export function buildStack(model: StackModel, opts: BuildStackOptions): BuiltStack {
    const r = planStack(model, opts.identityFile === undefined ? {} : { identityFile: opts.identityFile });
    if (r.hosts === undefined) throw new MacvlanConfigError(r.problems);
    return registerStack(model, opts, r.hosts);
}

/** buildStack with the hosts already planned (the program plans them once, before its probe). */
export function registerStack(model: StackModel, opts: BuildStackOptions, plans: readonly PlannedHost[]): BuiltStack {
    // Every network's hosts are in the stack, and every host's key is pinned (or learned on first
    // use), before the first resource is registered.
    const planned = new Set(plans.map((p) => p.model.name));
    const unknown = model.networks.flatMap((n, i) =>
        n.hosts.filter((h) => !planned.has(h)).map((h) => `networks[${i}] (${n.name}) spans host ${h}, which is not in hosts`),
    );
    if (unknown.length > 0) throw new MacvlanConfigError(unknown);
    // Every host's key is pinned (or learned on first use) before the first is registered.
    const unpinned = plans.flatMap(({ model: h, spec }, i) =>
        spec.connection.hostKey === undefined ? [`hosts[${i}]: MacvlanHost ${h.name}: ${hostKeyRequiredProblem(spec.connection)}`] : [],
    );
    if (unpinned.length > 0) throw new MacvlanConfigError(unpinned);

    const hosts = new Map<string, MacvlanHost>();
    const hostOutputs: Record<string, HostStackOutputs> = {};
    for (const { model: h, spec } of plans) {
        const probe = opts.probes?.get(h.name);
        const host = new MacvlanHost(h.name, {
            ...spec,
            connection: { ...spec.connection, hostKey: spec.connection.hostKey as string, privateKey: opts.privateKey },
            ...(probe === undefined ? {} : { probe }),
        });
        hosts.set(h.name, host);
        hostOutputs[h.name] = {
            address: h.address,
            port: h.port,
            user: h.user,
            parent: h.parent,
            vlans: host.vlans,
            ...(host.shim === undefined ? {} : { shim: host.shim }),
        };
    }
    const networks = new Map<string, MacvlanNetwork>();
    const networkOutputs: Record<string, NetworkStackOutputs> = {};
    const swarmNetworks = new Map<string, MacvlanSwarmNetwork>();
    const hostOf = (n: NetworkModel, name: string): MacvlanHost => {
        const host = hosts.get(name);
        if (host === undefined) throw new Error(`internal: network ${n.name} spans unknown host ${name}`);
        return host;
    };
    for (const n of model.networks) {
        if (n.swarm === true) {
            if (n.mode === "passthru") throw new Error(`internal: swarm network ${n.name} has mode passthru after validation`);
            const network = new MacvlanSwarmNetwork(n.name, {
                networkName: n.name,
                mode: n.mode,
                ipam: n.ipam,
                auxAddresses: n.auxAddresses,
                ...(n.vlan === undefined ? {} : { vlan: n.vlan }),
                hosts: n.hosts.map((name) => {
                    const host = hostOf(n, name);
                    const slice = n.slices?.[name];
                    return { name, parent: host.parentFor(n.vlan), connection: host.connection, dependsOn: [host], ...(slice === undefined ? {} : { ipRange: slice }) };
                }),
            });
            swarmNetworks.set(n.name, network);
            networkOutputs[n.name] = {
                name: n.name,
                mode: n.mode,
                ...(n.vlan === undefined ? {} : { vlan: n.vlan }),
                subnets: n.ipam.map((p) => p.subnet),
                hosts: Object.fromEntries(
                    [...network.configCommands].map(([h, c]) => [h, { id: c.id, parent: hostOf(n, h).parentFor(n.vlan), containers: {} }]),
                ),
                swarm: { manager: network.manager, configNetwork: network.configNetworkName },
            };
            continue;
        }
        const network = new MacvlanNetwork(n.name, {
            networkName: n.name,
            mode: n.mode,
            ipam: n.ipam,
            auxAddresses: n.auxAddresses,
            ...(n.vlan === undefined ? {} : { vlan: n.vlan }),
            hosts: n.hosts.map((name) => {
                const host = hosts.get(name);
                if (host === undefined) throw new Error(`internal: network ${n.name} spans unknown host ${name}`);
                const slice = n.slices?.[name];
                return { name, parent: host.parentFor(n.vlan), provider: host.dockerProvider, dependsOn: [host], ...(slice === undefined ? {} : { ipRange: hostIpRange(n, name) }) };
            }),
            containers: networkContainers(n),
        });
        networks.set(n.name, network);
        networkOutputs[n.name] = {
            name: n.name,
            mode: n.mode,
            ...(n.vlan === undefined ? {} : { vlan: n.vlan }),
            subnets: n.ipam.map((p) => p.subnet),
            hosts: network.hostOutputs,
        };
    }
    return { hosts, networks, swarmNetworks, outputs: { hosts: hostOutputs, networks: networkOutputs, addressPlan: addressPlan(model) } };
}
