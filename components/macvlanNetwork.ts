/**
 * MacvlanNetwork: one Docker macvlan network, created with the same name on every host it spans,
 * and the containers pinned on it (fixed IPv4 address and MAC, and an IPv6 address on a dual-stack
 * network), each through the host's own
 * Docker provider. The class, its arguments, its outputs and the container's inputs; the checks
 * and the IPAM config come from the pure plan (`plan/network.ts`).
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_MODE, DEFAULT_RESTART, type IpamPoolModel, type MacvlanMode, type RestartPolicy } from "./config/model";
import { problemsOf } from "./net/problems";
import { networkChildNames } from "./net/names";
import { CONTAINER_NETWORK_MODE, dockerEndpoints, planNetwork, sortedEnvs } from "./plan/network";

/** Pulumi type token of the component. */
export const MACVLAN_NETWORK_TYPE = "macvlan:index:MacvlanNetwork";

/** A host's Docker engine over SSH: MacvlanHost's `connection` without the private key (the Docker provider's `ssh` uses the ssh agent, or `identityFile`). */
export interface MacvlanDockerEndpoint {
    /** SSH target: an IP literal or a DNS name, as the host's MacvlanHost `connection.address`. */
    readonly address: string;
    /** SSH port. Default 22. */
    readonly port?: number;
    /** SSH login user. Default `root`. */
    readonly user?: string;
    /** Pinned host key `<type> <base64>`, required: the provider's `ssh` trusts no other key. */
    readonly hostKey: string;
    /** Private key file for the provider's `ssh`. Default: none (ssh agent/config). */
    readonly identityFile?: string;
}

