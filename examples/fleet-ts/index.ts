/**
 * A small macvlan fleet, written against the published package (`import ... from "pulumi-macvlan"`,
 * as any other stack would use it):
 *
 * - three hosts on one LAN (SSH on 192.0.2.11-13, parent NIC `ens18`, a trunk carrying VLANs 50
 *   and 60); node1 gets a shim, so it reaches its own container `web`;
 * - `lan`, untagged, 198.51.100.0/24, on all three hosts: each host's engine hands out addresses
 *   from its own slice (`ipRange`), and `web`, `db` and `cache` are pinned;
 * - `apps`, VLAN 50, 203.0.113.0/24, on node2 and node3, with `api` pinned on each;
 * - `lab`, VLAN 60, 198.18.0.0/24 (benchmark range), on node3 alone, with `probe` pinned.
 *
 * Every address is a documentation (or benchmark) address and every host key a made-up, well-formed
 * placeholder: put your hosts' own (`ssh-keyscan -t ed25519 -p 22 <address>`, from a network you
 * trust). The private key is a secret of the stack: `pulumi config set --secret sshPrivateKey < key`.
 */
import * as pulumi from "@pulumi/pulumi";
import { MacvlanHost, MacvlanNetwork, type MacvlanNetworkContainer } from "pulumi-macvlan";

const config = new pulumi.Config();
const privateKey = config.requireSecret("sshPrivateKey");

/** The NIC that carries the LAN on every host. */
const PARENT = "ens18";

/** The hosts: SSH address, pinned host key (placeholders), VLANs, and the optional shim. */
const HOSTS = {
    node1: {
        address: "192.0.2.11",
        hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIvTs4v5F1BJDeGvy6tw95RmLwksUpmmZ1mvjScYS7gn",
        vlans: [],
        // node1 reaches its own container `web` (198.51.100.10) through the shim.
        shim: { address: "198.51.100.250/32", routes: ["198.51.100.10/32"] },
    },
    node2: {
        address: "192.0.2.12",
        hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ74XnyM8PPhuiIyXEVVF+mHMmkFD5ZcxA8kvAkKQ1je",
        vlans: [50],
    },
    node3: {
        address: "192.0.2.13",
        hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM0cp0Q3Ulpq3l/9zYpkwSNGIrLv9SMdUmTJCoeUhRQ2",
        vlans: [50, 60],
    },
} as const;
type HostName = keyof typeof HOSTS;

const hosts = new Map<HostName, MacvlanHost>();
for (const [name, h] of Object.entries(HOSTS) as [HostName, (typeof HOSTS)[HostName]][]) {
    hosts.set(
        name,
        new MacvlanHost(name, {
            connection: { address: h.address, hostKey: h.hostKey, privateKey },
            parent: PARENT,
            vlans: [...h.vlans],
            needsDocker: true,
            ...("shim" in h ? { shim: { address: h.shim.address, routes: [...h.shim.routes] } } : {}),
        }),
    );
}

function host(name: HostName): MacvlanHost {
    const h = hosts.get(name);
    if (h === undefined) throw new Error(`no host ${name}`);
    return h;
}

/** A container pinned at `ip`, with the MAC Docker itself would derive from it (`02:42:<IPv4 bytes>`). */
function pinned(name: string, on: HostName, image: string, ip: string): MacvlanNetworkContainer {
    const mac = ["02", "42", ...ip.split(".").map((b) => Number(b).toString(16).padStart(2, "0"))].join(":");
    return { name, host: on, image, ipv4Address: ip, mac };
}

/**
 * One macvlan network on the VLAN `vlan` (undefined: the untagged LAN) of the hosts named in
 * `slices`, each with its slice of the subnet for the addresses its engine hands out.
 */
function network(
    name: string,
    args: {
        vlan?: number;
        subnet: string;
        gateway: string;
        slices: Partial<Record<HostName, string>>;
        auxAddresses?: Record<string, string>;
        containers: MacvlanNetworkContainer[];
    },
): MacvlanNetwork {
    const on = Object.entries(args.slices) as [HostName, string][];
    return new MacvlanNetwork(name, {
        ipam: [{ subnet: args.subnet, gateway: args.gateway }],
        ...(args.vlan === undefined ? {} : { vlan: args.vlan }),
        ...(args.auxAddresses === undefined ? {} : { auxAddresses: args.auxAddresses }),
        hosts: on.map(([h, ipRange]) => ({
            name: h,
            parent: host(h).parentFor(args.vlan),
            ipRange,
            provider: host(h).dockerProvider,
            dependsOn: [host(h)],
        })),
        containers: args.containers,
    });
}

const lan = network("lan", {
    subnet: "198.51.100.0/24",
    gateway: "198.51.100.1",
    slices: { node1: "198.51.100.64/27", node2: "198.51.100.96/27", node3: "198.51.100.128/27" },
    // Docker never hands out the shim's address.
    auxAddresses: { "node1-shim": "198.51.100.250" },
    containers: [
        pinned("web", "node1", "nginx:1.27", "198.51.100.10"),
        pinned("db", "node2", "postgres:17", "198.51.100.11"),
        pinned("cache", "node3", "redis:7", "198.51.100.12"),
    ],
});

const apps = network("apps", {
    vlan: 50,
    subnet: "203.0.113.0/24",
    gateway: "203.0.113.1",
    slices: { node2: "203.0.113.64/27", node3: "203.0.113.96/27" },
    containers: [pinned("api-a", "node2", "nginx:1.27", "203.0.113.10"), pinned("api-b", "node3", "nginx:1.27", "203.0.113.11")],
});

const lab = network("lab", {
    vlan: 60,
    subnet: "198.18.0.0/24",
    gateway: "198.18.0.1",
    slices: { node3: "198.18.0.128/25" },
    containers: [pinned("probe", "node3", "busybox:1.37", "198.18.0.10")],
});

/** Each host's parent and VLANs, and its shim. */
export const fleet = Object.fromEntries(
    [...hosts].map(([name, h]) => [name, { address: h.address, parent: h.parent, vlans: h.vlans, ...(h.shim === undefined ? {} : { shim: h.shim }) }]),
);

/** Per network, per host: the Docker network id and the pinned containers (address, MAC, container id). */
export const networks = Object.fromEntries([lan, apps, lab].map((n) => [n.networkName, { mode: n.mode, vlan: n.vlan ?? null, hosts: n.hostOutputs }]));

/** Where to reach the web server: its address on the LAN (node1 reaches it through its shim). */
export const webUrl = `http://${lan.hostOutputs["node1"].containers["web"].ip}/`;
