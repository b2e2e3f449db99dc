/** A generated fleet's stack config (for the benchmarks and the no-op test); pure: loads no mocks and no code under test. */
import { fakeHostKey, TEST_PRIVATE_KEY } from "./keys";

/** Options of fleetConfig. */
export interface FleetOptions {
    /** Pinned containers per host on each of the two VLAN networks. Default 10 (20 per host). */
    readonly containersPerNetwork?: number;
    /** The first host's index (host names and addresses count from it). Default 0. */
    readonly first?: number;
    /** The image every container runs. Default `busybox:1`. */
    readonly image?: string;
}

/** The fleet's address plan: what one host index gets. */
export const FLEET = {
    /** VLAN 10: 198.18.0.0/16, pinned containers in the low half, engines' slices (/27 slots) in 198.18.128.0/17. */
    vlan10: { vlan: 10, subnet: "198.18.0.0/16", gateway: "198.18.0.1", ipRange: "198.18.128.0/17", sliceSize: 27 },
    /** VLAN 20: 198.19.0.0/17, pinned containers low, slices (/28 slots) in 198.19.64.0/18. */
    vlan20: { vlan: 20, subnet: "198.19.0.0/17", gateway: "198.19.0.1", ipRange: "198.19.64.0/18", sliceSize: 28 },
    /** At most this many hosts (slots of each ipRange, and container addresses below it). */
    maxHosts: 1024,
} as const;

/** Dotted quad of a 32-bit number. */
function quad(n: number): string {
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** The 32-bit value of a dotted quad. */
function num(q: string): number {
    return q.split(".").reduce((a, b) => a * 256 + Number(b), 0);
}

/** Host name of index i. */
export function fleetHostName(i: number): string {
    return `h${String(i).padStart(4, "0")}`;
}

/**
 * The stack config (`macvlan:*` keys, with the test private key) of `count` hosts (indices
 * `first`..`first+count-1`): each host on parent eth0 with VLANs 10 and 20, address
 * 198.19.128.0/17 + index, pinned to a made-up host key; two networks spanning every host (vlan10,
 * vlan20), each host with its own slot of the network's `ipRange` (`sliceSize`) and
 * `containersPerNetwork` pinned containers on each.
 */
export function fleetConfig(count: number, opts: FleetOptions = {}): Record<string, unknown> {
    const per = opts.containersPerNetwork ?? 10;
    const first = opts.first ?? 0;
    const image = opts.image ?? "busybox:1";
    if (first + count > FLEET.maxHosts || per > 15) throw new Error(`fleetConfig: at most ${FLEET.maxHosts} hosts and 15 containers per network`);
    const indices = Array.from({ length: count }, (_, k) => first + k);
    const hosts = indices.map((i) => ({
        name: fleetHostName(i),
        address: quad(num("198.19.128.0") + 16 + i),
        hostKey: fakeHostKey(fleetHostName(i)),
        parent: "eth0",
        vlans: [10, 20],
    }));
    const network = (name: "vlan10" | "vlan20") => {
        const n = FLEET[name];
        const base = num(n.subnet.split("/")[0]) + 16;
        return {
            name,
            vlan: n.vlan,
            subnet: n.subnet,
            gateway: n.gateway,
            ipRange: n.ipRange,
            sliceSize: n.sliceSize,
            slices: Object.fromEntries(indices.map((i) => [fleetHostName(i), i])),
            containers: indices.flatMap((i) =>
                Array.from({ length: per }, (_, j) => ({
                    name: `${name}-c${j}`,
                    host: fleetHostName(i),
                    image,
                    ip: quad(base + i * per + j),
                })),
            ),
        };
    };
    return {
        "macvlan:hosts": hosts,
        "macvlan:networks": [network("vlan10"), network("vlan20")],
        "macvlan:sshPrivateKey": TEST_PRIVATE_KEY,
    };
}

/** A value as JSON with object keys sorted: equal inputs give equal text, whatever order their keys were built in. */
export function canonicalJson(v: unknown): string {
    if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
    if (typeof v === "object" && v !== null) {
        const o = v as Record<string, unknown>;
        return `{${Object.keys(o)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
            .join(",")}}`;
    }
    return JSON.stringify(v) ?? "undefined";
}

/** A registered resource as the no-op comparison sees it. */
export interface RegisteredInputs {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, unknown>;
    readonly provider?: string;
    readonly parent?: string;
}

/**
 * The resources of a second evaluation that differ from the first: added, removed, or with other
 * inputs, provider or parent (`<type> <name>: <what>`). Empty when a `pulumi up` with no edits
 * would have nothing to do.
 */
export function changedResources(first: readonly RegisteredInputs[], second: readonly RegisteredInputs[]): string[] {
    const key = (r: RegisteredInputs) => `${r.type} ${r.name}`;
    const text = (r: RegisteredInputs) => canonicalJson({ inputs: r.inputs, provider: r.provider ?? null, parent: r.parent ?? null });
    const before = new Map(first.map((r) => [key(r), text(r)]));
    const out: string[] = [];
    const seen = new Set<string>();
    for (const r of second) {
        const k = key(r);
        seen.add(k);
        const was = before.get(k);
        if (was === undefined) out.push(`${k}: added`);
        else if (was !== text(r)) out.push(`${k}: inputs changed`);
    }
    for (const k of before.keys()) if (!seen.has(k)) out.push(`${k}: removed`);
    return out;
}

/**
 * One group stack's config cut out of a whole fleet's (the pattern for fleets larger than one
 * stack): the hosts named, and each network with only those hosts' containers and slices (a
 * network left with none of its hosts is dropped). The fleet's config stays the one place its
 * address plan is written and validated whole; each group stack registers its hosts.
 */
export function fleetGroup(fleet: Record<string, unknown>, hostNames: readonly string[]): Record<string, unknown> {
    const keep = new Set(hostNames);
    type RawNet = { containers?: Array<{ host?: unknown }>; slices?: Record<string, unknown>; hosts?: unknown };
    const hosts = (fleet["macvlan:hosts"] as Array<{ name?: unknown }>).filter((h) => keep.has(String(h.name)));
    const networks = (fleet["macvlan:networks"] as RawNet[]).flatMap((n) => {
        const slices = n.slices === undefined ? undefined : Object.fromEntries(Object.entries(n.slices).filter(([h]) => keep.has(h)));
        const containers = (n.containers ?? []).filter((c) => keep.has(String(c.host)));
        if (slices !== undefined && Object.keys(slices).length === 0 && containers.length === 0) return [];
        return [{ ...n, ...(slices === undefined ? {} : { slices }), containers }];
    });
    return { ...fleet, "macvlan:hosts": hosts, "macvlan:networks": networks };
}
