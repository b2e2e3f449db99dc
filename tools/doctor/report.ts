/**
 * What the doctor found, from what each host answered: one row per host (reachable, host key,
 * Docker, parent, each feature's drift), one per network per host and one per container (exists,
 * with its pinned addresses and MAC), and how they read in a terminal. Pure: the answers come in
 * (tools/doctor/run.ts asks the hosts), the report goes out.
 */
import type { StackModel } from "../../components/config/model";
import type { ProbeReport } from "../../components/host/scripts";
import { DRIFT_TOKEN_RE } from "../../components/host/feature";
import { featureKey } from "../../components/host/registry";
import { segmentLink } from "../../components/net/names";
import type { PlannedHost } from "../../components/plan/stack";
import type { InspectReport } from "./inspect";

/** What the doctor got from one host. */
export type HostOutcome =
    | { readonly kind: "unpinned" }
    | { readonly kind: "failed"; readonly error: string; readonly hostKeyRefused: boolean }
    | {
          readonly kind: "answered";
          /** `pinned` (the stack file's hostKey) or `learned` (the stack's known_hosts file). */
          readonly hostKey: "pinned" | "learned";
          readonly probe: ProbeReport;
          readonly inspect?: InspectReport;
          readonly inspectError?: string;
      };

/**
 * One feature of a host: `ok`, `drift` (with the probe's codes), `new` (never applied on this host,
 * or its record there was lost: the probe's code `new`), or `unknown` (the host did not answer).
 */
export interface FeatureRow {
    readonly key: string;
    readonly kind: string;
    readonly state: "ok" | "drift" | "new" | "unknown";
    readonly codes: readonly string[];
}

export interface HostRow {
    readonly host: string;
    readonly address: string;
    readonly port: number;
    readonly reachable: boolean;
    /** `pinned`, `learned` (both: the server presented that key), `not pinned` (not contacted) or `refused`. */
    readonly hostKey: "pinned" | "learned" | "not pinned" | "refused" | "unknown";
    /** The Docker Engine version, or null (not reached, or no engine answered). */
    readonly docker: string | null;
    /** `eth0 UP mtu 1500`, `eth0 absent`, or null. */
    readonly parent: string | null;
    readonly features: readonly FeatureRow[];
    /** Why the host could not be read. */
    readonly error?: string;
}

/** `ok`, `missing`, `different` (see `differences`), or `unknown` (the host's engine could not be asked). */
export type ObjectState = "ok" | "missing" | "different" | "unknown";

export interface NetworkRow {
    readonly network: string;
    readonly host: string;
    /** The link the network should hang off: the parent, or `<parent>.<vlan>`. */
    readonly link: string;
    readonly state: ObjectState;
    readonly differences: readonly string[];
}

export interface ContainerRow {
    readonly container: string;
    readonly host: string;
    /** Each network it should be on, with the pinned addresses and MAC. */
    readonly endpoints: readonly { readonly network: string; readonly ip: string; readonly ip6?: string; readonly mac: string }[];
    readonly state: ObjectState;
    readonly differences: readonly string[];
}

export interface DoctorReport {
    readonly hosts: readonly HostRow[];
    readonly networks: readonly NetworkRow[];
    readonly containers: readonly ContainerRow[];
    /** Swarm networks: not inspected (their networks are made by remote commands on the manager). */
    readonly skipped: readonly string[];
    /** What the program warns about (components/config/warnings.ts): risky but legal, with what the hosts answered. */
    readonly warnings: readonly string[];
    /** True when every host answered with no drift and every network and container is as pinned. */
    readonly healthy: boolean;
}

/** The codes of a drift token (`drift:promisc-off,boot@123` → promisc-off, boot), or none for a clean token. */
function driftCodes(token: string): string[] | undefined {
    if (!DRIFT_TOKEN_RE.test(token)) return undefined;
    return token.slice("drift:".length, token.indexOf("@")).split(",");
}

