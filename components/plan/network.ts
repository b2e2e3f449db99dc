/**
 * The plan of one macvlan network (pure, no resource imports): its checks, the IPAM config Docker
 * gets, and how a container's plain settings are sent. MacvlanNetwork registers what this says.
 */
import type * as docker from "@pulumi/docker";
import type { IpamPoolModel } from "../config/model";
import { parseAddress, parseCidr, POOL_FAMILIES, type Cidr } from "../net/addr";
import { problemsOf } from "../net/problems";
import { hostKeyRequiredProblem, planHost, type HostConnectionSpec } from "./host";

/**
 * The container's network mode as sent to Docker. Always `bridge`, explicitly: the provider
 * creates the container on it, disconnects it and connects the `networksAdvanced` networks
 * before the first start, then reads `HostConfig.NetworkMode` back into state — and that stays
 * what was sent. Left unset, the provider's default and what newer engines (26.1+) report stop
 * agreeing, and every run shows `- networkMode: "bridge"`, a replacement (pulumi/pulumi-docker#1272,
 * kreuzwerker/terraform-provider-docker#603 and #723, hashicorp/consul#21043). Setting it to the
 * macvlan network's name instead would make Docker attach the container at create time without
 * the pinned address, and the provider's later connect to the same network is then a silent
 * no-op in the engine: the pin would be lost. See `containerArgs` for the other choices.
 */
export const CONTAINER_NETWORK_MODE = "bridge";

/** What the checks read of a network's arguments. */
export interface NetworkSpec {
    readonly ipam: readonly IpamPoolModel[];
    readonly auxAddresses?: Readonly<Record<string, string>>;
    readonly hosts: readonly { readonly name: string; readonly ipRange?: string }[];
    readonly containers?: readonly {
        readonly name: string;
        readonly host: string;
        readonly ipv6Address?: string;
        readonly joins?: readonly { readonly ipv4Address: string; readonly ipv6Address?: string; readonly defaultRoute?: boolean }[];
    }[];
}

/** What planNetwork gives: every problem, or the IPAM config and whether the network is dual stack. */
export interface NetworkPlan {
    readonly problems: readonly string[];
    readonly ipam?: docker.types.input.NetworkIpamConfig[];
    readonly ipamByHost?: ReadonlyMap<string, docker.types.input.NetworkIpamConfig[]>;
    /**
     * True when a pool is IPv6: the docker.Network then gets `ipv6: true` (Docker's `--ipv6`,
     * without which the engine refuses an IPv6 pool). Only then: sending `ipv6: false` to the
     * networks of existing stacks would be an input change, and every input of a docker.Network
     * replaces it.
     */
    readonly ipv6?: boolean;
}

/**
 * Either every problem with a network's arguments (each `MacvlanNetwork <name>: …`), or its IPAM
 * config: `ipam` as the pools say, and `ipamByHost`, what each host's Docker network gets: the
 * same, except that a host's `ipRange` (its slice, IPv4) replaces the ipRange of the pool whose
 * subnet holds it; the other pools (an IPv6 pool, a second IPv4 pool) are sent as they are. A host
 * without one gets `ipam` exactly.
 */
