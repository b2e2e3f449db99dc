/**
 * Parse and validate the raw stack config (`macvlan:hosts`, `macvlan:networks`) into the typed
 * model, before any resource is registered. Every problem is collected and thrown once as a
 * `MacvlanConfigError` whose `problems` read `<path> <value> <rule>`, e.g.
 * `networks[0].containers[1].ip 10.9.9.9 does not belong to subnet 198.51.100.0/24`.
 *
 * Two passes: each entry is checked on its own (types, syntax, address math inside one network),
 * then the cross rules run on what parsed (names, VLAN membership, shared parents, passthru,
 * shims, address and MAC collisions per LAN segment). A cross rule skips inputs that already
 * failed their own check, so one mistake gives one message. Pure: no resource imports.
 */
import { Address, Cidr, broadcastAddress, networkAddress, parseAddress, parseCidr } from "../net/addr";
import { defaultMac, parseMac } from "../net/mac";
import { networkChildNames } from "../plan/names";
import {
    DEFAULT_MODE,
    DEFAULT_RESTART,
    DEFAULT_SHIM_LINK,
    DEFAULT_SSH_PORT,
    DEFAULT_SSH_USER,
    MACVLAN_MODES,
    type ContainerModel,
    type HostModel,
    type MacvlanMode,
    type NetworkModel,
    type RestartPolicy,
    type StackModel,
} from "./model";
import {
    DOCKER_VERSION_RE,
    isAuxName,
    isDnsName,
    isDockerContainerName,
    isDockerName,
    isEnvName,
    isHostName,
    isIfName,
    RESERVED_IFNAMES,
    isImageRef,
    isIpv4Literal,
    isIpv6Literal,
    isPort,
    isSshUser,
    isVlanId,
    sshHostKeyProblem,
} from "../net/patterns";

/** The two structured config keys as read from Pulumi config (`config.getObject`), unvalidated. */
export interface RawStackConfig {
    readonly hosts: unknown;
    readonly networks: unknown;
}

/** Every problem found, each `<path> <value> <rule>`; thrown once, before anything is registered. */
export class MacvlanConfigError extends Error {
    readonly problems: readonly string[];
    /**
     * Marks this as a Pulumi `RunError` (the SDK's `RunError.isInstance` looks for this field, so
     * this pure module needs no SDK import): `pulumi up` then prints the message alone, as
     * `error: …`, without a stack trace.
     */
    readonly __pulumiRunError = true;
    constructor(problems: readonly string[]) {
        super(formatProblems(problems));
        this.name = "MacvlanConfigError";
        this.problems = Object.freeze([...problems]);
    }
}

/** The error message: a header line, then one problem per line, indented. */
export function formatProblems(problems: readonly string[]): string {
    const n = problems.length;
    const header = `macvlan stack config has ${n} problem${n === 1 ? "" : "s"}:`;
    return [header, ...problems.map((p) => `  ${p}`)].join("\n");
}

/** Keys a host entry may have. */
export const HOST_KEYS = ["name", "address", "port", "user", "hostKey", "parent", "promisc", "ipForward", "vlans", "shim", "dockerVersion"] as const;
/** Keys a host's shim may have. */
export const SHIM_KEYS = ["address", "vlan"] as const;
/** Keys a network entry may have. */
export const NETWORK_KEYS = ["name", "vlan", "mode", "subnet", "gateway", "ipRange", "auxAddresses", "hosts", "containers"] as const;
/** Keys a container entry may have. */
export const CONTAINER_KEYS = ["name", "host", "image", "ip", "mac", "command", "env", "restart"] as const;
/** Docker restart policies accepted for containers. */
export const RESTART_POLICIES: readonly RestartPolicy[] = ["no", "on-failure", "always", "unless-stopped"];
/** Names of Docker's predefined networks, which a stack network cannot take. */
export const PREDEFINED_NETWORK_NAMES: readonly string[] = ["bridge", "host", "none"];
/** The first Docker Engine major version that allows several macvlan networks on one parent. */
export const MULTI_NETWORK_PARENT_MIN_MAJOR = 27;

// ---------------------------------------------------------------------------------------------
// Values, paths and the problem list

/** A value as it appears in a problem: printable strings bare, everything else as JSON, long values cut. */
export function showValue(v: unknown): string {
    if (typeof v === "string" && /^[\x21-\x7e]{1,80}$/.test(v)) return v;
    return jsonValue(v);
}

/** A value as JSON (strings quoted), cut at 80 characters. */
export function jsonValue(v: unknown): string {
    let s: string;
    try {
        s = JSON.stringify(v) ?? String(v);
    } catch {
        s = String(typeof v === "bigint" ? `${v}n` : Object.prototype.toString.call(v));
    }
    return s.length > 80 ? `${s.slice(0, 79)}…` : s;
}

/** What a raw value is, for wrong-type messages: `a string`, `a number`, `a list`, `a map`, `null`. */
export function typeName(v: unknown): string {
    if (v === null) return "null";
    if (Array.isArray(v)) return "a list";
    switch (typeof v) {
        case "string":
            return "a string";
        case "number":
            return "a number";
        case "boolean":
            return "a boolean";
        case "object":
            return "a map";
        case "undefined":
            return "missing";
        default:
            return `a ${typeof v}`;
    }
}

/** `hosts[0]` + `parent` -> `hosts[0].parent`; keys that are not identifiers are quoted: `env["MY VAR"]`. */
export function childPath(path: string, key: string | number): string {
    if (typeof key === "number") return `${path}[${key}]`;
    return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** The collected problems, in the order found. */
export class Problems {
    readonly list: string[] = [];
    /** `<path> <value> <rule>`. */
    add(path: string, value: unknown, rule: string): void {
        this.list.push(`${path} ${showValue(value)} ${rule}`);
    }
    /** `<path> <rule>`, for problems without a value (a missing or unknown key). */
    addBare(path: string, rule: string): void {
        this.list.push(`${path} ${rule}`);
    }
    /** `<path> <json value> must be <expected>, not <type>`. */
    wrongType(path: string, value: unknown, expected: string): void {
        this.list.push(`${path} ${jsonValue(value)} must be ${expected}, not ${typeName(value)}`);
    }
}

type RawMap = Readonly<Record<string, unknown>>;

/** True for a plain map (what YAML/JSON objects parse to). */
function isMap(v: unknown): v is RawMap {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
    const proto: unknown = Object.getPrototypeOf(v);
    return proto === Object.prototype || proto === null;
}

/** The own value of `key`; null (an empty YAML value) counts as absent. */
function own(map: RawMap, key: string): unknown {
    if (!Object.prototype.hasOwnProperty.call(map, key)) return undefined;
    const v = map[key];
    return v === null ? undefined : v;
}

function editDistance(a: string, b: string): number {
    const d: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        let prev = d[0];
        d[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const tmp = d[j];
            d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
            prev = tmp;
        }
    }
    return d[b.length];
}