function hostRow(p: PlannedHost, outcome: HostOutcome): HostRow {
    const h = p.model;
    const base = { host: h.name, address: h.address, port: h.port };
    // A feature is as applied when the probe prints exactly the token it stored then (which can
    // itself read `drift:new,…`: the probe's token before the first apply); another token is drift,
    // and no stored token is a feature never applied here.
    const features = (state: FeatureRow["state"], tokens?: ReadonlyMap<string, string>, stored?: ReadonlyMap<string, string | null>): FeatureRow[] =>
        p.plan.features.map(({ feature }) => {
            const key = featureKey(feature);
            const token = tokens?.get(key);
            const kept = stored?.get(key);
            if (state === "unknown" || token === undefined || kept === undefined) return { key, kind: feature.kind, state: "unknown", codes: [] };
            if (kept !== null && token === kept) return { key, kind: feature.kind, state: "ok", codes: [] };
            const codes = driftCodes(token) ?? ["changed"];
            return { key, kind: feature.kind, state: kept === null ? "new" : "drift", codes };
        });
    if (outcome.kind === "unpinned") {
        return { ...base, reachable: false, hostKey: "not pinned", docker: null, parent: null, features: features("unknown"), error: "no pinned or learned host key: not contacted" };
    }
    if (outcome.kind === "failed") {
        return { ...base, reachable: false, hostKey: outcome.hostKeyRefused ? "refused" : "unknown", docker: null, parent: null, features: features("unknown"), error: outcome.error };
    }
    const parent = outcome.probe.parent;
    return {
        ...base,
        reachable: true,
        hostKey: outcome.hostKey,
        docker: outcome.probe.docker?.version ?? null,
        parent: parent === undefined ? null : parent.exists ? `${parent.link} ${parent.state} mtu ${parent.mtu}` : `${parent.link} absent`,
        features: features("ok", outcome.probe.tokens, outcome.inspect?.tokens),
        ...(outcome.inspectError === undefined ? {} : { error: `docker inspect failed: ${outcome.inspectError}` }),
        ...(outcome.inspect?.docker === false ? { error: "no docker command on the host" } : {}),
    };
}

/**
 * An object's state from what its engine reported: `unknown` (not asked), `missing`, or, for one
 * that exists, `ok` or `different` by what `differencesOf` finds.
 */
function compare<T extends { readonly exists: true }>(
    seen: T | { readonly exists: false } | undefined,
    differencesOf: (seen: T) => string[],
): { state: ObjectState; differences: string[] } {
    if (seen === undefined) return { state: "unknown", differences: [] };
    if (!seen.exists) return { state: "missing", differences: [] };
    const differences = differencesOf(seen);
    return { state: differences.length === 0 ? "ok" : "different", differences };
}

/** The report of a stack's hosts, networks and containers from each host's outcome (by host name). */
export function buildReport(model: StackModel, planned: readonly PlannedHost[], outcomes: ReadonlyMap<string, HostOutcome>, warnings: readonly string[] = []): DoctorReport {
    const hosts = planned.map((p) => hostRow(p, outcomes.get(p.model.name) ?? { kind: "failed", error: "not asked", hostKeyRefused: false }));
    const inspectOf = (host: string): InspectReport | undefined => {
        const o = outcomes.get(host);
        return o?.kind === "answered" ? o.inspect : undefined;
    };
    const hostModel = new Map(model.hosts.map((h) => [h.name, h]));
    const networks: NetworkRow[] = [];
    const containers: ContainerRow[] = [];
    const skipped: string[] = [];
    for (const n of model.networks) {
        if (n.swarm === true) {
            skipped.push(`${n.name} (swarm)`);
            continue;
        }
        for (const host of n.hosts) {
            const h = hostModel.get(host);
            if (h === undefined) continue;
            const link = segmentLink(h.parent, n.vlan);
            const { state, differences } = compare(inspectOf(host)?.networks.get(n.name), (seen) => {
                const found: string[] = [];
                if (seen.driver !== "macvlan") found.push(`driver ${seen.driver} (want macvlan)`);
                if (seen.parent !== link) found.push(`parent ${seen.parent || "none"} (want ${link})`);
                if (seen.mode !== n.mode) found.push(`mode ${seen.mode || "none"} (want ${n.mode})`);
                const want = n.ipam.map((p) => p.subnet);
                if ([...seen.subnets].sort().join(",") !== [...want].sort().join(",")) found.push(`subnets ${seen.subnets.join(",") || "none"} (want ${want.join(",")})`);
                return found;
            });
            networks.push({ network: n.name, host, link, state, differences });
        }
        for (const c of n.containers) {
            const endpoints = c.attachments.map((a) => ({ network: a.network, ip: a.ipv4Address, ...(a.ipv6Address === undefined ? {} : { ip6: a.ipv6Address }), mac: a.mac }));
            const { state, differences } = compare(inspectOf(c.host)?.containers.get(c.name), (seen) => {
                const found: string[] = [];
                if (seen.status !== "running") found.push(`status ${seen.status} (want running)`);
                for (const want of endpoints) {
                    const got = seen.endpoints.find((e) => e.network === want.network);
                    if (got === undefined) {
                        found.push(`not on ${want.network}`);
                        continue;
                    }
                    if (got.ip !== want.ip) found.push(`${want.network} ip ${got.ip || "none"} (want ${want.ip})`);
                    if (want.ip6 !== undefined && got.ip6 !== want.ip6) found.push(`${want.network} ip6 ${got.ip6 || "none"} (want ${want.ip6})`);
                    if (got.mac !== want.mac) found.push(`${want.network} mac ${got.mac || "none"} (want ${want.mac})`);
                }
                return found;
            });
            containers.push({ container: c.name, host: c.host, endpoints, state, differences });
        }
    }
    const healthy =
        hosts.every((h) => h.reachable && h.features.every((f) => f.state === "ok")) && networks.every((n) => n.state === "ok") && containers.every((c) => c.state === "ok");
    return { hosts, networks, containers, skipped, warnings, healthy };
}

