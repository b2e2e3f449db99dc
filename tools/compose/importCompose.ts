/**
 * `import-compose`: a compose file whose services sit on macvlan networks, as `macvlan:networks`
 * entries of a stack file (a fragment). Pure: the parsed compose document in, the entries out, or
 * one MacvlanConfigError listing everything the fragment cannot express (`services.web.ports is not
 * supported: …`), each problem naming the compose path.
 *
 * A network is either declared in the compose file (`driver: macvlan`, `driver_opts.parent`,
 * `ipam.config`) or `external` (made by hand with `docker network create`): an external network's
 * subnet and parent are not in the compose file, so it is taken from the stack the fragment is for
 * (`stack`), which must declare it.
 */
import { childPath, showValue } from "../../components/config/problems";
import { isMap, own, type RawMap } from "../../components/config/read";
import { problemsOf } from "../../components/net/problems";
import { splitShellWords } from "./shellWords";

/** What the import needs besides the compose document. */
export interface ImportOptions {
    /** The compose file's name, for the error's header. */
    readonly file: string;
    /** The stack host the services run on (`host` of every container). */
    readonly host: string;
    /** The stack the fragment is for (its file name and `macvlan:*` keys): where external networks are declared. */
    readonly stack?: { readonly file: string; readonly hosts: unknown; readonly networks: unknown };
}

/** A `macvlan:networks` entry, as it is written in a stack file. */
export type NetworkEntry = Record<string, unknown>;

/** The fragment: the entries, and what the host entry needs for them. */
export interface ImportResult {
    /** One entry per network of the compose file, in its order, with the services as containers. */
    readonly networks: NetworkEntry[];
    /** The host NIC the declared networks' `driver_opts.parent` name (`eth0` of `eth0.50`); absent with external networks only. */
    readonly parent?: string;
    /** The VLAN ids of the declared networks' parents (`50` of `eth0.50`), sorted: the host's `vlans` must list them. */
    readonly vlans: number[];
}

/** Top-level keys of a compose file the import reads or may ignore (`version` is obsolete, `name` is the project's). */
const TOP_KEYS = ["services", "networks", "version", "name"];
const SERVICE_KEYS = ["image", "container_name", "networks", "mac_address", "environment", "command", "restart"];
const SERVICE_NETWORK_KEYS = ["ipv4_address", "ipv6_address", "mac_address", "gw_priority"];
const NETWORK_KEYS = ["driver", "driver_opts", "ipam", "name", "external", "enable_ipv6"];
const IPAM_KEYS = ["driver", "config"];
const POOL_KEYS = ["subnet", "gateway", "ip_range", "aux_addresses"];
const DRIVER_OPTS = ["parent", "macvlan_mode"];
const RESTARTS = ["no", "always", "on-failure", "unless-stopped"];
/** Why a service key the stack has no place for is refused, when there is more to say than "not supported". */
const WHY_NOT: Readonly<Record<string, string>> = {
    ports: "macvlan ignores published ports (the container is on the LAN at its own address); remove it",
    expose: "macvlan ignores it (every port of the container is on the LAN at its own address); remove it",
    network_mode: "a container joins macvlan networks through networks.<name>.ipv4_address",
    build: "the stack runs an image; build and push it, and give image",
};
/** An env name whose value the import keeps out of the stack file: it becomes a `secretEnv` name. */
const SECRET_NAME = /PASSWORD|PASSWD|SECRET|TOKEN/i;
/** A whole value that Compose reads from the environment: `${NAME}` or `$NAME`. */
const INTERPOLATED = /^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$/;