/** The known key a typo most likely meant (same letters ignoring case, `_` and `-`, or at most 2 edits away). */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
    const squash = (s: string) => s.toLowerCase().replace(/[-_]/g, "");
    const same = known.find((k) => squash(k) === squash(key));
    if (same !== undefined) return same;
    let best: string | undefined;
    let bestDistance = 3;
    for (const k of known) {
        const dist = editDistance(key.toLowerCase(), k.toLowerCase());
        if (dist < bestDistance) {
            best = k;
            bestDistance = dist;
        }
    }
    return best;
}

/** Rule: no keys outside `known`: `hosts[0].parnet is not a known key of a host; did you mean parent? Known keys: …`. */
export function checkKeys(p: Problems, map: RawMap, path: string, known: readonly string[], what: string): void {
    for (const key of Object.keys(map)) {
        if (known.includes(key)) continue;
        const guess = suggestKey(key, known);
        const hint = guess === undefined ? "" : ` did you mean ${guess}?`;
        p.addBare(childPath(path, key), `is not a known key of ${what};${hint} known keys: ${known.join(", ")}`);
    }
}

function readString(p: Problems, map: RawMap, key: string, path: string, required: boolean): string | undefined {
    const v = own(map, key);
    const at = childPath(path, key);
    if (v === undefined) {
        if (required) p.addBare(at, "is required");
        return undefined;
    }
    if (typeof v !== "string") {
        p.wrongType(at, v, "a string");
        return undefined;
    }
    return v;
}

function readBool(p: Problems, map: RawMap, key: string, path: string, fallback: boolean): boolean {
    const v = own(map, key);
    if (v === undefined) return fallback;
    if (typeof v !== "boolean") {
        p.wrongType(childPath(path, key), v, "true or false");
        return fallback;
    }
    return v;
}

/** Reads a VLAN id (rule: an integer 1-4094). `ok` is false when present but invalid. */
function readVlan(p: Problems, v: unknown, at: string): { vlan?: number; ok: boolean } {
    if (v === undefined) return { ok: true };
    if (typeof v !== "number") {
        p.wrongType(at, v, "a VLAN id 1-4094");
        return { ok: false };
    }
    const rule = vlanProblem(v);
    if (rule !== undefined) {
        p.add(at, v, rule);
        return { ok: false };
    }
    return { vlan: v, ok: true };
}

// ---------------------------------------------------------------------------------------------
// Single-value rules: each returns the rule broken (to follow `<path> <value>`), or undefined.

/** Rule for host names. */
export function hostNameProblem(s: string): string | undefined {
    return isHostName(s) ? undefined : "is not a valid host name: 1-32 characters of a-z, 0-9 and -, starting and ending with a letter or digit";
}

/** Rule for SSH targets: an IPv4 address or a DNS name. */
export function sshAddressProblem(s: string): string | undefined {
    if (isIpv4Literal(s) || isDnsName(s)) return undefined;
    if (isIpv6Literal(s)) return "is an IPv6 address; IPv6 is not supported yet";
    return "is not an IPv4 address or DNS name";
}

/** Rule for SSH ports. */
export function portProblem(n: number): string | undefined {
    return isPort(n) ? undefined : "is not a port: an integer 1-65535";
}

/** Rule for SSH users. */
export function sshUserProblem(s: string): string | undefined {
    return isSshUser(s) ? undefined : "is not a valid SSH user: 1-32 characters of A-Z, a-z, 0-9, _, . and -, not starting with a digit, . or -";
}

/** Rule for Linux interface names. */
export function ifNameProblem(s: string): string | undefined {
    if (RESERVED_IFNAMES.includes(s)) return "is reserved: all and default name the global entries of /proc/sys/net/ipv4/conf, not a link";
    return isIfName(s) ? undefined : "is not a valid Linux interface name: 1-15 characters of A-Z, a-z, 0-9, _, . and -, starting with a letter or digit";
}

/** Rule for VLAN ids. */
export function vlanProblem(n: number): string | undefined {
    return isVlanId(n) ? undefined : "is not a VLAN id: an integer 1-4094";
}

/** Rule for Docker network and container names. */
export function dockerNameProblem(s: string, what: "network" | "container"): string | undefined {
    if (what === "container") {
        return isDockerContainerName(s) ? undefined : "is not a valid Docker container name: 2-64 characters of A-Z, a-z, 0-9, _, . and -, starting with a letter or digit";
    }
    return isDockerName(s) ? undefined : "is not a valid Docker network name: 1-64 characters of A-Z, a-z, 0-9, _, . and -, starting with a letter or digit";
}

/** Rule for image references. */
export function imageProblem(s: string): string | undefined {
    return isImageRef(s) ? undefined : "is not a valid image reference: [registry[:port]/]name[:tag][@sha256:<64 hex>], name in lower case";
}

/** Rule for the declared Docker version. */
export function dockerVersionProblem(s: string): string | undefined {
    return DOCKER_VERSION_RE.test(s) ? undefined : 'is not a Docker version "major.minor" like "27.3"';
}

/** Rule for macvlan modes. */
export function modeProblem(s: string): string | undefined {
    if ((MACVLAN_MODES as readonly string[]).includes(s)) return undefined;
    const modes = MACVLAN_MODES.join(", ");
    // The field notes write `-o macvlan_mode=veth` for what they describe as vepa.
    if (s.toLowerCase() === "veth") return `is not a macvlan mode: ${modes}; for same-host traffic through the switch (what some notes call veth), use vepa`;
    if ((MACVLAN_MODES as readonly string[]).includes(s.toLowerCase())) return `is not a macvlan mode: ${modes}; did you mean ${s.toLowerCase()}?`;
    return `is not a macvlan mode: ${modes}`;
}

