/**
 * The stack as resources: one MacvlanHost per host and one MacvlanNetwork per network, built from
 * the validated model, and the plain stack outputs another stack can read with a StackReference.
 */
import * as pulumi from "@pulumi/pulumi";
import { parseAddress } from "../net/addr";
import { MacvlanHost, macvlanHostProblems, type MacvlanHostArgs } from "../macvlanHost";
import { MacvlanNetwork, type MacvlanNetworkContainer } from "../macvlanNetwork";
import type { HostModel, NetworkModel, StackModel } from "../config/model";
import { MacvlanConfigError } from "../config/validate";

/** Options of buildStack. */
export interface BuildStackOptions {
    /** SSH private key contents for the remote commands (kept secret). */
    readonly privateKey: pulumi.Input<string>;
    /** Drift tokens per host name (from `probeHosts`); a missing host gets `unprobed` tokens. */
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
}

/** All stack outputs: `hosts` and `networks`, by name. */
export interface StackOutputs {
    readonly hosts: Readonly<Record<string, HostStackOutputs>>;
    readonly networks: Readonly<Record<string, NetworkStackOutputs>>;
}

/** What buildStack registered and the outputs to export. */
export interface BuiltStack {
    readonly hosts: ReadonlyMap<string, MacvlanHost>;
    readonly networks: ReadonlyMap<string, MacvlanNetwork>;
    readonly outputs: StackOutputs;
}

/** The networks of the model that span `host`. */
function networksOn(model: StackModel, host: string): NetworkModel[] {
    return model.networks.filter((n) => n.hosts.includes(host));
}

/** The address with its full-length prefix: `/32` for IPv4, `/128` for IPv6. */
export function hostRoute(address: string): string {
    const a = parseAddress(address, ["ipv4", "ipv6"]);
    if (!a.ok) throw new Error(`${address} ${a.problem}`);
    return `${a.value.toString()}/${a.value.bits}`;
}

/**
 * The MacvlanHost arguments of a host (pure): features from the model, VLANs also from the
 * networks that use the host (and the shim's), `needsDocker` when any network spans it, and the
 * shim's routes: the /32 of every container on this host whose network rides the shim's segment
 * (same VLAN, or both untagged). Used by buildStack and by the probe, so both see one feature list.
 */
export function hostArgsFromModel(
    model: StackModel,
    host: HostModel,
    privateKey: pulumi.Input<string>,
    extra: { readonly identityFile?: string; readonly probe?: pulumi.Input<Record<string, string>> } = {},
): MacvlanHostArgs {
    const nets = networksOn(model, host.name);
    const vlans = new Set(host.vlans);
    for (const n of nets) if (n.vlan !== undefined) vlans.add(n.vlan);
    if (host.shim?.vlan !== undefined) vlans.add(host.shim.vlan);
    let shim: MacvlanHostArgs["shim"];
    if (host.shim !== undefined) {
        const segment = host.shim.vlan;
        const routes = nets
            .filter((n) => n.vlan === segment)
            .flatMap((n) =>
                n.containers
                    .filter((c) => c.host === host.name)
                    .map((c) => hostRoute((c.attachments.find((a) => a.network === n.name) ?? c.attachments[0]).ipv4Address)),
            );
        shim = {
            address: hostRoute(host.shim.address),
            ...(segment === undefined ? {} : { vlan: segment }),
            routes: [...new Set(routes)],
        };
    }
    return {
        connection: {
            address: host.address,
            port: host.port,
            user: host.user,
            ...(host.hostKey === undefined ? {} : { hostKey: host.hostKey }),
            privateKey,
            ...(extra.identityFile === undefined ? {} : { identityFile: extra.identityFile }),
        },
        parent: host.parent,
        promisc: host.promisc,
        ipForward: host.ipForward,
        vlans: [...vlans].sort((a, b) => a - b),
        ...(shim === undefined ? {} : { shim }),
        needsDocker: nets.length > 0,
        ...(extra.probe === undefined ? {} : { probe: extra.probe }),
    };
}

/**
 * What MacvlanHost would refuse for each host of a validated model (pure; empty when all are
 * usable), as `hosts[i]: …` problems. buildStack checks it before registering anything; index.ts
 * checks it before it probes the hosts, so the probe never renders a script for such a host.
 */
export function stackHostProblems(model: StackModel, extra: { readonly identityFile?: string } = {}): string[] {
    return model.hosts.flatMap((h, i) => macvlanHostProblems(h.name, hostArgsFromModel(model, h, "", extra)).map((p) => `hosts[${i}]: ${p}`));
}

/** The model's containers of a network as MacvlanNetwork containers (first attachment = this network). */
function networkContainers(network: NetworkModel): MacvlanNetworkContainer[] {
    return network.containers.map((c) => {
        const att = c.attachments.find((a) => a.network === network.name) ?? c.attachments[0];
        return {
            name: c.name,
            host: c.host,
            image: c.image,
            ipv4Address: att.ipv4Address,
            mac: att.mac,
            restart: c.restart,
            ...(c.command === undefined ? {} : { command: c.command }),
            ...(c.env === undefined ? {} : { env: c.env }),
        };
    });
}

/**
 * Registers the stack: one MacvlanHost per host (component name = host name) and one
 * MacvlanNetwork per network (component name = network name), each network's docker.Network on a
 * host depending on that host's component. Returns the components and the plain stack outputs.
 * Call it only with a validated model (`parseStackConfig`).
 */
export function buildStack(model: StackModel, opts: BuildStackOptions): BuiltStack {
    // Every host checked before the first is registered: a refusal leaves nothing half-registered.
    const problems = stackHostProblems(model, opts.identityFile === undefined ? {} : { identityFile: opts.identityFile });
    if (problems.length > 0) throw new MacvlanConfigError(problems);
    const hostArgs = model.hosts.map((h) =>
        hostArgsFromModel(model, h, opts.privateKey, {
            ...(opts.identityFile === undefined ? {} : { identityFile: opts.identityFile }),
            ...(opts.probes?.get(h.name) === undefined ? {} : { probe: opts.probes.get(h.name) }),
        }),
    );

    const hosts = new Map<string, MacvlanHost>();
    const hostOutputs: Record<string, HostStackOutputs> = {};
    for (const [i, h] of model.hosts.entries()) {
        const host = new MacvlanHost(h.name, hostArgs[i]);
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
    for (const n of model.networks) {
        const network = new MacvlanNetwork(n.name, {
            networkName: n.name,
            mode: n.mode,
            ipam: n.ipam,
            auxAddresses: n.auxAddresses,
            ...(n.vlan === undefined ? {} : { vlan: n.vlan }),
            hosts: n.hosts.map((name) => {
                const host = hosts.get(name);
                if (host === undefined) throw new Error(`network ${n.name} spans unknown host ${name}`);
                return { name, parent: host.parentFor(n.vlan), provider: host.dockerProvider, dependsOn: [host] };
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
    return { hosts, networks, outputs: { hosts: hostOutputs, networks: networkOutputs } };
}