function define(o: Record<string, unknown>, key: string, value: unknown): void {
    Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function scalarText(v: unknown): string | undefined {
    if (typeof v === "string") return v;
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    return undefined;
}

/** A compose value with `$$` read as `$`; undefined when it interpolates a variable (Compose would substitute it). */
function unescapeDollars(s: string): string | undefined {
    const out = s.replace(/\$\$|\$/g, (m) => (m === "$$" ? "\u0000" : "\u0001"));
    if (out.includes("\u0001")) return undefined;
    return out.replace(/\u0000/g, "$");
}

/** One network of the compose file, as the import reads it. */
interface ComposeNetwork {
    /** Its key under `networks:`. */
    readonly key: string;
    /** The Docker network name: `name`, `external.name`, or the key. */
    readonly name: string;
    /** The stack entry it becomes (without containers); undefined when it was refused. */
    readonly entry?: NetworkEntry;
    /** The stack's containers on other hosts (an external network's entry keeps them). */
    readonly others: unknown[];
}

/** The keys that say which LAN a network is on: a compose network and the stack's of the same name must agree on them. */
const LAN_KEYS = ["vlan", "subnet", "gateway", "ipam"];

/** A stack's network entry without its containers, and its containers on hosts other than `host` (which the compose file replaces). */
function stackEntry(found: RawMap, host: string): { entry: NetworkEntry; others: unknown[] } {
    const { containers, ...entry } = found;
    const others = Array.isArray(containers) ? (containers as unknown[]).filter((c) => !(isMap(c) && own(c, "host") === host)) : [];
    return { entry: { ...entry }, others };
}

/** A container of the fragment, and the network it is listed under. */
interface Placed {
    readonly network: string;
    readonly container: Record<string, unknown>;
}

/**
 * The fragment for `doc` (a parsed compose file). Throws a MacvlanConfigError (`compose file <file>
 * has N problems:`) listing every key the fragment cannot express, before returning anything.
 */
export function importCompose(doc: unknown, opts: ImportOptions): ImportResult {
    const problems: string[] = [];
    const bare = (path: string, rule: string) => problems.push(`${path} ${rule}`);
    const valued = (path: string, v: unknown, rule: string) => problems.push(`${path} ${showValue(v)} ${rule}`);

    if (!isMap(doc)) throw problemsOf(`compose file ${opts.file}`, [`the file is not a compose file (a map with services and networks), but ${Array.isArray(doc) ? "a list" : doc === null || doc === undefined ? "empty" : `a ${typeof doc}`}`]);
    for (const key of Object.keys(doc)) {
        if (!TOP_KEYS.includes(key) && !key.startsWith("x-")) bare(key, "is not supported: the stack holds containers on macvlan networks (services and networks)");
    }

    const stackNetworks = opts.stack !== undefined && Array.isArray(opts.stack.networks) ? opts.stack.networks.filter(isMap) : [];
    const parents: ParentNic[] = [];
    const vlans = new Set<number>();
    const networks = new Map<string, ComposeNetwork>();
    const rawNetworks = own(doc, "networks");
    if (rawNetworks !== undefined && !isMap(rawNetworks)) bare("networks", "must be a map of network name → its definition");
    for (const key of isMap(rawNetworks) ? Object.keys(rawNetworks) : []) {
        const at = childPath("networks", key);
        const n = own(rawNetworks as RawMap, key) ?? {};
        if (!isMap(n)) {
            bare(at, "must be a map (driver: macvlan, driver_opts, ipam), or external: true");
            continue;
        }
        for (const k of Object.keys(n)) if (!NETWORK_KEYS.includes(k)) bare(childPath(at, k), "is not supported");
        const external = own(n, "external");
        const externalName = isMap(external) ? own(external, "name") : undefined;
        const named = own(n, "name") ?? externalName ?? key;
        if (typeof named !== "string") {
            valued(`${at}.name`, named, "must be a string");
            continue;
        }
        if (external !== undefined && external !== false) {
            if (external !== true && !isMap(external)) valued(`${at}.external`, external, "must be true, or a map with the network's name");
            const found = stackNetworks.find((e) => own(e, "name") === named);
            if (found === undefined) {
                bare(
                    at,
                    opts.stack === undefined
                        ? `is external (${named}): its subnet, gateway and parent are not in the compose file; pass --stack <env> whose macvlan:networks declares ${named}, or declare it here with driver: macvlan, driver_opts.parent and ipam.config`
                        : `is external (${named}), and ${opts.stack.file} declares no network ${named} in macvlan:networks: declare it there, or here with driver: macvlan, driver_opts.parent and ipam.config`,
                );
                networks.set(key, { key, name: named, others: [] });
                continue;
            }
            networks.set(key, { key, name: named, ...stackEntry(found, opts.host) });
            continue;
        }
        const entry = declaredNetwork(n, at, named, opts.host, { bare, valued }, parents, vlans);
        const inStack = stackNetworks.find((e) => own(e, "name") === named);
        if (entry === undefined || inStack === undefined || opts.stack === undefined) {
            networks.set(key, { key, name: named, ...(entry === undefined ? {} : { entry }), others: [] });
            continue;
        }
        // The stack has this network already (on its hosts, with its slices): its entry stays, and
        // the compose file's must describe the same LAN.
        const differ = LAN_KEYS.filter((k) => JSON.stringify(own(entry, k) ?? null) !== JSON.stringify(own(inStack, k) ?? null));
        if (differ.length > 0) {
            bare(
                at,
                `(${named}) is not the network ${opts.stack.file} declares under that name: its ${differ.join(", ")} ${differ.length === 1 ? "differs" : "differ"}; the stack's entry spans its hosts, so make them agree, or give the compose network another name`,
            );
        }
        networks.set(key, { key, name: named, ...stackEntry(inStack, opts.host) });
    }

    // One host, one parent NIC: every declared network's parent is it, or a VLAN of it (`<nic>.<vlan>`).
    const stackHosts: unknown[] = opts.stack !== undefined && Array.isArray(opts.stack.hosts) ? (opts.stack.hosts as unknown[]) : [];
    const stackHost = stackHosts.find((h) => isMap(h) && own(h, "name") === opts.host);
    const stackParent = isMap(stackHost) ? own(stackHost, "parent") : undefined;
    const first = parents[0];
    for (const p of parents) {
        if (typeof stackParent === "string" && opts.stack !== undefined) {
            if (p.nic !== stackParent) valued(p.path, p.written, `is not on ${stackParent}, the parent of host ${opts.host} in ${opts.stack.file}: a host's networks are on its parent or on its VLANs (${stackParent}.<vlan>)`);
        } else if (first !== undefined && p.nic !== first.nic) {
            valued(p.path, p.written, `is not on ${first.nic}, as ${first.path} ${first.written} is: the stack gives a host one parent NIC, and its networks are on it or on its VLANs (<parent>.<vlan>)`);
        }
    }

    const placed: Placed[] = [];
    const services = own(doc, "services");
    if (!isMap(services)) bare("services", "must be a map of service name → its definition");
    for (const key of isMap(services) ? Object.keys(services) : []) {
        const c = serviceContainer(own(services as RawMap, key), childPath("services", key), key, opts.host, networks, { bare, valued });
        if (c !== undefined) placed.push(c);
    }

    if (problems.length > 0) throw problemsOf(`compose file ${opts.file}`, problems);
    const out: NetworkEntry[] = [];
    for (const n of networks.values()) {
        if (n.entry === undefined) continue;
        const containers = [...n.others, ...placed.filter((p) => p.network === n.name).map((p) => p.container)];
        out.push({ ...n.entry, ...(containers.length === 0 ? {} : { containers }) });
    }
    return { networks: out, ...(first === undefined ? {} : { parent: first.nic }), vlans: [...vlans].sort((a, b) => a - b) };
}

/** A declared network's `driver_opts.parent`: as written, and its NIC (`eth0` of `eth0.50`). */
interface ParentNic {
    readonly path: string;
    readonly written: string;
    readonly nic: string;
}

interface Report {
    readonly bare: (path: string, rule: string) => void;
    readonly valued: (path: string, v: unknown, rule: string) => void;
}

/** A network the compose file declares: macvlan, with a parent and at least one pool. */
function declaredNetwork(
    n: RawMap,
    at: string,
    name: string,
    host: string,
    r: Report,
    parents: ParentNic[],
    vlans: Set<number>,
): NetworkEntry | undefined {
    const driver = own(n, "driver");
    if (driver === undefined) {
        r.bare(at, "has no driver (Docker's default is bridge): only macvlan networks can be imported; give driver: macvlan, or external: true for a network made by hand");
        return undefined;
    }
    if (driver !== "macvlan") {
        r.valued(`${at}.driver`, driver, "is not macvlan: only macvlan networks can be imported");
        return undefined;
    }
    const entry: NetworkEntry = { name };
    let ok = true;
    const opts = own(n, "driver_opts");
    const parent = isMap(opts) ? own(opts, "parent") : undefined;
    if (opts !== undefined && !isMap(opts)) r.bare(`${at}.driver_opts`, "must be a map (parent, macvlan_mode)");
    if (isMap(opts)) for (const k of Object.keys(opts)) if (!DRIVER_OPTS.includes(k)) r.bare(childPath(`${at}.driver_opts`, k), "is not supported");
    if (parent === undefined) {
        r.bare(`${at}.driver_opts.parent`, "is required: the host NIC the network is on (eth0, or eth0.50 for VLAN 50)");
        ok = false;
    } else if (typeof parent !== "string") {
        r.valued(`${at}.driver_opts.parent`, parent, "must be a string");
        ok = false;
    } else {
        const m = /^(.+)\.(\d{1,4})$/.exec(parent);
        const nic = m === null ? parent : (m[1] ?? parent);
        parents.push({ path: `${at}.driver_opts.parent`, written: parent, nic });
        if (m !== null) {
            const vlan = Number(m[2]);
            entry.vlan = vlan;
            vlans.add(vlan);
        }
    }
    const mode = isMap(opts) ? own(opts, "macvlan_mode") : undefined;
    if (mode !== undefined && mode !== "bridge") entry.mode = mode;

    const ipam = own(n, "ipam");
    const pools = isMap(ipam) ? own(ipam, "config") : undefined;
    if (ipam !== undefined && !isMap(ipam)) r.bare(`${at}.ipam`, "must be a map with config");
    if (isMap(ipam)) {
        for (const k of Object.keys(ipam)) if (!IPAM_KEYS.includes(k)) r.bare(childPath(`${at}.ipam`, k), "is not supported");
        const d = own(ipam, "driver");
        if (d !== undefined && d !== "default") r.valued(`${at}.ipam.driver`, d, "is not supported: the stack's networks use Docker's default IPAM");
    }
    if (!Array.isArray(pools) || pools.length === 0) {
        r.bare(at, "has no subnet: give ipam.config with its subnet and gateway (the stack pins addresses in the LAN's subnet)");
        return undefined;
    }
    const written: Record<string, unknown>[] = [];
    const aux: Record<string, unknown> = {};
    pools.forEach((p: unknown, j) => {
        const pat = `${at}.ipam.config[${j}]`;
        if (!isMap(p)) {
            r.bare(pat, "must be a map (subnet, gateway, ip_range, aux_addresses)");
            ok = false;
            return;
        }
        for (const k of Object.keys(p)) if (!POOL_KEYS.includes(k)) r.bare(childPath(pat, k), "is not supported");
        if (own(p, "subnet") === undefined) {
            r.bare(`${pat}.subnet`, "is required: the LAN's subnet");
            ok = false;
        }
        if (own(p, "gateway") === undefined) {
            r.bare(`${pat}.gateway`, "is required: the LAN's real router (Docker before 29 invents one, and 29+ gives the containers no default route)");
            ok = false;
        }
        const pool: Record<string, unknown> = { subnet: own(p, "subnet"), gateway: own(p, "gateway") };
        if (own(p, "ip_range") !== undefined) pool.ipRange = own(p, "ip_range");
        written.push(pool);
        const a = own(p, "aux_addresses");
        if (a !== undefined && !isMap(a)) r.bare(`${pat}.aux_addresses`, "must be a map of name → address");
        if (isMap(a)) for (const k of Object.keys(a)) define(aux, k, own(a, k));
    });
    if (!ok) return undefined;
    if (written.length === 1) Object.assign(entry, written[0]);
    else entry.ipam = written;
    if (Object.keys(aux).length > 0) entry.auxAddresses = aux;
    entry.hosts = [host];
    return entry;
}

/** A service's `environment` (map or list) as env values and the names kept out of the file (`secretEnv`). */
function readEnvironment(raw: unknown, at: string, r: Report): { env: Record<string, string>; secret: string[] } {
    const env: Record<string, string> = {};
    const secret: string[] = [];
    const pairs: [string, unknown, string][] = [];
    if (Array.isArray(raw)) {
        raw.forEach((item: unknown, i) => {
            if (typeof item !== "string") {
                r.bare(`${at}[${i}]`, "must be a string NAME=value");
                return;
            }
            const eq = item.indexOf("=");
            // `NAME` alone: Compose passes the shell's value through.
            pairs.push(eq < 0 ? [item, undefined, `${at}[${i}]`] : [item.slice(0, eq), item.slice(eq + 1), `${at}[${i}]`]);
        });
    } else if (isMap(raw)) {
        for (const k of Object.keys(raw)) pairs.push([k, own(raw, k), childPath(at, k)]);
    } else {
        r.bare(at, "must be a map NAME: value, or a list of NAME=value");
    }
    for (const [name, value, path] of pairs) {
        // A value is never shown (it can be a password): only its path and the rule.
        if (value === undefined) {
            secret.push(name);
            continue;
        }
        const text = scalarText(value);
        if (text === undefined) {
            r.bare(path, "must be a string, a number or a boolean");
            continue;
        }
        if (INTERPOLATED.test(text) || SECRET_NAME.test(name)) {
            secret.push(name);
            continue;
        }
        const plain = unescapeDollars(text);
        if (plain === undefined) r.bare(path, "interpolates a variable inside its value, which the stack cannot express: write the value, or the whole value as ${NAME} (a secret)");
        else define(env, name, plain);
    }
    return { env, secret };
}

/** A service's `command` (a string, split as Compose splits it, or a list) as words. */
function readCommand(raw: unknown, at: string, r: Report): string[] | undefined {
    let words: unknown[];
    if (typeof raw === "string") {
        const split = splitShellWords(raw);
        if (split === undefined) {
            r.valued(at, raw, "has a quote that is not closed");
            return undefined;
        }
        words = split;
    } else if (Array.isArray(raw)) words = raw;
    else {
        r.valued(at, raw, "must be a string or a list of strings");
        return undefined;
    }
    const out: string[] = [];
    words.forEach((w, i) => {
        const path = typeof raw === "string" ? at : `${at}[${i}]`;
        const text = scalarText(w);
        const plain = text === undefined ? undefined : unescapeDollars(text);
        if (text === undefined) r.valued(path, w, "must be a string");
        else if (plain === undefined) r.valued(path, text, "interpolates a variable, which the stack cannot express: write the value ($$ for a $)");
        else out.push(plain);
    });
    return out;
}

/** One service as a container of the fragment, listed under its first network, joining the others. */
function serviceContainer(raw: unknown, at: string, key: string, host: string, networks: ReadonlyMap<string, ComposeNetwork>, r: Report): Placed | undefined {
    if (!isMap(raw)) {
        r.bare(at, "must be a map (image, networks, …)");
        return undefined;
    }
    for (const k of Object.keys(raw)) {
        if (SERVICE_KEYS.includes(k)) continue;
        const why = WHY_NOT[k];
        r.bare(childPath(at, k), why === undefined ? "is not supported" : `is not supported: ${why}`);
    }
    const image = own(raw, "image");
    if (image === undefined) r.bare(`${at}.image`, "is required: the stack runs a container from an image");
    const name = own(raw, "container_name") ?? key;

    const written = own(raw, "networks");
    if (written === undefined) r.bare(at, "joins no network: a container of the stack is on a macvlan network at a pinned address (networks.<name>.ipv4_address)");
    else if (!isMap(written)) r.bare(`${at}.networks`, "must be a map of network → ipv4_address (a list gives no pinned address)");
    const nets: RawMap = isMap(written) ? written : {};
    const serviceMac = own(raw, "mac_address");
    const keys = Object.keys(nets);
    if (serviceMac !== undefined && keys.length > 1) {
        r.bare(`${at}.mac_address`, `is ambiguous with several networks (${keys.join(", ")}): give each networks.<name>.mac_address`);
    }
    const attachments: { network: string; ip: unknown; ip6?: unknown; mac?: unknown; priority: number }[] = [];
    for (const k of keys) {
        const nat = childPath(`${at}.networks`, k);
        const net = networks.get(k);
        if (net === undefined) {
            r.bare(nat, "is not a network of the compose file (networks:)");
            continue;
        }
        const v = own(nets, k) ?? {};
        if (!isMap(v)) {
            r.bare(nat, "must be a map with ipv4_address");
            continue;
        }
        for (const kk of Object.keys(v)) if (!SERVICE_NETWORK_KEYS.includes(kk)) r.bare(childPath(nat, kk), "is not supported");
        const ip = own(v, "ipv4_address");
        if (ip === undefined) r.bare(`${nat}.ipv4_address`, "is required: a container of the stack is pinned at its address");
        const mac = own(v, "mac_address");
        if (mac !== undefined && serviceMac !== undefined) r.bare(`${at}.mac_address`, `is given beside ${nat}.mac_address: give one`);
        const pr = own(v, "gw_priority");
        if (pr !== undefined && typeof pr !== "number") r.valued(`${nat}.gw_priority`, pr, "must be a number");
        if (net.entry === undefined) continue; // refused already, at the network
        attachments.push({
            network: net.name,
            ip,
            ...(own(v, "ipv6_address") === undefined ? {} : { ip6: own(v, "ipv6_address") }),
            ...(mac === undefined ? (keys.length === 1 && serviceMac !== undefined ? { mac: serviceMac } : {}) : { mac }),
            priority: typeof pr === "number" ? pr : 0,
        });
    }
    if (isMap(written) && keys.length === 0) r.bare(`${at}.networks`, "lists no network: a container of the stack is on a macvlan network at a pinned address");

    // Read on even without a usable network, so that every problem of the service is reported.
    const container: Record<string, unknown> = { name, host, image };
    const primary = attachments[0];
    if (primary !== undefined) {
        container.ip = primary.ip;
        if (primary.ip6 !== undefined) container.ip6 = primary.ip6;
        if (primary.mac !== undefined) container.mac = primary.mac;
    }
    const joins = attachments.slice(1);
    if (primary !== undefined && joins.length > 0) {
        container.networks = joins.map((j) => ({ network: j.network, ip: j.ip, ...(j.ip6 === undefined ? {} : { ip6: j.ip6 }), ...(j.mac === undefined ? {} : { mac: j.mac }) }));
        // The highest gw_priority gives the default route (the first network on a tie, as the stack's default).
        const route = attachments.reduce((best, a) => (a.priority > best.priority ? a : best), primary);
        if (route !== primary) container.defaultRoute = route.network;
    }
    const command = own(raw, "command");
    if (command !== undefined) {
        const words = readCommand(command, `${at}.command`, r);
        if (words !== undefined) container.command = words;
    }
    const environment = own(raw, "environment");
    if (environment !== undefined) {
        const { env, secret } = readEnvironment(environment, `${at}.environment`, r);
        if (Object.keys(env).length > 0) container.env = env;
        if (secret.length > 0) container.secretEnv = secret;
    }
    const restart = own(raw, "restart");
    if (restart !== undefined) {
        const text = restart === false ? "no" : restart;
        if (typeof text === "string" && RESTARTS.includes(text)) container.restart = text;
        else r.valued(`${at}.restart`, restart, `is not supported: the stack's restart is one of ${RESTARTS.join(", ")} (no retry count)`);
    }
    return primary === undefined ? undefined : { network: primary.network, container };
}