/** One host the network spans. */
export interface MacvlanNetworkHost {
    /** Host name, used in child names (`<network>-<host>`). */
    readonly name: string;
    /** The effective parent link on this host: the NIC, or `<nic>.<vlan>` for a VLAN network. */
    readonly parent: string;
    /**
     * The host's Docker provider (MacvlanHost.dockerProvider). TypeScript only: the component
     * package's schema leaves it out (other languages give `docker`). Exactly one of `provider` and
     * `docker`.
     */
    readonly provider?: docker.Provider;
    /**
     * The host's Docker engine over SSH, for a host given without `provider` (the way for Python,
     * Go, C# and YAML programs): the network registers its own Docker provider for the host,
     * `<network>-<host>-docker`, with the endpoint and pinned host key MacvlanHost's own provider
     * gets from the same values.
     */
    readonly docker?: MacvlanDockerEndpoint;
    /**
     * This host's slice of the dynamic range: the `ipRange` its Docker network gets, replacing the
     * ipRange of the pool whose subnet holds it, so that engines sharing a LAN hand out disjoint
     * addresses; the hosts' slices must not overlap. Default: the pool's own `ipRange` (every host
     * the same, as for a one-host network).
     */
    readonly ipRange?: string;
    /**
     * What the network waits for on this host, normally the MacvlanHost component. Default none.
     * TypeScript only (not in the package's schema): other languages give the network resource
     * option `dependsOn` (the MacvlanHost components).
     */
    readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** A further macvlan network a container joins on its host, after the one it is declared on. */
export interface MacvlanNetworkJoin {
    /**
     * The Docker network's name on the container's host. Pass the other MacvlanNetwork's network
     * on that host (`networks.get(host).name`), so that the container follows it: created after
     * it, deleted before it.
     */
    readonly network: pulumi.Input<string>;
    /** Pinned IPv4 address inside that network's pools (no prefix). */
    readonly ipv4Address: string;
    /** Pinned IPv6 address inside that network's IPv6 pool (no prefix). Default none. */
    readonly ipv6Address?: string;
    /** Pinned unicast MAC, lower case. */
    readonly mac: string;
    /**
     * This network gives the container its default route: its endpoint gets gateway priority 1
     * (Docker 28+ `gw-priority`). Before 28 the engine ignores it and the network whose name sorts
     * first gives the default route (the stack's validation holds the config to that). Default
     * false: the network the container is declared on gives it.
     */
    readonly defaultRoute?: boolean;
}

/** One container pinned on the network. */
export interface MacvlanNetworkContainer {
    /** Docker container name, unique per host. */
    readonly name: string;
    /** Name of the host (one of `hosts`) it runs on. */
    readonly host: string;
    /**
     * Image reference, e.g. `nginx:1.27`; pulled by a `docker.RemoteImage` kept on the host on
     * destroy. A plain string is pulled once per host and reference (`<name>-<host>-images/<reference>`),
     * shared by the network's containers on that host that name it; an Output, once per container.
     */
    readonly image: pulumi.Input<string>;
    /** Pinned IPv4 address inside one of the pools (no prefix). */
    readonly ipv4Address: string;
    /** Pinned IPv6 address inside an IPv6 pool (no prefix). Default: none sent (the engine would pick one from an IPv6 pool). */
    readonly ipv6Address?: string;
    /** Pinned unicast MAC, lower case. */
    readonly mac: string;
    /** Further macvlan networks it joins on its host, in order. Default none. */
    readonly joins?: MacvlanNetworkJoin[];
    /** Command (argv). Default: the image's. */
    readonly command?: string[];
    /** Environment variables; sent sorted by name. Default none. */
    readonly env?: pulumi.Input<Readonly<Record<string, pulumi.Input<string>>>>;
    /** Docker restart policy. Default `unless-stopped` (`DEFAULT_RESTART`). */
    readonly restart?: RestartPolicy;
}

/** Arguments of MacvlanNetwork. The shape of the graph (hosts, pools, containers) is plain. */
export interface MacvlanNetworkArgs {
    /** Docker network name on every host. Default: the component name. */
    readonly networkName?: string;
    /** macvlan mode (Docker's `macvlan_mode`, always sent explicitly). Default `bridge` (`DEFAULT_MODE`). */
    readonly mode?: MacvlanMode;
    /**
     * IPAM pools (subnet, gateway, ipRange), in order. At least one IPv4 pool; an IPv6 pool beside
     * it makes the network dual stack (the docker.Network then gets `ipv6: true`, and only then).
     */
    readonly ipam: IpamPoolModel[];
    /** Reserved addresses by name; each goes to the pool whose subnet contains it. Default none. */
    readonly auxAddresses?: Readonly<Record<string, string>>;
    /** VLAN id the network rides on (informational: `hosts[].parent` already names the sub-interface). */
    readonly vlan?: number;
    /** Hosts the network is created on, in order. */
    readonly hosts: MacvlanNetworkHost[];
    /** Containers pinned on the network. Default none. */
    readonly containers?: MacvlanNetworkContainer[];
}

/** A container's address and MAC on one network it joins. */
export interface MacvlanContainerJoinOutputs {
    /** The joined network's Docker name. */
    readonly network: pulumi.Input<string>;
    /** Its IPv4 address there. */
    readonly ip: string;
    /** Its IPv6 address there, when it has one. */
    readonly ip6?: string;
    /** Its MAC there. */
    readonly mac: string;
}

/** Outputs per container. */
export interface MacvlanContainerOutputs {
    /** The host it runs on. */
    readonly host: string;
    /** Its address and MAC on this network. */
    readonly ip: string;
    /** The pinned IPv6 address, when it has one. */
    readonly ip6?: string;
    /** Its MAC on this network. */
    readonly mac: string;
    /** Its further networks, with its address and MAC on each; absent when it joins none. */
    readonly joins?: MacvlanContainerJoinOutputs[];
    /** The Docker container id. */
    readonly id: pulumi.Output<string>;
}

/** Gateway priority of the endpoint that gives a container on several networks its default route. */
export const DEFAULT_ROUTE_GW_PRIORITY = 1;

/** Outputs per host. */
export interface MacvlanNetworkHostOutputs {
    /** Docker network id on this host. */
    readonly id: pulumi.Output<string>;
    /** The parent link on this host. */
    readonly parent: string;
    /** Containers on this host, by name. */
    readonly containers: Readonly<Record<string, MacvlanContainerOutputs>>;
}

/**
 * The container's inputs. Chosen so that a re-run with the same config shows no change
 * (pulumi-docker wraps kreuzwerker/terraform-provider-docker, whose read-back decides it):
 * - `image`: the RemoteImage's `imageId` (`sha256:…`), not the reference: the provider reads
 *   `Config.Image` back as the id, so a name would show as a replacement on every run
 *   (hashicorp/terraform-provider-docker#242; the provider documents `image_id`). A moved tag
 *   therefore changes nothing until the image is pulled again.
 * - `networkMode`: `bridge`, see `CONTAINER_NETWORK_MODE` (`plan/network.ts`).
 * - `networksAdvanced`: one entry, `name` is the network resource's name output (so the
 *   container follows the network), `ipv4Address` and `macAddress` pinned, and `ipv6Address`
 *   only when the container has one (an unset input stays out, so existing containers see no
 *   diff); then one entry per join, in order. With joins, the entry of the network that gives the
 *   default route gets `gwPriority` 1 (Docker 28+; the others none, i.e. 0); without, no entry
 *   has one, so a container on one network keeps the inputs it always had. The provider does not
 *   read it back, so it never drifts. On engines older than 25 (API < 1.44) the daemon ignores a
 *   per-network MAC and derives `02:42:<IPv4 bytes>` itself, which is exactly the default MAC of
 *   the model: default MACs are stable on every engine, custom ones need Engine 25+.
 * - `restart`: always sent (default `unless-stopped`); it is read back as set.
 * - `envs`: sorted by key (the provider neither reads env back nor cares about order, but a
 *   stable order keeps preview quiet); left out when empty.
 * - `command`: left out when not configured (the provider computes it from the image).
 * - Not set on purpose: `logDriver` (computed from the daemon's default, which differs between
 *   distributions; setting `json-file` would replace containers on journald hosts), `mustRun`
 *   (default true, not read back: a stopped container is started again), `wait` (needs a
 *   healthcheck, else create fails), `hostname`, `init`, `user`, `workingDir` (all computed).
 */
export function containerArgs(
    c: MacvlanNetworkContainer,
    image: pulumi.Input<string>,
    networkName: pulumi.Input<string>,
): docker.ContainerArgs {
    return {
        name: c.name,
        image,
        networkMode: CONTAINER_NETWORK_MODE,
        networksAdvanced: endpoints(c, networkName),
        restart: c.restart ?? DEFAULT_RESTART,
        ...(c.command === undefined ? {} : { command: [...c.command] }),
        ...(c.env === undefined
            ? {}
            : { envs: pulumi.output(c.env).apply((e) => sortedEnvs(e as Readonly<Record<string, string>>)) }),
    };
}

/** The container's `networksAdvanced`: this network, then its joins; gateway priority only with joins. */
function endpoints(c: MacvlanNetworkContainer, networkName: pulumi.Input<string>): docker.types.input.ContainerNetworksAdvanced[] {
    const joins = c.joins ?? [];
    const here = joins.length > 0 && !joins.some((j) => j.defaultRoute === true);
    const priority = (on: boolean) => (on ? { gwPriority: DEFAULT_ROUTE_GW_PRIORITY } : {});
    const v6 = (address: string | undefined) => (address === undefined ? {} : { ipv6Address: address });
    return [
        { name: networkName, ipv4Address: c.ipv4Address, ...v6(c.ipv6Address), macAddress: c.mac, ...priority(here) },
        ...joins.map((j) => ({ name: j.network, ipv4Address: j.ipv4Address, ...v6(j.ipv6Address), macAddress: j.mac, ...priority(j.defaultRoute === true) })),
    ];
}

/** The children of a MacvlanNetwork that TypeScript programs reach through its getters (not in the package's schema). */
interface NetworkChildren {
    readonly networks: ReadonlyMap<string, docker.Network>;
    readonly containers: ReadonlyMap<string, docker.Container>;
}

/**
 * Kept beside each MacvlanNetwork, not on it: the component package's schema lists the class's
 * properties as outputs, and it cannot describe a Map of resources; the getters give them to
 * TypeScript, and `hostOutputs` gives their ids to every language.
 */
const NETWORK_CHILDREN = new WeakMap<MacvlanNetwork, NetworkChildren>();

function networkChildren(network: MacvlanNetwork): NetworkChildren {
    const c = NETWORK_CHILDREN.get(network);
    if (c === undefined) throw new Error("internal: a MacvlanNetwork without its children");
    return c;
}

/**
 * A macvlan network on every host it spans, with its pinned containers. Children per host:
 * `<name>-<host>` (docker.Network through the host's provider, after `dependsOn`); per host and
 * plain image reference: `<name>-<host>-images/<reference>` (docker.RemoteImage, kept locally on
 * destroy; an image given as an Output: `<name>-<host>-<container>-image`, per container); per
 * container: `<name>-<host>-<container>` (docker.Container); per host given by its SSH endpoint
 * (`hosts[].docker`) instead of a provider: `<name>-<host>-docker` (its Docker provider).
 */
export class MacvlanNetwork extends pulumi.ComponentResource {
    /** Docker network name. */
    readonly networkName: string;
    /** macvlan mode of the network on every host. */
    readonly mode: MacvlanMode;
    /** VLAN id the network rides on, when it has one. */
    readonly vlan?: number;
    /** Outputs per host: network id, parent and containers. */
    readonly hostOutputs: Readonly<Record<string, MacvlanNetworkHostOutputs>>;

