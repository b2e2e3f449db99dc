/**
 * The typed model of a stack: what `parseStackConfig` (config/parse.ts) builds from the `macvlan:hosts` and
 * `macvlan:networks` config keys after validation. Types only; no resource imports.
 *
 * Kept open for what comes next: a network holds a list of IPAM pools (not one subnet), an
 * address is a string whose family is decided by parsing (IPv4, or IPv6 beside it), and a
 * container lists its network attachments (the network it is declared under, then the ones it joins).
 */

/**
 * The four macvlan modes of the Linux driver, as Docker's `macvlan_mode` option spells them. An
 * object of names and a type of its values: TypeScript takes the values ("bridge"), and the
 * component package's schema gets an enum with these names (`MacvlanMode.Bridge` in Python, Go, C#).
 */
export const MacvlanMode = {
    /** Containers on one parent reach each other directly inside the host (the default). */
    Bridge: "bridge",
    /** Every frame goes out to the switch, also between containers on one parent (the switch must reflect it: hairpin). */
    Vepa: "vepa",
    /** Like vepa, and containers on one parent never reach each other. */
    Private: "private",
    /** The parent belongs to one container alone (one container per network and host). */
    Passthru: "passthru",
} as const;
export type MacvlanMode = (typeof MacvlanMode)[keyof typeof MacvlanMode];
export const MACVLAN_MODES: readonly MacvlanMode[] = ["bridge", "vepa", "private", "passthru"];

export const DEFAULT_SSH_PORT = 22;
export const DEFAULT_SSH_USER = "root";
/** Name of the host shim link (a bridge-mode macvlan; at most 15 characters). */
export const DEFAULT_SHIM_LINK = "macvlan-shim";
export const DEFAULT_MODE: MacvlanMode = "bridge";
/** Put the parent NIC in promiscuous mode unless a host says `promisc: false`. */
export const DEFAULT_PROMISC = true;
/** Ensure `net.ipv4.ip_forward=1` unless a host says `ipForward: false`. */
export const DEFAULT_IP_FORWARD = true;

/** The host shim: a bridge-mode macvlan link on the host, so the host reaches its own containers. */
export interface ShimModel {
    /** The shim's address (no prefix): must lie in the subnet of a network on the same segment. */
    readonly address: string;
    /** The VLAN whose sub-interface carries the shim; absent: the untagged parent. */
    readonly vlan?: number;
}

/** One Linux host, as validated. */
export interface HostModel {
    /** Unique, `[a-z0-9-]`, used in resource names. */
    readonly name: string;
    /** SSH target: an IP address or a DNS name. */
    readonly address: string;
    readonly port: number;
    readonly user: string;
    /** Pinned SSH host key, `<type> <base64>`; absent: not pinned. */
    readonly hostKey?: string;
    /** The NIC that carries the LAN. */
    readonly parent: string;
    readonly promisc: boolean;
    readonly ipForward: boolean;
    /** 802.1Q VLAN ids whose sub-interfaces `<parent>.<id>` this host gets, sorted, unique. */
    readonly vlans: readonly number[];
    readonly shim?: ShimModel;
    /**
     * The host's Docker Engine version as `major.minor` when the user declares it. The engine rules
     * use it when the probe is off or found no answering engine (with the probe on, the probed
     * version wins and must agree with it: config/engine.ts); absent and not probed: unknown, and
     * version-dependent rules assume the oldest supported engine (20.10).
     */
    readonly dockerVersion?: string;
}

/**
 * One IPAM pool of a Docker network. Several per network, of either family; the pools of one
 * network do not overlap, and a network with an IPv6 pool has an IPv4 pool too (dual stack).
 */
export interface IpamPoolModel {
    /** CIDR with no host bits, IPv4 (`198.51.100.0/24`) or IPv6 (`2001:db8::/64`). */
    readonly subnet: string;
    /** The real LAN router; absent: Docker gets no gateway (29+ then gives no default route). */
    readonly gateway?: string;
    /** Sub-range for dynamic allocation, CIDR inside `subnet`. */
    readonly ipRange?: string;
}

