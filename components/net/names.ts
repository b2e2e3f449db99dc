/**
 * Every derived name, the same in every layer: the slug of an address (in state keys and child
 * names), the name of a VLAN sub-interface, and the components' child resource names.
 *
 * Child names are released: never change an existing one (Pulumi would replace the resource in
 * every stack); add new ones beside them.
 */

/** `198.51.100.12/32` -> `198-51-100-12-32`; also safe for IPv6 (`2001:db8::/64` -> `2001-db8---64`). */
export function addressSlug(cidrOrAddress: string): string {
    return cidrOrAddress.replace(/[.:/]/g, "-");
}

/** The link a VLAN sub-interface gets: `<parent>.<id>`. */
export function vlanLink(parent: string, id: number): string {
    return `${parent}.${id}`;
}

/** A LAN segment (a VLAN id, or the untagged LAN) as a lookup key: `untagged` or the id. */
export function segmentKey(vlan: number | undefined): string {
    return vlan === undefined ? "untagged" : String(vlan);
}

/** A LAN segment's key in the `addressPlan` stack output: `untagged` or `vlan<id>`. */
export function segmentName(vlan: number | undefined): string {
    return vlan === undefined ? "untagged" : `vlan${vlan}`;
}

/** A host's SSH target as the rules compare them, within a stack and across a fleet: `<address, lower case> port <port>`. */
export function sshTarget(address: string, port: number): string {
    return `${address.toLowerCase()} port ${port}`;
}

/** A LAN segment in messages: `the untagged LAN segment` or `LAN segment vlan 50`. */
export function segmentLabel(vlan: number | undefined): string {
    return vlan === undefined ? "the untagged LAN segment" : `LAN segment vlan ${vlan}`;
}

/** The link a network or shim on a segment hangs off: the parent itself, or `<parent>.<vlan>`. */
export function segmentLink(parent: string, vlan: number | undefined): string {
    return vlan === undefined ? parent : vlanLink(parent, vlan);
}

/** MacvlanHost's children, from the component (host) name. */
export const hostChildNames = {
    preflight: (host: string) => `${host}-preflight`,
    promisc: (host: string) => `${host}-promisc`,
    ipForward: (host: string) => `${host}-ipforward`,
    vlan: (host: string, id: number) => `${host}-vlan${id}`,
    shim: (host: string) => `${host}-shim`,
    shimRoute: (host: string, cidr: string) => `${host}-shim-route-${addressSlug(cidr)}`,
    dockerProvider: (host: string) => `${host}-docker`,
};

/** MacvlanNetwork's children, from the component (network) name, the host and the container. */
export const networkChildNames = {
    network: (network: string, host: string) => `${network}-${host}`,
    /** The image of one container whose image reference is an Output (not known while the graph is built). */
    image: (network: string, host: string, container: string) => `${network}-${host}-${container}-image`,
    /**
     * The one image of a host for a plain image reference, shared by every container of the
     * network on that host that runs it: `<network>-<host>-images/<reference>` (the `/` keeps it
     * apart from every per-container name, which never holds one after the host).
     */
    hostImage: (network: string, host: string, reference: string) => `${network}-${host}-images/${reference}`,
    container: (network: string, host: string, container: string) => `${network}-${host}-${container}`,
    /** The network's own Docker provider for a host given by its SSH endpoint (`hosts[].docker`) rather than a provider. */
    dockerProvider: (network: string, host: string) => `${network}-${host}-docker`,
};

/** A swarm network's config-only network on each host (`--config-from` names it): `<network>-config`. */
export function swarmConfigNetworkName(network: string): string {
    return `${network}-config`;
}

/** The longest name a swarm network may have: its config-only network's name (`<name>-config`) must be a Docker name too. */
export const SWARM_NETWORK_NAME_MAX = 64 - "-config".length;

/** MacvlanSwarmNetwork's children, from the component (network) name and the host. */
export const swarmNetworkChildNames = {
    configOnly: (network: string, host: string) => `${network}-${host}-config`,
    swarm: (network: string) => `${network}-swarm`,
};
