/**
 * Reading a lab host's real network state over SSH (labExec), for the MacvlanHost system tests:
 * links (`ip -d -j link`), addresses (`ip -j addr`), routes (`ip -j route show table all`), every
 * IPv4 sysctl and the IPv6 per-link ones (/proc/sys/net), and the files (type, mode, owner, size,
 * link target and sha256) under the directories the host scripts write. One SSH session per
 * snapshot.
 *
 * Two views of a snapshot:
 * - `exactView`: everything (what "byte-for-byte back to its prior state" compares);
 * - `runtimeView`: the same without what differs every time a link is created again (ifindex,
 *   the random MAC of a macvlan and what derives from it: IPv6 link-local addresses and routes),
 *   nor transient IPv6 DAD flags and operstate (what "the boot config restores the state" and "a
 *   cut run finished by the next one" compare).
 */
import { labExec } from "../../lab/lab";

/** The host lock (flock(1)); the delete that removes the last feature removes it. */
export const LOCK_FILE = "/run/pulumi-macvlan.lock";
/** The directories (and the lock file) the host scripts write (see HOST_PATHS in components/host/feature.ts). */
export const SCRIPT_DIRS = ["/etc/pulumi-macvlan", "/var/lib/pulumi-macvlan", "/etc/systemd/system", "/etc/sysctl.d", LOCK_FILE] as const;

type Json = Record<string, unknown>;

export interface HostSnapshot {
    readonly host: string;
    readonly links: readonly Json[];
    readonly addresses: readonly Json[];
    readonly routes: readonly Json[];
    /** `/proc/sys/net/...` path (relative) → value. */
    readonly sysctls: Readonly<Record<string, string>>;
    /** `<path> <type> <mode> <uid>:<gid> <size> <link target>` per file or directory under SCRIPT_DIRS. */
    readonly files: readonly string[];
    /** path → sha256 of every regular file under SCRIPT_DIRS. */
    readonly contents: Readonly<Record<string, string>>;
}

const SECTION = "@@pm-section ";

function snapshotScript(): string {
    const dirs = SCRIPT_DIRS.join(" ");
    return [
        `echo '${SECTION}links'; ip -d -j link`,
        `echo '${SECTION}addresses'; ip -j addr`,
        `echo '${SECTION}routes'; ip -j route show table all`,
        `echo '${SECTION}sysctls'; cd /proc/sys/net && grep -r '' ipv4 ipv6/conf 2>/dev/null | LC_ALL=C sort; cd /`,
        `echo '${SECTION}files'; find ${dirs} -printf '%p %y %m %U:%G %s %l\\n' 2>/dev/null | LC_ALL=C sort`,
        `echo '${SECTION}contents'; find ${dirs} -type f -print0 2>/dev/null | LC_ALL=C sort -z | xargs -0 -r sha256sum`,
        `echo '${SECTION}end'`,
    ].join("; ");
}

/** Parses the output of the snapshot script. */
export function parseSnapshot(host: string, out: string): HostSnapshot {
    const sections = new Map<string, string>();
    let name: string | undefined;
    let body: string[] = [];
    for (const line of out.split("\n")) {
        if (line.startsWith(SECTION)) {
            if (name !== undefined) sections.set(name, body.join("\n"));
            name = line.slice(SECTION.length);
            body = [];
        } else body.push(line);
    }
    if (!sections.has("contents") || name !== "end") throw new Error(`${host}: incomplete state snapshot:\n${out}`);
    const json = (s: string): Json[] => JSON.parse(sections.get(s) ?? "[]") as Json[];
    const lines = (s: string): string[] => (sections.get(s) ?? "").split("\n").filter((l) => l !== "");
    const sysctls: Record<string, string> = {};
    for (const l of lines("sysctls")) {
        const i = l.indexOf(":");
        sysctls[l.slice(0, i)] = l.slice(i + 1);
    }
    const contents: Record<string, string> = {};
    for (const l of lines("contents")) {
        const m = /^([0-9a-f]{64}) {2}(.*)$/.exec(l);
        if (m === null) throw new Error(`${host}: bad sha256sum line ${l}`);
        contents[m[2]] = m[1];
    }
    return { host, links: json("links"), addresses: json("addresses"), routes: json("routes"), sysctls, files: lines("files"), contents };
}