/** Rule for restart policies. */
export function restartProblem(s: string): string | undefined {
    return (RESTART_POLICIES as readonly string[]).includes(s) ? undefined : `is not a restart policy: ${RESTART_POLICIES.join(", ")}`;
}

/** Rule: `address` lies in `subnet` (Docker's wording: "does not belong to … subnets"). */
export function inSubnetProblem(address: Address | Cidr, subnet: Cidr): string | undefined {
    return subnet.contains(address) ? undefined : `does not belong to subnet ${subnet.toString()}`;
}

/** Rule: `address` is neither the network nor the broadcast address of `subnet`. */
export function reservedInSubnetProblem(address: Address, subnet: Cidr): string | undefined {
    if (address.equals(networkAddress(subnet))) return `is the network address of subnet ${subnet.toString()}`;
    const broadcast = broadcastAddress(subnet);
    if (broadcast !== undefined && address.equals(broadcast)) return `is the broadcast address of subnet ${subnet.toString()}`;
    return undefined;
}

/** True when a host's declared Docker Engine allows several macvlan networks on one parent. */
export function allowsSharedParent(dockerVersion: string | undefined): boolean {
    const m = dockerVersion === undefined ? null : DOCKER_VERSION_RE.exec(dockerVersion);
    return m !== null && Number(m[1]) >= MULTI_NETWORK_PARENT_MIN_MAJOR;
}

/** The link a network uses on a host: the parent, or its VLAN sub-interface `<parent>.<vlan>`. */
export function effectiveParent(parent: string, vlan: number | undefined): string {
    return vlan === undefined ? parent : `${parent}.${vlan}`;
}

/** A LAN segment in messages: `the untagged LAN segment` or `LAN segment vlan 50`. */
export function segmentLabel(vlan: number | undefined): string {
    return vlan === undefined ? "the untagged LAN segment" : `LAN segment vlan ${vlan}`;
}

// ---------------------------------------------------------------------------------------------
// Pass 1: each entry on its own

/** A host after its own checks; a field is undefined when it was missing or failed. */
export interface CheckedHost {
    readonly index: number;
    readonly path: string;
    name?: string;
    address?: string;
    port: number;
    user: string;
    hostKey?: string;
    parent?: string;
    promisc: boolean;
    ipForward: boolean;
    /** Valid, unique ids in config order. */
    vlans: number[];
    vlansOk: boolean;
    shim?: CheckedShim;
    dockerVersion?: string;
}

export interface CheckedShim {
    readonly path: string;
    address?: Address;
    vlan?: number;
    /** False when `vlan` was given but is invalid (segment unknown). */
    vlanOk: boolean;
}

export interface CheckedAux {
    readonly name: string;
    readonly path: string;
    address?: Address;
}

export interface CheckedContainer {
    readonly index: number;
    readonly path: string;
    name?: string;
    host?: string;
    image?: string;
    ip?: Address;
    mac?: string;
    macDerived: boolean;
    command?: string[];
    env?: Record<string, string>;
    restart: RestartPolicy;
}

export interface CheckedNetwork {
    readonly index: number;
    readonly path: string;
    name?: string;
    vlan?: number;
    vlanOk: boolean;
    mode: MacvlanMode;
    /** The subnet; with host bits set, the block it should be (the problem is reported). */
    subnet?: Cidr;
    gateway?: Address;
    ipRange?: Cidr;
    aux: CheckedAux[];
    /** Names of valid hosts it spans, config order. */
    hosts: string[];
    containers: CheckedContainer[];
}

/** Checks one host entry. */
export function checkHost(p: Problems, raw: unknown, index: number): CheckedHost | undefined {
    const path = `hosts[${index}]`;
    if (!isMap(raw)) {
        p.wrongType(path, raw, "a map");
        return undefined;
    }
    checkKeys(p, raw, path, HOST_KEYS, "a host");
    const h: CheckedHost = { index, path, port: DEFAULT_SSH_PORT, user: DEFAULT_SSH_USER, promisc: true, ipForward: true, vlans: [], vlansOk: true };

    const name = readString(p, raw, "name", path, true);
    if (name !== undefined) {
        const rule = hostNameProblem(name);
        if (rule === undefined) h.name = name;
        else p.add(`${path}.name`, name, rule);
    }
    const address = readString(p, raw, "address", path, true);
    if (address !== undefined) {
        const rule = sshAddressProblem(address);
        if (rule === undefined) h.address = address;
        else p.add(`${path}.address`, address, rule);
    }
    const port = own(raw, "port");
    if (port !== undefined) {
        if (typeof port !== "number") p.wrongType(`${path}.port`, port, "an integer 1-65535");
        else if (portProblem(port) !== undefined) p.add(`${path}.port`, port, portProblem(port) ?? "");
        else h.port = port;
    }
    const user = readString(p, raw, "user", path, false);
    if (user !== undefined) {
        const rule = sshUserProblem(user);
        if (rule === undefined) h.user = user;
        else p.add(`${path}.user`, user, rule);
    }
    const hostKey = readString(p, raw, "hostKey", path, false);
    if (hostKey !== undefined) {
        const rule = sshHostKeyProblem(hostKey);
        if (rule === undefined) h.hostKey = hostKey;
        else p.add(`${path}.hostKey`, hostKey, rule);
    }
    const parent = readString(p, raw, "parent", path, true);
    if (parent !== undefined) {
        const rule = ifNameProblem(parent);
        if (rule === undefined) h.parent = parent;
        else p.add(`${path}.parent`, parent, rule);
    }
    h.promisc = readBool(p, raw, "promisc", path, true);
    h.ipForward = readBool(p, raw, "ipForward", path, true);

    const vlans = own(raw, "vlans");
    if (vlans !== undefined && !Array.isArray(vlans)) {
        p.wrongType(`${path}.vlans`, vlans, "a list of VLAN ids");
        h.vlansOk = false;
    } else if (Array.isArray(vlans)) {
        (vlans as unknown[]).forEach((v, i) => {
            const at = `${path}.vlans[${i}]`;
            const r = readVlan(p, v === null ? undefined : v, at);
            if (v === undefined || v === null) {
                p.addBare(at, "is empty; expected a VLAN id 1-4094");
                h.vlansOk = false;
                return;
            }
            if (!r.ok || r.vlan === undefined) {
                h.vlansOk = false;
                return;
            }
            if (h.vlans.includes(r.vlan)) {
                p.add(at, r.vlan, "is listed twice");
                return;
            }
            h.vlans.push(r.vlan);
            if (h.parent !== undefined && !isIfName(effectiveParent(h.parent, r.vlan))) {
                p.add(at, r.vlan, `makes the sub-interface name ${effectiveParent(h.parent, r.vlan)}, longer than the 15 characters Linux allows`);
            }
        });
    }

    const shim = own(raw, "shim");
    if (shim !== undefined) h.shim = checkShim(p, shim, `${path}.shim`, h);

    const version = own(raw, "dockerVersion");
    if (version !== undefined) {
        if (typeof version !== "string") p.wrongType(`${path}.dockerVersion`, version, 'a string "major.minor" (quote it in YAML)');
        else if (dockerVersionProblem(version) !== undefined) p.add(`${path}.dockerVersion`, version, dockerVersionProblem(version) ?? "");
        else h.dockerVersion = version;
    }
    return h;
}