export function planNetwork(name: string, spec: NetworkSpec): NetworkPlan {
    const problems: string[] = [];
    if (spec.ipam.length === 0) problems.push(`MacvlanNetwork ${name}: needs at least one IPAM pool`);
    const hostNames = new Set(spec.hosts.map((h) => h.name));
    for (const c of spec.containers ?? []) {
        if (!hostNames.has(c.host)) problems.push(`MacvlanNetwork ${name}: container ${c.name} is on host ${c.host}, which the network does not span`);
        const joins = c.joins ?? [];
        if (joins.filter((j) => j.defaultRoute === true).length > 1) problems.push(`MacvlanNetwork ${name}: container ${c.name} has more than one join with defaultRoute; one network gives the default route`);
        for (const j of joins) {
            if (!parseAddress(j.ipv4Address).ok) problems.push(`MacvlanNetwork ${name}: container ${c.name} joins a network at ${j.ipv4Address}, which is not an address`);
        }
    }
    const ipam = ipamProblemsOr(name, spec.ipam, spec.auxAddresses ?? {});
    if (Array.isArray(ipam)) problems.push(...ipam);
    const ipamByHost = new Map<string, docker.types.input.NetworkIpamConfig[]>();
    const slices: { host: string; block: Cidr }[] = [];
    for (const h of spec.hosts) {
        if (Array.isArray(ipam)) break;
        if (h.ipRange === undefined) {
            ipamByHost.set(h.name, ipam.configs);
            continue;
        }
        const r = parseCidr(h.ipRange);
        const at = r.ok ? spec.ipam.findIndex((p) => { const s = parseCidr(p.subnet, POOL_FAMILIES); return s.ok && s.value.contains(r.value); }) : -1;
        if (!r.ok) problems.push(`MacvlanNetwork ${name}: host ${h.name}'s ipRange ${h.ipRange} ${r.problem}`);
        else if (at < 0) problems.push(`MacvlanNetwork ${name}: host ${h.name}'s ipRange ${h.ipRange} is not inside any subnet`);
        else {
            // Two hosts with overlapping slices: their engines could hand out the same address.
            const twin = slices.find((x) => x.block.overlaps(r.value));
            if (twin !== undefined) problems.push(`MacvlanNetwork ${name}: host ${h.name}'s ipRange ${h.ipRange} overlaps host ${twin.host}'s ${twin.block.toString()}`);
            slices.push({ host: h.name, block: r.value });
            ipamByHost.set(h.name, ipam.configs.map((c, i) => (i === at ? { ...c, ipRange: h.ipRange } : c)));
        }
    }
    const families = spec.ipam.map((p) => {
        const c = parseCidr(p.subnet, POOL_FAMILIES);
        return c.ok ? c.value.family : undefined;
    });
    const ipv6 = families.includes("ipv6");
    if (ipv6 && !families.includes("ipv4")) problems.push(`MacvlanNetwork ${name}: has an IPv6 pool but no IPv4 pool; IPv6 is supported as dual stack only`);
    // A container's IPv6 address: an IPv6 address inside an IPv6 pool (Docker: "does not belong to any of this network's subnets").
    for (const c of spec.containers ?? []) {
        if (c.ipv6Address === undefined) continue;
        const a = parseAddress(c.ipv6Address, POOL_FAMILIES);
        if (!a.ok) problems.push(`MacvlanNetwork ${name}: container ${c.name}'s ipv6Address ${c.ipv6Address} ${a.problem}`);
        else if (a.value.family !== "ipv6") problems.push(`MacvlanNetwork ${name}: container ${c.name}'s ipv6Address ${c.ipv6Address} is not an IPv6 address`);
        else if (!spec.ipam.some((p) => { const s = parseCidr(p.subnet, POOL_FAMILIES); return s.ok && s.value.contains(a.value); })) {
            problems.push(`MacvlanNetwork ${name}: container ${c.name}'s ipv6Address ${c.ipv6Address} is not inside any IPv6 pool`);
        }
    }
    if (problems.length > 0 || Array.isArray(ipam)) return { problems };
    return { problems, ipam: ipam.configs, ipamByHost, ipv6 };
}

/**
 * The IPAM config Docker gets, one entry per pool; aux addresses go to the pool containing them.
 * Empty fields are left out rather than sent empty: the provider reads the pools back from
 * `docker network inspect` into a set, and an empty map or string would not match what Docker
 * reports (kreuzwerker/terraform-provider-docker#54). Note that a pool without a gateway gets one
 * assigned by engines before 29, which then reads back as a change: configure the LAN router.
 */
export function ipamConfigs(name: string, pools: readonly IpamPoolModel[], aux: Readonly<Record<string, string>>): docker.types.input.NetworkIpamConfig[] {
    const r = ipamProblemsOr(name, pools, aux);
    if (Array.isArray(r)) throw problemsOf(`MacvlanNetwork ${name}`, r);
    return r.configs;
}