/** A feature kind's cell: `ok`, `drift`, `-` (none planned) or `?`; several (VLANs, routes) counted. */
function kindCell(h: HostRow, kind: string): string {
    const fs = h.features.filter((f) => f.kind === kind);
    if (fs.length === 0) return "-";
    if (fs.some((f) => f.state === "unknown")) return "?";
    const drift = fs.filter((f) => f.state === "drift").length;
    const fresh = fs.filter((f) => f.state === "new").length;
    if (fs.length === 1) return drift > 0 ? "DRIFT" : fresh > 0 ? "NEW" : "ok";
    if (drift === 0 && fresh === 0) return `${fs.length} ok`;
    return [drift > 0 ? `${drift}/${fs.length} DRIFT` : "", fresh > 0 ? `${fresh}/${fs.length} NEW` : ""].filter((x) => x !== "").join(" ");
}

/** Columns padded to their widest cell. */
function table(rows: readonly (readonly string[])[]): string[] {
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
    return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd());
}

/** The report as a terminal reads it: hosts, drift, networks, containers, and a last line that says whether all is well. */
export function renderReport(r: DoctorReport): string {
    const out: string[] = [];
    out.push(
        ...table([
            ["HOST", "SSH", "HOST KEY", "DOCKER", "PARENT", "PROMISC", "FORWARD", "VLANS", "SHIM", "ROUTES"],
            ...r.hosts.map((h) => [
                h.host,
                h.reachable ? `${h.address}:${h.port}` : "UNREACHABLE",
                h.hostKey,
                h.docker ?? "-",
                h.parent ?? "-",
                kindCell(h, "promisc"),
                kindCell(h, "ipforward"),
                kindCell(h, "vlan"),
                kindCell(h, "shim"),
                kindCell(h, "route"),
            ]),
        ]),
    );
    const problems = r.hosts.flatMap((h) => [
        ...(h.error === undefined ? [] : [`  ${h.host}: ${h.error}`]),
        ...h.features.filter((f) => f.state === "drift" || f.state === "new").map((f) => `  ${h.host} ${f.key}: ${f.state === "new" ? "not applied" : "drift"} (${f.codes.join(", ")})`),
    ]);
    if (problems.length > 0) out.push("", "Hosts:", ...problems);
    if (r.networks.length > 0) {
        out.push(
            "",
            ...table([["NETWORK", "HOST", "LINK", "STATE", "DETAIL"], ...r.networks.map((n) => [n.network, n.host, n.link, n.state.toUpperCase() === "OK" ? "ok" : n.state.toUpperCase(), n.differences.join("; ")])]),
        );
    }
    if (r.containers.length > 0) {
        out.push(
            "",
            ...table([
                ["CONTAINER", "HOST", "NETWORKS (ip, mac)", "STATE", "DETAIL"],
                ...r.containers.map((c) => [
                    c.container,
                    c.host,
                    c.endpoints.map((e) => `${e.network} ${e.ip}${e.ip6 === undefined ? "" : ` ${e.ip6}`} ${e.mac}`).join(", "),
                    c.state === "ok" ? "ok" : c.state.toUpperCase(),
                    c.differences.join("; "),
                ]),
            ]),
        );
    }
    if (r.skipped.length > 0) out.push("", `Not inspected: ${r.skipped.join(", ")}`);
    if (r.warnings.length > 0) out.push("", "Warnings (legal, but risky):", ...r.warnings.map((w) => `  ${w}`));
    out.push("", r.healthy ? "All hosts, networks and containers are as the stack describes them." : "Something differs from the stack: see above. The doctor changed nothing.");
    return `${out.join("\n")}\n`;
}
