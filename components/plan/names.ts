/**
 * Child resource names: pure functions of the component name. These names are released: never
 * change an existing one (Pulumi would replace the resource); add new ones beside them.
 */

/** `198.51.100.12/32` -> `198-51-100-12-32`; also safe for IPv6 (`2001:db8::/64` -> `2001-db8---64`). */
export function addressSlug(cidrOrAddress: string): string {
    return cidrOrAddress.replace(/[.:/]/g, "-");
}

export const hostChildNames = {
    preflight: (host: string) => `${host}-preflight`,
    promisc: (host: string) => `${host}-promisc`,
    ipForward: (host: string) => `${host}-ipforward`,
    vlan: (host: string, id: number) => `${host}-vlan${id}`,
    shim: (host: string) => `${host}-shim`,
    shimRoute: (host: string, cidr: string) => `${host}-shim-route-${addressSlug(cidr)}`,
    dockerProvider: (host: string) => `${host}-docker`,
};

export const networkChildNames = {
    network: (network: string, host: string) => `${network}-${host}`,
    image: (network: string, host: string, container: string) => `${network}-${host}-${container}-image`,
    container: (network: string, host: string, container: string) => `${network}-${host}-${container}`,
};