    /** docker.Network per host name. */
    get networks(): ReadonlyMap<string, docker.Network> {
        return networkChildren(this).networks;
    }
    /** docker.Container per `<host>/<container>`. */
    get containers(): ReadonlyMap<string, docker.Container> {
        return networkChildren(this).containers;
    }

    constructor(name: string, args: MacvlanNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        // Checked before anything is registered.
        const { problems, ipam, ipamByHost, ipv6 } = planNetwork(name, args);
        const endpoints = dockerEndpoints(
            name,
            args.hosts.map((h) => ({ name: h.name, parent: h.parent, hasProvider: h.provider !== undefined, ...(h.docker === undefined ? {} : { docker: h.docker }) })),
        );
        if (ipam === undefined || ipamByHost === undefined || endpoints.problems.length > 0) {
            throw problemsOf(`MacvlanNetwork ${name}`, [...problems, ...endpoints.problems]);
        }
        super(MACVLAN_NETWORK_TYPE, name, {}, opts);
        this.networkName = args.networkName ?? name;
        this.mode = args.mode ?? DEFAULT_MODE;
        this.vlan = args.vlan;

        const networks = new Map<string, docker.Network>();
        const containers = new Map<string, docker.Container>();
        const hostOutputs: Record<string, MacvlanNetworkHostOutputs> = {};
        // The containers by host, in order (one pass, not one scan of every container per host).
        const byHost = new Map<string, MacvlanNetworkContainer[]>();
        for (const c of args.containers ?? []) {
            const list = byHost.get(c.host);
            if (list === undefined) byHost.set(c.host, [c]);
            else list.push(c);
        }
        for (const host of args.hosts) {
            const endpoint = endpoints.endpoints.get(host.name);
            const provider =
                endpoint === undefined
                    ? (host.provider as docker.Provider)
                    : new docker.Provider(networkChildNames.dockerProvider(name, host.name), { host: endpoint.host, sshOpts: [...endpoint.sshOpts] }, { parent: this });
            const network = new docker.Network(
                networkChildNames.network(name, host.name),
                {
                    name: this.networkName,
                    driver: "macvlan",
                    options: { parent: host.parent, macvlan_mode: this.mode },
                    ipamConfigs: ipamByHost.get(host.name) ?? ipam,
                    // Only on a dual-stack network: see NetworkPlan.ipv6.
                    ...(ipv6 === true ? { ipv6: true } : {}),
                },
                { parent: this, provider, dependsOn: host.dependsOn ?? [] },
            );
            networks.set(host.name, network);
            const hostContainers: Record<string, MacvlanContainerOutputs> = {};
            // One RemoteImage per plain image reference on this host, shared by its containers;
            // an image given as an Output gets its own, per container.
            const images = new Map<string, docker.RemoteImage>();
            const imageOf = (c: MacvlanNetworkContainer): docker.RemoteImage => {
                const ref = typeof c.image === "string" ? c.image : undefined;
                const known = ref === undefined ? undefined : images.get(ref);
                if (known !== undefined) return known;
                const image = new docker.RemoteImage(
                    ref === undefined ? networkChildNames.image(name, host.name, c.name) : networkChildNames.hostImage(name, host.name, ref),
                    { name: c.image, keepLocally: true },
                    { parent: this, provider },
                );
                if (ref !== undefined) images.set(ref, image);
                return image;
            };
            for (const c of byHost.get(host.name) ?? []) {
                const container = new docker.Container(
                    networkChildNames.container(name, host.name, c.name),
                    containerArgs(c, imageOf(c).imageId, network.name),
                    { parent: this, provider },
                );
                containers.set(`${host.name}/${c.name}`, container);
                hostContainers[c.name] = {
                    host: host.name,
                    ip: c.ipv4Address,
                    ...(c.ipv6Address === undefined ? {} : { ip6: c.ipv6Address }),
                    mac: c.mac,
                    ...(c.joins === undefined || c.joins.length === 0
                        ? {}
                        : { joins: c.joins.map((j) => ({ network: j.network, ip: j.ipv4Address, ...(j.ipv6Address === undefined ? {} : { ip6: j.ipv6Address }), mac: j.mac })) }),
                    id: container.id,
                };
            }
            hostOutputs[host.name] = { id: network.id, parent: host.parent, containers: hostContainers };
        }
        NETWORK_CHILDREN.set(this, { networks, containers });
        this.hostOutputs = hostOutputs;

        this.registerOutputs({
            networkName: this.networkName,
            mode: this.mode,
            vlan: this.vlan,
            hosts: hostOutputs,
        });
    }
}