/** The host's state now (one SSH session). */
export async function snapshot(host: string): Promise<HostSnapshot> {
    const r = await labExec(host, snapshotScript(), { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`${host}: state snapshot failed (exit ${r.code}): ${r.stderr}`);
    return parseSnapshot(host, r.stdout);
}

/** Links by name. */
export function linkByName(s: HostSnapshot, name: string): Json | undefined {
    return s.links.find((l) => l["ifname"] === name);
}

function sortedBy<T>(xs: readonly T[], key: (x: T) => string): T[] {
    return [...xs].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Everything, keyed by section, in a stable order (for deepStrictEqual with a readable diff). */
export function exactView(s: HostSnapshot): Json {
    return {
        links: sortedBy(s.links, (l) => String(l["ifname"])),
        addresses: sortedBy(s.addresses, (l) => String(l["ifname"])),
        routes: s.routes.map((r) => JSON.stringify(r)).sort(),
        sysctls: s.sysctls,
        files: s.files,
        contents: s.contents,
    };
}

/** Names of the links whose kind is macvlan (random MAC at every creation). */
function macvlanLinks(s: HostSnapshot): Set<string> {
    return new Set(
        s.links.filter((l) => (l["linkinfo"] as Json | undefined)?.["info_kind"] === "macvlan").map((l) => String(l["ifname"])),
    );
}

const LINK_VOLATILE = ["ifindex", "link_index", "operstate"];

/** What must be equal after links were created again (see the header). Files are left out: compare them separately. */
export function runtimeView(s: HostSnapshot): Json {
    const macvlans = macvlanLinks(s);
    const links = sortedBy(s.links, (l) => String(l["ifname"])).map((l) => {
        const out: Json = {};
        for (const [k, v] of Object.entries(l)) {
            if (LINK_VOLATILE.includes(k)) continue;
            if (k === "address" && macvlans.has(String(l["ifname"]))) continue;
            out[k] = v;
        }
        return out;
    });
    const addresses = sortedBy(s.addresses, (a) => String(a["ifname"])).map((a) => ({
        ifname: a["ifname"],
        flags: a["flags"],
        mtu: a["mtu"],
        addr_info: ((a["addr_info"] as Json[] | undefined) ?? [])
            .filter((i) => !(i["family"] === "inet6" && i["scope"] === "link"))
            .map((i) => {
                const { tentative, dadfailed, ...rest } = i as Json & { tentative?: unknown; dadfailed?: unknown };
                void tentative;
                void dadfailed;
                return rest;
            }),
    }));
    const routes = s.routes
        .filter((r) => !String(r["dst"]).startsWith("fe80:"))
        .map((r) => JSON.stringify(r))
        .sort();
    return { links, addresses, routes, sysctls: s.sysctls };
}

/** The files part of a snapshot, as one sorted list of lines (listing and checksums). */
export function filesView(s: HostSnapshot): string[] {
    return [...s.files, ...Object.entries(s.contents).map(([p, h]) => `${p} sha256=${h}`)].sort();
}

/** Lines only in a (`-`) or only in b (`+`): a short, readable difference of two views. */
export function diffViews(a: Json, b: Json): string[] {
    const flat = (v: Json): string[] => {
        const out: string[] = [];
        for (const [section, x] of Object.entries(v)) {
            if (Array.isArray(x)) for (const e of x) out.push(`${section}: ${typeof e === "string" ? e : JSON.stringify(e)}`);
            else if (typeof x === "object" && x !== null) for (const [k, e] of Object.entries(x)) out.push(`${section}: ${k}=${String(e)}`);
            else out.push(`${section}: ${String(x)}`);
        }
        return out;
    };
    const [fa, fb] = [flat(a), flat(b)];
    const [sa, sb] = [new Set(fa), new Set(fb)];
    return [...fa.filter((l) => !sb.has(l)).map((l) => `- ${l}`), ...fb.filter((l) => !sa.has(l)).map((l) => `+ ${l}`)];
}