function checkShim(p: Problems, raw: unknown, path: string, host: CheckedHost): CheckedShim | undefined {
    if (!isMap(raw)) {
        p.wrongType(path, raw, "a map {address, vlan}");
        return undefined;
    }
    checkKeys(p, raw, path, SHIM_KEYS, "a shim");
    const shim: CheckedShim = { path, vlanOk: true };
    const address = readString(p, raw, "address", path, true);
    if (address !== undefined) {
        const r = parseAddress(address);
        if (r.ok) shim.address = r.value;
        else p.add(`${path}.address`, address, r.problem);
    }
    const vlan = readVlan(p, own(raw, "vlan"), `${path}.vlan`);
    shim.vlan = vlan.vlan;
    shim.vlanOk = vlan.ok;
    if (host.parent === DEFAULT_SHIM_LINK) {
        p.addBare(path, `needs a link named ${DEFAULT_SHIM_LINK}, which is ${host.path}.parent; the parent NIC cannot carry its own shim under that name`);
    }
    if (vlan.vlan !== undefined && host.vlansOk && !host.vlans.includes(vlan.vlan)) {
        p.add(`${path}.vlan`, vlan.vlan, `is not in ${host.path}.vlans [${host.vlans.join(", ")}]; add it there`);
        shim.vlanOk = false;
    }
    return shim;
}

/** What pass 1 of the networks needs to know about the hosts. */
export interface HostIndex {
    /** Valid hosts by name (first of duplicates). */
    readonly byName: ReadonlyMap<string, CheckedHost>;
    /** Every string given as a host name, valid or not (so a bad name is reported once, at the host). */
    readonly given: ReadonlySet<string>;
}

/** Checks one network entry and its containers. */
export function checkNetwork(p: Problems, raw: unknown, index: number, hosts: HostIndex): CheckedNetwork | undefined {
    const path = `networks[${index}]`;
    if (!isMap(raw)) {
        p.wrongType(path, raw, "a map");
        return undefined;
    }
    checkKeys(p, raw, path, NETWORK_KEYS, "a network");
    const n: CheckedNetwork = { index, path, vlanOk: true, mode: DEFAULT_MODE, aux: [], hosts: [...hosts.byName.keys()], containers: [] };

    const name = readString(p, raw, "name", path, true);
    if (name !== undefined) {
        const rule = dockerNameProblem(name, "network");
        if (rule !== undefined) p.add(`${path}.name`, name, rule);
        else if (PREDEFINED_NETWORK_NAMES.includes(name)) p.add(`${path}.name`, name, `is a predefined Docker network (${PREDEFINED_NETWORK_NAMES.join(", ")}); choose another name`);
        else n.name = name;
    }
    const vlan = readVlan(p, own(raw, "vlan"), `${path}.vlan`);
    n.vlan = vlan.vlan;
    n.vlanOk = vlan.ok;
    const mode = readString(p, raw, "mode", path, false);
    if (mode !== undefined) {
        const rule = modeProblem(mode);
        if (rule === undefined) n.mode = mode as MacvlanMode;
        else p.add(`${path}.mode`, mode, rule);
    }

    const subnet = readString(p, raw, "subnet", path, true);
    if (subnet !== undefined) {
        const r = parseCidr(subnet);
        if (r.ok) n.subnet = r.value;
        else {
            p.add(`${path}.subnet`, subnet, r.problem);
            n.subnet = r.corrected;
        }
    }
    // Required: engines before 29 invent a gateway when none is given (which then reads back as a
    // change on every run), and 29+ gives the containers no default route at all.
    const gateway = readString(p, raw, "gateway", path, false);
    if (gateway === undefined && own(raw, "gateway") === undefined) {
        p.addBare(
            `${path}.gateway`,
            "is required: the LAN's real router (Docker before 29 invents one when it is missing, and 29+ gives the containers no default route)",
        );
    }
    if (gateway !== undefined) {
        const r = parseAddress(gateway);
        if (!r.ok) p.add(`${path}.gateway`, gateway, r.problem);
        else if (n.subnet !== undefined) {
            const rule = inSubnetProblem(r.value, n.subnet) ?? reservedInSubnetProblem(r.value, n.subnet);
            if (rule === undefined) n.gateway = r.value;
            else p.add(`${path}.gateway`, gateway, rule);
        }
    }
    const ipRange = readString(p, raw, "ipRange", path, false);
    if (ipRange !== undefined) {
        const r = parseCidr(ipRange);
        const range = r.ok ? r.value : r.corrected;
        if (!r.ok) p.add(`${path}.ipRange`, ipRange, r.problem);
        else if (n.subnet !== undefined && range !== undefined && inSubnetProblem(range, n.subnet) !== undefined) {
            p.add(`${path}.ipRange`, ipRange, inSubnetProblem(range, n.subnet) ?? "");
        } else n.ipRange = range;
    }
    const aux = own(raw, "auxAddresses");
    if (aux !== undefined && !isMap(aux)) p.wrongType(`${path}.auxAddresses`, aux, "a map of name to address");
    else if (aux !== undefined) {
        for (const key of Object.keys(aux)) {
            const at = childPath(`${path}.auxAddresses`, key);
            if (!isAuxName(key)) {
                p.addBare(`${path}.auxAddresses`, `${jsonValue(key)} is not a valid aux address name: 1-64 characters of A-Z, a-z, 0-9, _, . and -, starting with a letter or digit`);
                continue;
            }
            const entry: CheckedAux = { name: key, path: at };
            const v = own(aux, key);
            if (v === undefined) p.addBare(at, "is empty; expected an address");
            else if (typeof v !== "string") p.wrongType(at, v, "a string");
            else {
                const r = parseAddress(v);
                if (!r.ok) p.add(at, v, r.problem);
                else if (n.subnet !== undefined && inSubnetProblem(r.value, n.subnet) !== undefined) p.add(at, v, inSubnetProblem(r.value, n.subnet) ?? "");
                else entry.address = r.value;
            }
            n.aux.push(entry);
        }
    }

    const spans = own(raw, "hosts");
    if (spans !== undefined && !Array.isArray(spans)) {
        p.wrongType(`${path}.hosts`, spans, "a list of host names");
        n.hosts = [];
    } else if (Array.isArray(spans)) {
        n.hosts = [];
        if (spans.length === 0) p.add(`${path}.hosts`, [], "must list at least one host; omit it to span every host");
        (spans as unknown[]).forEach((v, i) => {
            const at = `${path}.hosts[${i}]`;
            if (typeof v !== "string") p.wrongType(at, v, "a host name");
            else if (!hosts.given.has(v)) p.add(at, v, `is not a host in hosts (${[...hosts.byName.keys()].join(", ")})`);
            else if (n.hosts.includes(v)) p.add(at, v, "is listed twice");
            else if (hosts.byName.has(v)) n.hosts.push(v);
        });
    }

    const containers = own(raw, "containers");
    if (containers !== undefined && !Array.isArray(containers)) p.wrongType(`${path}.containers`, containers, "a list");
    else if (Array.isArray(containers)) {
        (containers as unknown[]).forEach((c, i) => {
            const listed = Array.isArray(spans) ? new Set((spans as unknown[]).filter((v): v is string => typeof v === "string")) : undefined;
            const checked = checkContainer(p, c, `${path}.containers[${i}]`, i, n, hosts, listed);
            if (checked !== undefined) n.containers.push(checked);
        });
    }
    return n;
}

