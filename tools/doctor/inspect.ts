/**
 * The doctor's read-only look at a host's Docker objects and applied features: a script (sent on
 * the stdin of `/bin/sh -s`, like the drift probe) that asks the engine for each named macvlan
 * network and container, and reads the token each feature stored when it was applied, one line for
 * each, and the parser of its answer. It changes nothing: only `docker network inspect`,
 * `docker inspect` and reading the tokens. Every name is checked against Docker's name
 * pattern and single-quoted. Pure: no resource imports.
 */
import { isDockerContainerName, isDockerName } from "../../components/net/patterns";
import { HOST_PATHS } from "../../components/host/feature";
import { shq, ShellValueError, stdinScript } from "../../components/host/shell";

/** What the inspect asks one host for. */
export interface InspectRequest {
    /** The Docker network names expected on the host. */
    readonly networks: readonly string[];
    /** The container names expected on the host. */
    readonly containers: readonly string[];
    /** The host's feature keys (`featureKey`): the token each stored when it was last applied is read back. */
    readonly features?: readonly string[];
}

/** A network as the engine reports it, or absent. */
export type InspectedNetwork =
    | { readonly exists: false }
    | { readonly exists: true; readonly driver: string; readonly parent: string; readonly mode: string; readonly subnets: readonly string[] };

/** One endpoint of a container: its network and addresses as the engine reports them ("" when none). */
export interface InspectedEndpoint {
    readonly network: string;
    readonly ip: string;
    readonly ip6: string;
    readonly mac: string;
}

/** A container as the engine reports it, or absent. */
export type InspectedContainer = { readonly exists: false } | { readonly exists: true; readonly status: string; readonly endpoints: readonly InspectedEndpoint[] };

/** The answer of one host. */
export interface InspectReport {
    /** False when the host has no `docker` command. */
    readonly docker: boolean;
    readonly networks: ReadonlyMap<string, InspectedNetwork>;
    readonly containers: ReadonlyMap<string, InspectedContainer>;
    /**
     * The token each feature stored when it was last applied (or repaired), by feature key; null
     * when it has none (never applied here, or its record was lost). The drift probe prints exactly
     * this token when the feature is as applied, and another when it drifted.
     */
    readonly tokens: ReadonlyMap<string, string | null>;
}

/** `docker network inspect` template: driver, parent, mode and the pools' subnets, `|`-separated. */
const NETWORK_FORMAT = '{{.Driver}}|{{index .Options "parent"}}|{{index .Options "macvlan_mode"}}|{{range .IPAM.Config}}{{.Subnet}},{{end}}';
/** `docker inspect` template: the state, then each endpoint `<network>=<ip>=<ip6>=<mac>;`. */
const CONTAINER_FORMAT = "{{.State.Status}}|{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}}={{$v.GlobalIPv6Address}}={{$v.MacAddress}};{{end}}";

/** The read-only script for `request`, as the text to send on the stdin of `/bin/sh -s`. Throws ShellValueError for a name Docker would not take. */
export function renderInspect(request: InspectRequest): string {
    request.networks.forEach((n, i) => {
        if (!isDockerName(n)) throw new ShellValueError(`networks[${i}]`, n, "is not a Docker network name");
    });
    request.containers.forEach((c, i) => {
        if (!isDockerContainerName(c)) throw new ShellValueError(`containers[${i}]`, c, "is not a Docker container name");
    });
    const features = request.features ?? [];
    features.forEach((k, i) => {
        if (!FEATURE_KEY.test(k)) throw new ShellValueError(`features[${i}]`, k, "is not a feature key");
    });
    const lines = [
        "# pulumi-macvlan doctor: read-only inspection of this host's macvlan networks and containers.",
        "set -u",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; export PATH",
        'if ! command -v docker >/dev/null 2>&1; then echo "@nodocker"; exit 0; fi',
        'T=""; if command -v timeout >/dev/null 2>&1; then T="timeout 20"; fi',
        `NF=${shq(NETWORK_FORMAT)}`,
        `CF=${shq(CONTAINER_FORMAT)}`,
        ...request.networks.map((n) => `if out=$($T docker network inspect --format "$NF" -- ${shq(n)} 2>/dev/null); then echo "@net=${n} $out"; else echo "@net=${n} absent"; fi`),
        ...request.containers.map((c) => `if out=$($T docker inspect --type container --format "$CF" -- ${shq(c)} 2>/dev/null); then echo "@ctr=${c} $out"; else echo "@ctr=${c} absent"; fi`),
        ...features.map((k) => `if [ -f ${shq(`${HOST_PATHS.stateRoot}/${k}/token`)} ] && read -r t < ${shq(`${HOST_PATHS.stateRoot}/${k}/token`)}; then echo "@token=${k} $t"; else echo "@token=${k} none"; fi`),
        "exit 0",
        "",
    ];
    return stdinScript(lines.join("\n"));
}