/** A container's attachment to one network, with its pinned address and MAC. */
export interface AttachmentModel {
    /** The Docker network name. */
    readonly network: string;
    /** Pinned IPv4 address (no prefix). */
    readonly ipv4Address: string;
    /** Pinned IPv6 address (no prefix, RFC 5952 text), on a network with an IPv6 pool; absent on one without. */
    readonly ipv6Address?: string;
    /** Unicast MAC `xx:xx:xx:xx:xx:xx`, lower case; derived from the address when not configured. */
    readonly mac: string;
}

/** One container pinned on one host. */
export interface ContainerModel {
    /** Docker container name, unique per host. */
    readonly name: string;
    readonly host: string;
    readonly image: string;
    /**
     * Its networks on its host: the first is the network the container is declared under, the
     * others the further networks it joins (`networks` in config), in config order.
     */
    readonly attachments: readonly AttachmentModel[];
    /**
     * With several attachments: the network whose gateway gives the container its default route
     * (config `defaultRoute`, default the first attachment's). Absent with one attachment.
     */
    readonly defaultRoute?: string;
    readonly command?: readonly string[];
    readonly env?: Readonly<Record<string, string>>;
    /** Every env value is a secret (macvlan:networks is a secret config key): buildStack sends them as Pulumi secrets. */
    readonly envSecret?: true;
    /** Docker restart policy; default `unless-stopped`. */
    readonly restart: RestartPolicy;
}

/** Docker's restart policy of a container: an object of names and a type of its values, as MacvlanMode. */
export const RestartPolicy = {
    /** Never restarted. */
    No: "no",
    /** Restarted when it exits with a non-zero status. */
    OnFailure: "on-failure",
    /** Always restarted, also when the daemon starts after it was stopped by hand. */
    Always: "always",
    /** Always restarted, except when it was stopped by hand (the default). */
    UnlessStopped: "unless-stopped",
} as const;
export type RestartPolicy = (typeof RestartPolicy)[keyof typeof RestartPolicy];
/** Docker's restart policies. */
export const RESTART_POLICIES: readonly RestartPolicy[] = ["no", "on-failure", "always", "unless-stopped"];
export const DEFAULT_RESTART: RestartPolicy = "unless-stopped";

/** One macvlan network, created on every host it spans. */
export interface NetworkModel {
    /** Docker network name, the same on every host. */
    readonly name: string;
    /** The VLAN whose sub-interface `<host parent>.<vlan>` is this network's parent; absent: the parent itself. */
    readonly vlan?: number;
    readonly mode: MacvlanMode;
    readonly ipam: readonly IpamPoolModel[];
    /** Reserved addresses Docker must not hand out, by name. */
    readonly auxAddresses: Readonly<Record<string, string>>;
    /** Names of the hosts it spans, in config order. */
    readonly hosts: readonly string[];
    /**
     * Each host's slice of the dynamic range, by host name (CIDR inside the pool's `ipRange`, or its
     * subnet; a slot number of the config is resolved to its CIDR here): the `ipRange` that host's Docker network gets instead of the network's. Absent: every
     * host gets the network's `ipRange` (as before slices existed). When present, every host has one.
     */
    readonly slices?: Readonly<Record<string, string>>;
    readonly containers: readonly ContainerModel[];
    /**
     * `swarm: true`: a config-only network on each host (its parent, mode and slice) and one
     * swarm-scoped network made from them with `--config-from` on the manager, the first of
     * `hosts`, for swarm services. No pinned containers. Absent: a local network per host.
     */
    readonly swarm?: true;
}

export interface StackModel {
    readonly hosts: readonly HostModel[];
    readonly networks: readonly NetworkModel[];
}
