/**
 * The entry point of config validation: `parseStackConfig` turns the raw stack config
 * (`macvlan:hosts`, `macvlan:networks`) into the typed model, before any resource is registered.
 * Every problem is collected and thrown once as a `MacvlanConfigError` whose `problems` read
 * `<path> <value> <rule>`, e.g. `networks[0].containers[1].ip 10.9.9.9 does not belong to subnet 198.51.100.0/24`.
 *
 * Each entry is checked on its own first (hosts.ts, networks.ts: types, syntax, address math
 * inside one network), then the rules across entries run on what passed (cross.ts, and
 * segments.ts for each LAN segment). Pure: no resource imports.
 */
import { MacvlanConfigError } from "../net/problems";
import { checkHostsAcross, checkNetworksAcross, type EngineRuleOptions } from "./cross";
import { checkFleet, type FleetPeer } from "./fleet";
import { checkHost, type CheckedHost, type HostKeyPolicy } from "./hosts";
import type { AttachmentModel, ContainerModel, HostModel, NetworkModel, StackModel } from "./model";
import { checkNetwork, type CheckedContainer, type CheckedNetwork } from "./networks";
import { checkSwarmNetworks } from "./swarm";
import { Problems } from "./problems";
import { isMap, own, type RawMap } from "./read";

/** The two structured config keys as read from Pulumi config (`config.getObject`), unvalidated. */
export interface RawStackConfig {
    readonly hosts: unknown;
    readonly networks: unknown;
    /**
     * True when macvlan:networks is a secret config key: Pulumi marks the whole key secret once any
     * value under it is set with `pulumi config set --secret --path`. Every container's env values
     * are then secrets (`ContainerModel.envSecret`), and a container's `secretEnv` is satisfied.
     * Default false.
     */
    readonly networksSecret?: boolean;
}

/** One of the two lists (`hosts`, `networks`): its entries, or none when it is missing or not a list. */
function checkList(p: Problems, raw: unknown, path: string, required: boolean): unknown[] {
    if (raw === undefined || raw === null) {
        if (required) p.addBare(path, `is required (config key macvlan:${path})`);
        return [];
    }
    if (!Array.isArray(raw)) {
        p.wrongType(path, raw, "a list");
        return [];
    }
    if (required && raw.length === 0) p.add(path, [], "must list at least one host");
    return raw as unknown[];
}

export type { HostKeyPolicy } from "./hosts";
export type { EngineRuleOptions } from "./cross";
export type { FleetPeer } from "./fleet";

/**
 * Parse, normalize (defaults, derived MACs) and validate; throws MacvlanConfigError listing all
 * problems. Every host must pin its `hostKey` unless `policy` learns unpinned keys (trust on first
 * use with the probe on): the default is safe. The rules that depend on a host's Docker Engine
 * version use each host's declared `dockerVersion` unless `engines` gives the probed engines
 * (which win), or defers those rules (the program, with the probe on, runs them after the probe:
 * `engineRuleProblems`). `peers` are the other stacks of the fleet (`macvlan:fleet`, read by the
 * program): the hosts, pools and fixed addresses are checked against theirs too (config/fleet.ts).
 */
export function parseStackConfig(raw: RawStackConfig, policy: HostKeyPolicy = {}, engines: EngineRuleOptions = {}, peers: readonly FleetPeer[] = []): StackModel {
    const p = new Problems();
    const config: RawMap = isMap(raw) ? raw : {};
    if (!isMap(raw)) p.wrongType("config", raw, "a map {hosts, networks}");

    const hosts: CheckedHost[] = [];
    checkList(p, own(config, "hosts"), "hosts", true).forEach((h, i) => {
        const checked = checkHost(p, h, i, policy);
        if (checked !== undefined) hosts.push(checked);
    });
    const byName = checkHostsAcross(p, hosts);
    const given = new Set(hosts.flatMap((h) => (h.written === undefined ? [] : [h.written])));

    const networksSecret = own(config, "networksSecret") === true;
    const networks: CheckedNetwork[] = [];
    checkList(p, own(config, "networks"), "networks", false).forEach((n, i) => {
        const checked = checkNetwork(p, n, i, { byName, given }, networksSecret);
        if (checked !== undefined) networks.push(checked);
    });
    checkNetworksAcross(p, hosts, byName, networks, engines);
    checkSwarmNetworks(p, networks);
    checkFleet(p, hosts, networks, peers);

    if (p.list.length > 0) throw new MacvlanConfigError(p.list);
    return buildModel(hosts, networks, networksSecret);
}