function checkContainer(
    p: Problems,
    raw: unknown,
    path: string,
    index: number,
    n: CheckedNetwork,
    hosts: HostIndex,
    /** The names listed in the network's `hosts`, when it lists them. */
    listed: ReadonlySet<string> | undefined,
): CheckedContainer | undefined {
    if (!isMap(raw)) {
        p.wrongType(path, raw, "a map");
        return undefined;
    }
    checkKeys(p, raw, path, CONTAINER_KEYS, "a container");
    const c: CheckedContainer = { index, path, macDerived: false, restart: DEFAULT_RESTART };

    const name = readString(p, raw, "name", path, true);
    if (name !== undefined) {
        const rule = dockerNameProblem(name, "container");
        if (rule === undefined) c.name = name;
        else p.add(`${path}.name`, name, rule);
    }
    const host = readString(p, raw, "host", path, true);
    if (host !== undefined) {
        if (!hosts.given.has(host)) p.add(`${path}.host`, host, `is not a host in hosts (${[...hosts.byName.keys()].join(", ")})`);
        else if (listed !== undefined && !listed.has(host)) p.add(`${path}.host`, host, `is not one of ${n.path}.hosts (${n.hosts.join(", ")})`);
        else if (hosts.byName.has(host) && (listed === undefined || n.hosts.includes(host))) c.host = host;
    }
    const image = readString(p, raw, "image", path, true);
    if (image !== undefined) {
        const rule = imageProblem(image);
        if (rule === undefined) c.image = image;
        else p.add(`${path}.image`, image, rule);
    }
    const ip = readString(p, raw, "ip", path, true);
    if (ip !== undefined) {
        const r = parseAddress(ip);
        if (!r.ok) p.add(`${path}.ip`, ip, r.problem);
        else if (n.subnet !== undefined) {
            const rule = inSubnetProblem(r.value, n.subnet) ?? reservedInSubnetProblem(r.value, n.subnet);
            if (rule === undefined) c.ip = r.value;
            else p.add(`${path}.ip`, ip, rule);
        }
    }
    const mac = readString(p, raw, "mac", path, false);
    if (mac !== undefined) {
        const r = parseMac(mac);
        if (r.ok) c.mac = r.value;
        else p.add(`${path}.mac`, mac, r.problem);
    } else if (c.ip !== undefined) {
        c.mac = defaultMac(c.ip);
        c.macDerived = true;
    }

    const command = own(raw, "command");
    if (command !== undefined && !Array.isArray(command)) p.wrongType(`${path}.command`, command, "a list of strings");
    else if (Array.isArray(command)) {
        if (command.length === 0) p.add(`${path}.command`, [], "must list at least one word; omit it to run the image's default command");
        const words: string[] = [];
        (command as unknown[]).forEach((w, i) => {
            if (typeof w !== "string") p.wrongType(`${path}.command[${i}]`, w, "a string");
            else if (w.includes("\0")) p.add(`${path}.command[${i}]`, w, "contains a NUL character");
            else words.push(w);
        });
        c.command = words;
    }
    const env = own(raw, "env");
    if (env !== undefined && !isMap(env)) p.wrongType(`${path}.env`, env, "a map of name to string");
    else if (env !== undefined) {
        const vars: Record<string, string> = {};
        for (const key of Object.keys(env)) {
            const at = childPath(`${path}.env`, key);
            const v = own(env, key);
            if (!isEnvName(key)) p.addBare(`${path}.env`, `${jsonValue(key)} is not a valid environment variable name: A-Z, a-z, 0-9 and _, not starting with a digit`);
            else if (typeof v !== "string") p.wrongType(at, v === undefined ? null : v, "a string (quote it in YAML)");
            else if (v.includes("\0")) p.add(at, v, "contains a NUL character");
            else Object.defineProperty(vars, key, { value: v, enumerable: true, writable: true, configurable: true });
        }
        c.env = vars;
    }
    const restart = readString(p, raw, "restart", path, false);
    if (restart !== undefined) {
        const rule = restartProblem(restart);
        if (rule === undefined) c.restart = restart as RestartPolicy;
        else p.add(`${path}.restart`, restart, rule);
    }
    return c;
}

// ---------------------------------------------------------------------------------------------
// Pass 2: rules across entries