function ipamProblemsOr(name: string, pools: readonly IpamPoolModel[], aux: Readonly<Record<string, string>>): string[] | { configs: docker.types.input.NetworkIpamConfig[] } {
    const problems: string[] = [];
    const subnets = pools.map((p) => {
        const c = parseCidr(p.subnet, POOL_FAMILIES);
        if (!c.ok) problems.push(`MacvlanNetwork ${name}: subnet ${p.subnet} ${c.problem}`);
        return c.ok ? c.value : undefined;
    });
    const auxByPool: Record<string, string>[] = pools.map(() => ({}));
    for (const key of Object.keys(aux).sort()) {
        const a = parseAddress(aux[key], POOL_FAMILIES);
        const at = a.ok ? subnets.findIndex((s) => s !== undefined && s.contains(a.value)) : -1;
        if (at < 0) problems.push(`MacvlanNetwork ${name}: aux address ${key} ${aux[key]} is not inside any subnet`);
        else auxByPool[at][key] = aux[key];
    }
    if (problems.length > 0) return problems;
    return { configs: pools.map((p, i) => ({
        subnet: p.subnet,
        ...(p.gateway === undefined ? {} : { gateway: p.gateway }),
        ...(p.ipRange === undefined ? {} : { ipRange: p.ipRange }),
        ...(Object.keys(auxByPool[i]).length === 0 ? {} : { auxAddress: auxByPool[i] }),
    })) };
}

/** `KEY=value` lines sorted by key, so a reordered map gives the same input. */
export function sortedEnvs(env: Readonly<Record<string, string>>): string[] {
    return Object.keys(env)
        .sort()
        .map((k) => `${k}=${env[k]}`);
}

/** The Docker provider endpoint of a host that a network reaches by its own provider. */
export interface DockerEndpoint {
    /** `ssh://user@address:port`. */
    readonly host: string;
    /** The provider's `sshOpts` (pinned host key, identity file). */
    readonly sshOpts: readonly string[];
}

/** What `dockerEndpoints` reads of a network's host. */
export interface NetworkHostEndpointSpec {
    readonly name: string;
    readonly parent: string;
    /** Whether the host comes with a Docker provider. */
    readonly hasProvider: boolean;
    /** The engine's SSH endpoint, for a host without a provider. */
    readonly docker?: HostConnectionSpec;
}

/**
 * Each host given by its engine's SSH endpoint (`docker`) rather than a provider, with the
 * endpoint its own Docker provider gets: exactly MacvlanHost's (`planHost`'s checks of the
 * connection and parent, the same `ssh://` host and pinned-key options), or every problem. A host
 * needs exactly one of the two.
 */
export function dockerEndpoints(name: string, hosts: readonly NetworkHostEndpointSpec[]): { problems: string[]; endpoints: Map<string, DockerEndpoint> } {
    const problems: string[] = [];
    const endpoints = new Map<string, DockerEndpoint>();
    hosts.forEach((h, i) => {
        const at = `MacvlanNetwork ${name}: hosts[${i}] (${h.name})`;
        if (h.hasProvider === (h.docker !== undefined)) {
            problems.push(`${at} needs exactly one of provider (MacvlanHost.dockerProvider, in TypeScript) and docker (the engine's SSH endpoint)`);
            return;
        }
        if (h.docker === undefined) return;
        if ((h.docker.hostKey) === undefined) {
            problems.push(`${at} docker.${hostKeyRequiredProblem(h.docker).replace(/^connection\./, "")}`);
            return;
        }
        const r = planHost(h.name, { connection: h.docker, parent: h.parent, promisc: false, ipForward: false });
        if (r.plan === undefined) problems.push(...r.problems.map((p) => `${at} docker: ${p}`));
        else endpoints.set(h.name, { host: r.plan.docker.host, sshOpts: r.plan.docker.sshOpts });
    });
    return { problems, endpoints };
}