/**
 * The problems of the Docker Engine version rules alone, with each host's engine as the probe found
 * it (`probed`, by host name; a host missing there: its declared `dockerVersion`), for a config
 * that `parseStackConfig` accepted with those rules deferred; none: all good.
 */
export function engineRuleProblems(raw: RawStackConfig, policy: HostKeyPolicy, probed: EngineRuleOptions["probed"]): string[] {
    try {
        parseStackConfig(raw, policy, probed === undefined ? {} : { probed });
        return [];
    } catch (e) {
        if (e instanceof MacvlanConfigError) return [...e.problems];
        throw e;
    }
}

function defined<T>(v: T | undefined, what: string): T {
    if (v === undefined) throw new Error(`internal: ${what} is undefined after validation passed`);
    return v;
}

/** The attachments of a container's joins, in config order (each resolved into its network's `containers` by cross.ts). */
function joinAttachments(c: CheckedContainer): AttachmentModel[] {
    return c.joins.map((j) => {
        const entry = j.resolved;
        return {
            network: defined(j.network, `${j.path}.network`),
            ipv4Address: defined(entry?.ip, `${j.path}.ip`).toString(),
            ...(entry?.ip6 === undefined ? {} : { ipv6Address: entry.ip6.toString() }),
            mac: defined(entry?.mac, `${j.path}.mac`),
        };
    });
}

/** The model from entries that passed every check (only called when there were no problems). */
function buildModel(hosts: readonly CheckedHost[], networks: readonly CheckedNetwork[], networksSecret: boolean): StackModel {
    const hostModels: HostModel[] = hosts.map((h) => ({
        name: defined(h.name, `${h.path}.name`),
        address: defined(h.address, `${h.path}.address`),
        port: h.port,
        user: h.user,
        ...(h.hostKey === undefined ? {} : { hostKey: h.hostKey }),
        parent: defined(h.parent, `${h.path}.parent`),
        promisc: h.promisc,
        ipForward: h.ipForward,
        vlans: [...h.vlans].sort((a, b) => a - b),
        ...(h.shim === undefined
            ? {}
            : { shim: { address: defined(h.shim.address, `${h.shim.path}.address`).toString(), ...(h.shim.vlan === undefined ? {} : { vlan: h.shim.vlan }) } }),
        ...(h.dockerVersion === undefined ? {} : { dockerVersion: h.dockerVersion }),
    }));
    const networkModels: NetworkModel[] = networks.map((n) => {
        const name = defined(n.name, `${n.path}.name`);
        const containers: ContainerModel[] = n.containers.filter((c) => c.joinOf === undefined).map((c) => ({
            name: defined(c.name, `${c.path}.name`),
            host: defined(c.host, `${c.path}.host`),
            image: defined(c.image, `${c.path}.image`),
            attachments: [
                {
                    network: name,
                    ipv4Address: defined(c.ip, `${c.path}.ip`).toString(),
                    ...(c.ip6 === undefined ? {} : { ipv6Address: c.ip6.toString() }),
                    mac: defined(c.mac, `${c.path}.mac`),
                },
                ...joinAttachments(c),
            ],
            ...(c.joins.length === 0 ? {} : { defaultRoute: c.defaultRoute ?? name }),
            ...(c.command === undefined ? {} : { command: c.command }),
            ...(c.env === undefined ? {} : { env: c.env, ...(networksSecret ? { envSecret: true as const } : {}) }),
            restart: c.restart,
        }));
        const auxAddresses: Record<string, string> = {};
        for (const a of n.aux) {
            Object.defineProperty(auxAddresses, a.name, { value: defined(a.address, a.path).toString(), enumerable: true, writable: true, configurable: true });
        }
        return {
            name,
            ...(n.vlan === undefined ? {} : { vlan: n.vlan }),
            mode: n.mode,
            ipam: n.pools.map((pool) => ({
                subnet: pool.subnet.toString(),
                ...(pool.gateway === undefined ? {} : { gateway: pool.gateway.toString() }),
                ...(pool.ipRange === undefined ? {} : { ipRange: pool.ipRange.toString() }),
            })),
            auxAddresses,
            hosts: n.hosts,
            ...(n.slices === undefined ? {} : { slices: Object.fromEntries(n.slices.map((sl) => [sl.host, sl.block.toString()])) }),
            containers,
            ...(n.swarm ? { swarm: true as const } : {}),
        };
    });
    return { hosts: hostModels, networks: networkModels };
}