/** Rules: host names are unique, and so are SSH targets (address and port). */
export function checkUniqueHostNames(p: Problems, hosts: readonly CheckedHost[]): void {
    const seen = new Map<string, CheckedHost>();
    const targets = new Map<string, CheckedHost>();
    for (const h of hosts) {
        if (h.name !== undefined) {
            const first = seen.get(h.name);
            if (first !== undefined) p.add(`${h.path}.name`, h.name, `is already used by ${first.path}`);
            else seen.set(h.name, h);
        }
        // Two entries for one machine would share its host state, and each one's destroy would
        // undo the other's settings. (Names are compared as written: a DNS name and the address it
        // resolves to are not caught.)
        if (h.address !== undefined) {
            const target = `${h.address.toLowerCase()} port ${h.port}`;
            const first = targets.get(target);
            if (first !== undefined) p.add(`${h.path}.address`, h.address, `with port ${h.port} is already ${first.path}'s SSH target; describe each machine once`);
            else targets.set(target, h);
        }
    }
}

/** Rules: network names are unique; container names are unique per host across all networks. */
export function checkUniqueNetworkAndContainerNames(p: Problems, networks: readonly CheckedNetwork[]): void {
    const nets = new Map<string, CheckedNetwork>();
    const containers = new Map<string, CheckedContainer>();
    for (const n of networks) {
        if (n.name !== undefined) {
            const first = nets.get(n.name);
            if (first !== undefined) p.add(`${n.path}.name`, n.name, `is already used by ${first.path}`);
            else nets.set(n.name, n);
        }
        for (const c of n.containers) {
            if (c.name === undefined || c.host === undefined) continue;
            const key = `${c.host}\n${c.name}`;
            const first = containers.get(key);
            if (first !== undefined) p.add(`${c.path}.name`, c.name, `is already used on host ${c.host} by ${first.path}`);
            else containers.set(key, c);
        }
    }
}

/**
 * Rule: the Pulumi resource names derived from network, host and container names
 * (`networkChildNames`: `<network>-<host>`, `<network>-<host>-<container>`) are unique. Both
 * parts may contain `-`, so network `a-b` on host `c` and network `a` on host `b-c` would both
 * be `a-b-c`: two resources of one URN, which the engine refuses after half the stack is planned.
 */
export function checkResourceNames(p: Problems, networks: readonly CheckedNetwork[]): void {
    const netNames = new Map<string, { network: CheckedNetwork; host: string }>();
    const ctrNames = new Map<string, { container: CheckedContainer; network: CheckedNetwork }>();
    const seenNetworks = new Set<string>();
    for (const n of networks) {
        if (n.name === undefined || seenNetworks.has(n.name)) continue;
        seenNetworks.add(n.name);
        for (const host of n.hosts) {
            const rn = networkChildNames.network(n.name, host);
            const first = netNames.get(rn);
            if (first === undefined) netNames.set(rn, { network: n, host });
            else if (first.network !== n) {
                p.add(`${n.path}.name`, n.name, `on host ${host} gives the resource name ${rn}, which ${first.network.path} (${first.network.name ?? ""}) on host ${first.host} gives too; rename one of them`);
            }
        }
        for (const c of n.containers) {
            if (c.name === undefined || c.host === undefined) continue;
            const rn = networkChildNames.container(n.name, c.host, c.name);
            const first = ctrNames.get(rn);
            if (first === undefined) ctrNames.set(rn, { container: c, network: n });
            // (One name twice on one host is reported by checkUniqueNetworkAndContainerNames.)
            else if (first.container.host !== c.host || first.container.name !== c.name) {
                p.add(`${c.path}.name`, c.name, `gives the resource name ${rn}, which ${first.container.path} gives too; rename one of them`);
            }
        }
    }
}

/** Rule: a network's vlan is in the `vlans` of every host it spans. */
export function checkNetworkVlansOnHosts(p: Problems, hosts: ReadonlyMap<string, CheckedHost>, networks: readonly CheckedNetwork[]): void {
    for (const n of networks) {
        if (n.vlan === undefined) continue;
        for (const name of n.hosts) {
            const h = hosts.get(name);
            if (h === undefined || !h.vlansOk || h.vlans.includes(n.vlan)) continue;
            p.add(`${n.path}.vlan`, n.vlan, `is not in ${h.path}.vlans of host ${name}; add it there or remove ${name} from ${n.path}.hosts`);
        }
    }
}

interface SharedParent {
    readonly a: CheckedNetwork;
    readonly b: CheckedNetwork;
    readonly on: { host: CheckedHost; link: string }[];
}

function onHosts(on: readonly { host: CheckedHost; link: string }[]): string {
    const list = on.map((o) => `${o.host.name ?? o.host.path} (parent ${o.link})`).join(", ");
    return on.length === 1 ? `on host ${list}` : `on hosts ${list}`;
}

function label(n: CheckedNetwork): string {
    return n.name === undefined ? n.path : `${n.path} (${n.name})`;
}

/** The pairs of networks that use the same effective parent on some host, with those hosts. */
export function sharedParents(hosts: ReadonlyMap<string, CheckedHost>, networks: readonly CheckedNetwork[]): SharedParent[] {
    const pairs: SharedParent[] = [];
    for (let i = 0; i < networks.length; i++) {
        for (let j = i + 1; j < networks.length; j++) {
            const a = networks[i];
            const b = networks[j];
            if (!a.vlanOk || !b.vlanOk || a.vlan !== b.vlan) continue;
            const on: { host: CheckedHost; link: string }[] = [];
            for (const name of a.hosts) {
                const h = hosts.get(name);
                if (h?.parent === undefined || !b.hosts.includes(name)) continue;
                on.push({ host: h, link: effectiveParent(h.parent, a.vlan) });
            }
            if (on.length > 0) pairs.push({ a, b, on });
        }
    }
    return pairs;
}

/**
 * Rules for networks on one effective parent of a host: a passthru network shares it with no
 * other; before Docker 27 only one macvlan network per parent; subnets there must not overlap.
 */
