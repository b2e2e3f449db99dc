/**
 * The stack as resources: one MacvlanHost per host and one MacvlanNetwork per network (a MacvlanSwarmNetwork for one with `swarm: true`), built from
 * the validated model, and the plain stack outputs another stack can read with a StackReference.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ContainerModel, NetworkModel, StackModel } from "../config/model";
import { MacvlanHost, type MacvlanHostArgs } from "../macvlanHost";
import { MacvlanNetwork, type MacvlanNetworkContainer } from "../macvlanNetwork";
import { MacvlanSwarmNetwork } from "../macvlanSwarmNetwork";
import { MacvlanConfigError } from "../net/problems";
import { hostKeyRequiredProblem } from "../plan/host";
import { addressPlan, type SegmentPlan } from "../plan/addressPlan";
import { attachmentTo, planStack, type PlannedHost } from "../plan/stack";
import { renderTopology } from "../plan/topology";

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
    /** The pinned IPv6 address, on a dual-stack network. */
    readonly ip6?: string;
    readonly mac: string;
    /** Its further networks, with its address and MAC on each; absent when it joins none. */
    readonly joins?: readonly { readonly network: pulumi.Input<string>; readonly ip: string; readonly ip6?: string; readonly mac: string }[];
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

/**
 * All stack outputs: `hosts` and `networks`, by name, the `addressPlan` of each LAN segment
 * (`untagged`, `vlan50`), and the `topology` diagram (Mermaid text, what `npm run topology` prints).
 */
export interface StackOutputs {
    readonly hosts: Readonly<Record<string, HostStackOutputs>>;
    readonly networks: Readonly<Record<string, NetworkStackOutputs>>;
    readonly addressPlan: Readonly<Record<string, SegmentPlan>>;
    /** The stack as a Mermaid flowchart (plan/topology.ts), a plain string computed from the model. */
    readonly topology: string;
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

/**
 * The Docker network name of every network on every host, as an Output that carries the
 * docker.Network it comes from, handed out before that network is registered: a container may
 * join a network that comes later in the stack (or whose own containers join this one). Each is
 * settled when its MacvlanNetwork is registered; `unsettled` lists any left, which would leave a
 * container waiting forever.
 */
class NetworkNames {
    private readonly slots = new Map<string, { readonly name: pulumi.Output<string>; settle?: (name: pulumi.Output<string>) => void }>();

    private slot(network: string, host: string) {
        const key = `${network}\n${host}`;
        let s = this.slots.get(key);
        if (s === undefined) {
            let settle: ((name: pulumi.Output<string>) => void) | undefined;
            const promise = new Promise<pulumi.Output<string>>((resolve) => (settle = resolve));
            s = { name: pulumi.output(promise), settle };
            this.slots.set(key, s);
        }
        return s;
    }

    /** The name output of `network` on `host`. */
    get(network: string, host: string): pulumi.Output<string> {
        return this.slot(network, host).name;
    }

    /** Settles the name of `network` on `host` with the registered network's name output. */
    set(network: string, host: string, name: pulumi.Output<string>): void {
        const s = this.slot(network, host);
        s.settle?.(name);
        s.settle = undefined;
    }

