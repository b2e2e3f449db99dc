/**
 * The Docker Engine of each host, as the version rules see it: one effective version per host.
 *
 * - With the drift probe on (`macvlan:probe`, default) and an engine that answered it, the probed
 *   version (`docker version`: engine and API version) is the one the rules use; a declared
 *   `dockerVersion` must then agree with it (same major.minor), else that is a config problem.
 * - With the probe off, or when the probe found no answering engine on the host (docker missing
 *   or silent: no version-based check against it), the declared `dockerVersion` is used.
 * - With neither, the version is unknown, and each rule says what it assumes then.
 *
 * The engine's own thresholds, from the field notes: several macvlan networks on one parent need
 * Engine 27+; a per-network MAC needs API 1.44 (Engine 25+); gateway priority needs 28+; 29+ no
 * longer guesses a gateway when none is given (config requires one, so nothing depends on it).
 * Pure: no resource imports.
 */
import type { ProbedDocker } from "../host/scripts";
import { DOCKER_VERSION_RE } from "../net/patterns";

/** Docker Engine versions the rules depend on. */
export const ENGINE_MIN = {
    /** Several macvlan networks on one parent (link). */
    sharedParent: 27,
    /** A per-network (endpoint) MAC address: API 1.44. */
    perNetworkMac: 25,
    /** Gateway priority of a container's networks (which one gives the default route). */
    gatewayPriority: 28,
    /** No gateway is guessed for a network that has none. */
    noGatewayGuess: 29,
} as const;

/** The API version that honours a per-network MAC address. */
export const PER_NETWORK_MAC_MIN_API = { major: 1, minor: 44 } as const;

/** A host's engine as a rule sees it. */
export interface EngineVersion {
    readonly major: number;
    readonly minor: number;
    /** As reported by the probe (`27.3.1`) or declared (`27.3`). */
    readonly text: string;
    /** The API version `<major>.<minor>`, when probed. */
    readonly api?: { readonly major: number; readonly minor: number };
    /** Where it comes from: the probe, or the host entry's `dockerVersion`. */
    readonly source: "probed" | "declared";
}

/** The `<major>.<minor>` at the start of a version text; undefined when it has none. */
function majorMinor(text: string): { major: number; minor: number } | undefined {
    const m = /^(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})(?:$|[^0-9])/.exec(text);
    return m === null ? undefined : { major: Number(m[1]), minor: Number(m[2]) };
}

/** The engine a host entry declares (`dockerVersion`, "major.minor"); undefined: none, or not valid. */
export function declaredEngine(dockerVersion: string | undefined): EngineVersion | undefined {
    if (dockerVersion === undefined || !DOCKER_VERSION_RE.test(dockerVersion)) return undefined;
    const mm = majorMinor(dockerVersion);
    return mm === undefined ? undefined : { ...mm, text: dockerVersion, source: "declared" };
}

/** The engine the probe found; undefined when its version does not start with `<major>.<minor>`. */
export function probedEngine(docker: ProbedDocker): EngineVersion | undefined {
    const mm = majorMinor(docker.version);
    const api = majorMinor(docker.apiVersion);
    if (mm === undefined) return undefined;
    return { ...mm, text: docker.version, ...(api === undefined ? {} : { api }), source: "probed" };
}

/**
 * The one version the rules use for a host: the probed engine when the probe found one, else the
 * declared `dockerVersion`, else unknown (undefined).
 */
export function effectiveEngine(dockerVersion: string | undefined, probed: ProbedDocker | undefined): EngineVersion | undefined {
    return (probed === undefined ? undefined : probedEngine(probed)) ?? declaredEngine(dockerVersion);
}

/** True when a known engine is `major` or later. */
export function engineAtLeast(e: EngineVersion | undefined, major: number): boolean {
    return e !== undefined && e.major >= major;
}

/** True when the engine honours a per-network MAC: API 1.44 when probed, Engine 25 when declared. */
export function allowsPerNetworkMac(e: EngineVersion): boolean {
    if (e.api !== undefined) {
        const want = PER_NETWORK_MAC_MIN_API;
        return e.api.major > want.major || (e.api.major === want.major && e.api.minor >= want.minor);
    }
    return e.major >= ENGINE_MIN.perNetworkMac;
}

/** An engine in messages: `Docker 26.1.4 (API 1.45, probed)` or `Docker 24.0 (hosts[1].dockerVersion)`. */
export function describeEngine(e: EngineVersion, path: string): string {
    if (e.source === "declared") return `Docker ${e.text} (${path}.dockerVersion)`;
    return `Docker ${e.text} (${e.api === undefined ? "" : `API ${e.api.major}.${e.api.minor}, `}found by the probe)`;
}

/**
 * The problem of a declared `dockerVersion` that disagrees with the engine the probe found (its
 * major.minor differs), as `<value> <rule>` after the path `hosts[i].dockerVersion`; undefined: they
 * agree, or one of them is missing.
 */
export function declaredVersionProblem(host: string, dockerVersion: string | undefined, probed: ProbedDocker | undefined): string | undefined {
    const declared = declaredEngine(dockerVersion);
    const found = probed === undefined ? undefined : probedEngine(probed);
    if (declared === undefined || found === undefined) return undefined;
    if (declared.major === found.major && declared.minor === found.minor) return undefined;
    return (
        `${declared.text} disagrees with the Docker Engine the probe found on host ${host}: ${found.text} (API ${probed?.apiVersion ?? "?"}); ` +
        `set dockerVersion to "${found.major}.${found.minor}" or remove it (with the probe on, the probed version is the one used)`
    );
}