export function checkSharedParents(p: Problems, hosts: ReadonlyMap<string, CheckedHost>, networks: readonly CheckedNetwork[]): void {
    for (const { a, b, on } of sharedParents(hosts, networks)) {
        if (a.mode === "passthru" || b.mode === "passthru") {
            const [pt, other] = b.mode === "passthru" ? [b, a] : [a, b];
            p.add(`${pt.path}.mode`, "passthru", `cannot share its parent with ${label(other)} ${onHosts(on)}: a passthru network takes the whole parent; give one of them another vlan`);
        } else {
            const old = on.filter((o) => !allowsSharedParent(o.host.dockerVersion));
            if (old.length > 0) {
                const fields = old.map((o) => `${o.host.path}.dockerVersion`).join(", ");
                const which = old.length === 1 ? `that host runs` : `those hosts run`;
                p.addBare(
                    b.name === undefined ? b.path : `${b.path}.name ${b.name}`,
                    `shares its parent with ${label(a)} ${onHosts(old)}; Docker before 27 allows one macvlan network per parent: give one of them a vlan, or set ${fields} ("27.0" or later) if ${which} Docker 27 or later`,
                );
            }
        }
        if (a.subnet !== undefined && b.subnet !== undefined && a.subnet.overlaps(b.subnet)) {
            p.add(`${b.path}.subnet`, b.subnet.toString(), `overlaps ${a.path}.subnet ${a.subnet.toString()} ${onHosts(on)}`);
        }
    }
}

/** Rule: a passthru network has at most one container per host (a single macvlan port). */
export function checkPassthruContainers(p: Problems, networks: readonly CheckedNetwork[]): void {
    for (const n of networks) {
        if (n.mode !== "passthru") continue;
        const first = new Map<string, CheckedContainer>();
        for (const c of n.containers) {
            if (c.host === undefined) continue;
            const taken = first.get(c.host);
            if (taken === undefined) first.set(c.host, c);
            else {
                p.add(
                    `${c.path}.host`,
                    c.host,
                    `already has ${taken.path} on passthru network ${label(n)}; passthru has a single port per parent (Docker: "failed to create the macvlan port: invalid argument")`,
                );
            }
        }
    }
}

/** An address somebody holds on a LAN segment, for collision checks. */
interface Claim {
    readonly path: string;
    readonly phrase: string;
}

function segmentKey(vlan: number | undefined): string {
    return vlan === undefined ? "untagged" : String(vlan);
}

/** Gateways and aux addresses by segment and address; a network's own come first. */
function fixedClaims(networks: readonly CheckedNetwork[]): Map<string, { network: CheckedNetwork; claim: Claim }[]> {
    const claims = new Map<string, { network: CheckedNetwork; claim: Claim }[]>();
    const put = (key: string, network: CheckedNetwork, claim: Claim) => {
        const list = claims.get(key) ?? [];
        list.push({ network, claim });
        claims.set(key, list);
    };
    for (const n of networks) {
        if (!n.vlanOk) continue;
        const seg = segmentKey(n.vlan);
        if (n.gateway !== undefined) put(`${seg} ${n.gateway.toString()}`, n, { path: `${n.path}.gateway`, phrase: `is the gateway ${n.path}.gateway` });
        for (const a of n.aux) {
            if (a.address !== undefined) put(`${seg} ${a.address.toString()}`, n, { path: a.path, phrase: `is reserved as ${a.path}` });
        }
    }
    return claims;
}

/** SSH addresses of hosts that are IPv4 literals, by address. */
function sshAddresses(hosts: readonly CheckedHost[]): Map<string, CheckedHost> {
    const out = new Map<string, CheckedHost>();
    for (const h of hosts) if (h.address !== undefined && isIpv4Literal(h.address) && !out.has(h.address)) out.set(h.address, h);
    return out;
}

/**
 * Rules for each host's shim: its vlan's segment carries a network spanning the host whose subnet
 * holds the address; not on a passthru network's parent; not a network, broadcast, gateway or SSH
 * address, nor another host's shim; reserved from Docker's dynamic allocation (outside the
 * ipRange or listed in auxAddresses) on every network of the segment whose subnet holds it.
 */
export function checkShims(p: Problems, hosts: readonly CheckedHost[], networks: readonly CheckedNetwork[]): void {
    const fixed = fixedClaims(networks);
    const ssh = sshAddresses(hosts);
    const shims = new Map<string, string>();
    for (const h of hosts) {
        const shim = h.shim;
        if (shim?.address === undefined || !shim.vlanOk || h.name === undefined) continue;
        const at = `${shim.path}.address`;
        const addr = shim.address;
        const text = addr.toString();
        const seg = segmentLabel(shim.vlan);
        const sameSegment = networks.filter((n) => n.vlanOk && n.vlan === shim.vlan);
        const here = sameSegment.filter((n) => n.hosts.includes(h.name ?? ""));

        const passthru = here.find((n) => n.mode === "passthru");
        if (passthru !== undefined && h.parent !== undefined) {
            p.add(at, text, `would sit on parent ${effectiveParent(h.parent, shim.vlan)}, which passthru network ${label(passthru)} takes whole on host ${h.name}; put the shim on another vlan or remove it`);
            continue;
        }
        const withSubnet = here.filter((n) => n.subnet !== undefined);
        if (!withSubnet.some((n) => n.subnet?.contains(addr))) {
            const where = withSubnet.length === 0 ? `: no network on ${seg} spans host ${h.name}` : ` (${withSubnet.map((n) => n.subnet?.toString()).join(", ")})`;
            p.add(at, text, `does not belong to the subnet of any network on ${seg} that spans host ${h.name}${where}`);
            continue;
        }
        const holders = sameSegment.filter((n) => n.subnet?.contains(addr) === true);
        const reserved = holders.map((n) => (n.subnet === undefined ? undefined : reservedInSubnetProblem(addr, n.subnet))).find((r) => r !== undefined);
        if (reserved !== undefined) {
            p.add(at, text, reserved);
            continue;
        }
        const gateway = (fixed.get(`${segmentKey(shim.vlan)} ${text}`) ?? []).find((f) => f.claim.path.endsWith(".gateway"));
        if (gateway !== undefined) {
            p.add(at, text, gateway.claim.phrase);
            continue;
        }
        const sshHost = ssh.get(text);
        if (sshHost !== undefined) {
            p.add(at, text, `is the SSH address of host ${sshHost.name ?? sshHost.path} (${sshHost.path}.address)`);
            continue;
        }
        const key = `${segmentKey(shim.vlan)} ${text}`;
        const earlier = shims.get(key);
        if (earlier !== undefined) {
            p.add(at, text, `is already used by ${earlier} on ${seg}`);
            continue;
        }
        shims.set(key, at);
        for (const n of holders) {
            if (n.aux.some((a) => a.address?.equals(addr) === true)) continue;
            const example = `(e.g. ${h.name}-shim: ${text})`;
            if (n.ipRange === undefined) {
                p.add(at, text, `may be handed out by Docker on ${label(n)}, which has no ipRange: list it in ${n.path}.auxAddresses ${example} or set ${n.path}.ipRange to a range that excludes it`);
            } else if (n.ipRange.contains(addr)) {
                p.add(at, text, `is inside ${n.path}.ipRange ${n.ipRange.toString()}, so Docker may hand it out: list it in ${n.path}.auxAddresses ${example} or choose an address outside the ipRange`);
            }
        }
    }
}