const NET_LINE = /^@net=([a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}) (?:(absent)|([a-z0-9_.-]*)\|([A-Za-z0-9_.-]*)\|([a-z]*)\|([0-9a-fA-F.:/,]*))$/;
const CTR_LINE = /^@ctr=([a-zA-Z0-9][a-zA-Z0-9_.-]{1,63}) (?:(absent)|([a-z]+)\|((?:[a-zA-Z0-9_.-]+=[0-9.]*=[0-9a-fA-F:]*=[0-9a-fA-F:]*;)*))$/;

/** A feature key as `featureKey` makes them (the probe's and the state directory's name). */
const FEATURE_KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
/** A stored token line: the key, then the token as the probe would print it (its own characters), or `none`. */
const TOKEN_LINE = /^@token=([A-Za-z0-9][A-Za-z0-9_.-]{0,99}) (none|[A-Za-z0-9][A-Za-z0-9:@._,=+-]{0,199})$/;

/** The answer of `renderInspect`'s script. Lines it does not know (a login banner) are ignored; a malformed `@` line is an error. */
export function parseInspect(stdout: string): InspectReport {
    const networks = new Map<string, InspectedNetwork>();
    const containers = new Map<string, InspectedContainer>();
    const tokens = new Map<string, string | null>();
    let docker = true;
    for (const line of stdout.split("\n")) {
        if (line === "@nodocker") {
            docker = false;
            continue;
        }
        if (line.startsWith("@token=")) {
            const m = TOKEN_LINE.exec(line);
            if (m === null) throw new Error(`unreadable token line: ${JSON.stringify(line.slice(0, 120))}`);
            tokens.set(m[1] ?? "", m[2] === "none" ? null : (m[2] ?? null));
            continue;
        }
        if (line.startsWith("@net=")) {
            const m = NET_LINE.exec(line);
            if (m === null) throw new Error(`unreadable network line: ${JSON.stringify(line)}`);
            const [, name, absent, driver, parent, mode, subnets] = m;
            networks.set(
                name ?? "",
                absent !== undefined
                    ? { exists: false }
                    : { exists: true, driver: driver ?? "", parent: parent ?? "", mode: mode ?? "", subnets: (subnets ?? "").split(",").filter((s) => s !== "") },
            );
        } else if (line.startsWith("@ctr=")) {
            const m = CTR_LINE.exec(line);
            if (m === null) throw new Error(`unreadable container line: ${JSON.stringify(line)}`);
            const [, name, absent, status, eps] = m;
            const endpoints = (eps ?? "")
                .split(";")
                .filter((e) => e !== "")
                .map((e) => {
                    const [network = "", ip = "", ip6 = "", mac = ""] = e.split("=");
                    return { network, ip, ip6, mac: mac.toLowerCase() };
                });
            containers.set(name ?? "", absent !== undefined ? { exists: false } : { exists: true, status: status ?? "", endpoints });
        }
    }
    return { docker, networks, containers, tokens };
}