    /** The `network on host` pairs asked for and never settled. */
    unsettled(): string[] {
        return [...this.slots].filter(([, s]) => s.settle !== undefined).map(([k]) => k.replace("\n", " on "));
    }
}

/** The model's containers of a network as MacvlanNetwork containers (first attachment = this network, then its joins). */
function networkContainers(network: NetworkModel, names: NetworkNames): MacvlanNetworkContainer[] {
    return network.containers.map((c) => {
        const att = attachmentTo(c, network.name);
        const joins = c.attachments.filter((a) => a !== att);
        return {
            name: c.name,
            host: c.host,
            image: c.image,
            ipv4Address: att.ipv4Address,
            ...(att.ipv6Address === undefined ? {} : { ipv6Address: att.ipv6Address }),
            mac: att.mac,
            ...(joins.length === 0
                ? {}
                : {
                      joins: joins.map((a) => ({
                          network: names.get(a.network, c.host),
                          ipv4Address: a.ipv4Address,
                          ...(a.ipv6Address === undefined ? {} : { ipv6Address: a.ipv6Address }),
                          mac: a.mac,
                          ...(c.defaultRoute === a.network ? { defaultRoute: true } : {}),
                      })),
                  }),
            restart: c.restart,
            ...(c.command === undefined ? {} : { command: [...c.command] }),
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
    // Every network a container joins spans the container's host (else its name there would never settle).
    const spans = new Map(model.networks.map((n) => [n.name, new Set(n.hosts)]));
    model.networks.forEach((n, i) =>
        n.containers.forEach((c, j) =>
            c.attachments.slice(1).forEach((a) => {
                if (spans.get(a.network)?.has(c.host) !== true) unknown.push(`networks[${i}].containers[${j}] (${c.name}) joins network ${a.network}, which does not span host ${c.host}`);
            }),
        ),
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
        // A copy (MacvlanHostArgs takes mutable arrays, as the component package's schema needs) with
        // the keys in the same order: planHost remembers the plan the probe made by them.
        const copy = structuredClone(spec) as Omit<MacvlanHostArgs, "connection">;
        const host = new MacvlanHost(h.name, {
            ...copy,
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
    const names = new NetworkNames();
    const swarmNetworks = new Map<string, MacvlanSwarmNetwork>();
    const hostOf = (n: NetworkModel, name: string): MacvlanHost => {
        const host = hosts.get(name);
        if (host === undefined) throw new Error(`internal: network ${n.name} spans unknown host ${name}`);
        return host;
    };
    /** What both kinds of network take of a host it spans: its name, its parent link for the network, its slice (as ipRange), and that it waits for the host. */
    const onHost = (n: NetworkModel, name: string) => {
        const host = hostOf(n, name);
        const slice = n.slices?.[name];
        return { host, at: { name, parent: host.parentFor(n.vlan), dependsOn: [host], ...(slice === undefined ? {} : { ipRange: slice }) } };
    };
    for (const n of model.networks) {
        const common = { networkName: n.name, ipam: n.ipam, auxAddresses: n.auxAddresses, ...(n.vlan === undefined ? {} : { vlan: n.vlan }) };
        const outputs = { name: n.name, mode: n.mode, ...(n.vlan === undefined ? {} : { vlan: n.vlan }), subnets: n.ipam.map((p) => p.subnet) };
        if (n.swarm === true) {
            if (n.mode === "passthru") throw new Error(`internal: swarm network ${n.name} has mode passthru after validation`);
            const network = new MacvlanSwarmNetwork(n.name, {
                ...common,
                mode: n.mode,
                hosts: n.hosts.map((name) => {
                    const { host, at } = onHost(n, name);
                    return { ...at, connection: host.connection };
                }),
            });
            swarmNetworks.set(n.name, network);
            networkOutputs[n.name] = {
                ...outputs,
                hosts: Object.fromEntries(
                    [...network.configCommands].map(([h, c]) => [h, { id: c.id, parent: hostOf(n, h).parentFor(n.vlan), containers: {} }]),
                ),
                swarm: { manager: network.manager, configNetwork: network.configNetworkName },
            };
            continue;
        }
        const network = new MacvlanNetwork(n.name, {
            ...common,
            ipam: [...n.ipam],
            mode: n.mode,
            hosts: n.hosts.map((name) => {
                const { host, at } = onHost(n, name);
                return { ...at, provider: host.dockerProvider };
            }),
            containers: networkContainers(n, names),
        });
        networks.set(n.name, network);
        for (const [host, net] of network.networks) names.set(n.name, host, net.name);
        networkOutputs[n.name] = { ...outputs, hosts: network.hostOutputs };
    }
    const unsettled = names.unsettled();
    if (unsettled.length > 0) throw new Error(`internal: containers join networks never registered: ${unsettled.join(", ")}`);
    return { hosts, networks, swarmNetworks, outputs: { hosts: hostOutputs, networks: networkOutputs, addressPlan: addressPlan(model), topology: renderTopology(model) } };
}