/**
 * Rules for container addresses on each LAN segment (a network's vlan, or untagged), across all
 * hosts and networks: a container ip is not a gateway, an aux address, a shim, a host's SSH
 * address or another container's ip; a container MAC (configured or derived) is not another's.
 */
export function checkSegmentAddresses(p: Problems, hosts: readonly CheckedHost[], networks: readonly CheckedNetwork[]): void {
    const fixed = fixedClaims(networks);
    const ssh = sshAddresses(hosts);
    const shims = new Map<string, Claim>();
    for (const h of hosts) {
        if (h.shim?.address === undefined || !h.shim.vlanOk) continue;
        const key = `${segmentKey(h.shim.vlan)} ${h.shim.address.toString()}`;
        if (!shims.has(key)) shims.set(key, { path: `${h.shim.path}.address`, phrase: `is the shim address ${h.shim.path}.address of host ${h.name ?? h.path}` });
    }
    const ips = new Map<string, string>();
    const macs = new Map<string, { path: string; derived: boolean }>();
    const derivedNote = (d: boolean) => (d ? " (derived from its ip)" : "");
    for (const n of networks) {
        if (!n.vlanOk) continue;
        const seg = segmentKey(n.vlan);
        for (const c of n.containers) {
            if (c.ip !== undefined) {
                const text = c.ip.toString();
                const key = `${seg} ${text}`;
                const claims = fixed.get(key) ?? [];
                const fixedClaim = (claims.find((f) => f.network === n) ?? claims[0])?.claim;
                const sshHost = ssh.get(text);
                const phrase =
                    fixedClaim?.phrase ??
                    shims.get(key)?.phrase ??
                    (sshHost === undefined ? undefined : `is the SSH address of host ${sshHost.name ?? sshHost.path} (${sshHost.path}.address)`) ??
                    (ips.has(key) ? `is already used by ${ips.get(key)} on ${segmentLabel(n.vlan)}` : undefined);
                if (phrase !== undefined) p.add(`${c.path}.ip`, text, phrase);
                if (!ips.has(key)) ips.set(key, `${c.path}.ip`);
            }
            if (c.mac !== undefined) {
                const key = `${seg} ${c.mac}`;
                const first = macs.get(key);
                if (first === undefined) macs.set(key, { path: `${c.path}.mac`, derived: c.macDerived });
                else if (!(first.derived && c.macDerived)) {
                    p.addBare(`${c.path}.mac`, `${c.mac}${derivedNote(c.macDerived)} is already used by ${first.path}${derivedNote(first.derived)} on ${segmentLabel(n.vlan)}`);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The entry point

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

/** Parse, normalize (defaults, derived MACs) and validate; throws MacvlanConfigError listing all problems. */
export function parseStackConfig(raw: RawStackConfig): StackModel {
    const p = new Problems();
    const config: RawMap = isMap(raw) ? raw : {};
    if (!isMap(raw)) p.wrongType("config", raw, "a map {hosts, networks}");

    const hosts: CheckedHost[] = [];
    const given = new Set<string>();
    checkList(p, own(config, "hosts"), "hosts", true).forEach((h, i) => {
        if (isMap(h) && typeof own(h, "name") === "string") given.add(own(h, "name") as string);
        const checked = checkHost(p, h, i);
        if (checked !== undefined) hosts.push(checked);
    });
    checkUniqueHostNames(p, hosts);
    const byName = new Map<string, CheckedHost>();
    for (const h of hosts) if (h.name !== undefined && !byName.has(h.name)) byName.set(h.name, h);

    const networks: CheckedNetwork[] = [];
    checkList(p, own(config, "networks"), "networks", false).forEach((n, i) => {
        const checked = checkNetwork(p, n, i, { byName, given });
        if (checked !== undefined) networks.push(checked);
    });
    checkUniqueNetworkAndContainerNames(p, networks);
    checkResourceNames(p, networks);
    checkNetworkVlansOnHosts(p, byName, networks);
    checkSharedParents(p, byName, networks);
    checkPassthruContainers(p, networks);
    checkShims(p, hosts, networks);
    checkSegmentAddresses(p, hosts, networks);

    if (p.list.length > 0) throw new MacvlanConfigError(p.list);
    return buildModel(hosts, networks);
}

function defined<T>(v: T | undefined, what: string): T {
    if (v === undefined) throw new Error(`internal: ${what} is undefined after validation passed`);
    return v;
}

/** The model from entries that passed every check (only called when there were no problems). */
function buildModel(hosts: readonly CheckedHost[], networks: readonly CheckedNetwork[]): StackModel {
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
        const containers: ContainerModel[] = n.containers.map((c) => ({
            name: defined(c.name, `${c.path}.name`),
            host: defined(c.host, `${c.path}.host`),
            image: defined(c.image, `${c.path}.image`),
            attachments: [{ network: name, ipv4Address: defined(c.ip, `${c.path}.ip`).toString(), mac: defined(c.mac, `${c.path}.mac`) }],
            ...(c.command === undefined ? {} : { command: c.command }),
            ...(c.env === undefined ? {} : { env: c.env }),
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
            ipam: [
                {
                    subnet: defined(n.subnet, `${n.path}.subnet`).toString(),
                    ...(n.gateway === undefined ? {} : { gateway: n.gateway.toString() }),
                    ...(n.ipRange === undefined ? {} : { ipRange: n.ipRange.toString() }),
                },
            ],
            auxAddresses,
            hosts: n.hosts,
            containers,
        };
    });
    return { hosts: hostModels, networks: networkModels };
}
