/**
 * A stack file (`stacks/Pulumi.<env>.yaml`) as the compose tools read it, without the Pulumi CLI:
 * its `macvlan:*` keys, and the container env values a tool cannot read (set with
 * `pulumi config set --secret --path`, stored as `secure:` ciphertext) or that are not set yet
 * (named in a container's `secretEnv`). Pure: text in, data out.
 */
import * as yaml from "js-yaml";
import { isMap, own, type RawMap } from "../../components/config/read";
import type { RawStackConfig, HostKeyPolicy, EngineRuleOptions } from "../../components/config/parse";

/** What a stack file holds for the compose tools. */
export interface StackFile {
    /** `macvlan:hosts`, unvalidated. */
    readonly hosts: unknown;
    /** `macvlan:networks`, unvalidated. */
    readonly networks: unknown;
    /** `macvlan:trustOnFirstUse` (default false). */
    readonly trustOnFirstUse: boolean;
    /** `macvlan:probe` (default true). */
    readonly probe: boolean;
    /** `macvlan:sshPrivateKeyPath`, when set (the doctor's SSH key without `--identity`). */
    readonly sshPrivateKeyPath?: string;
}

/** The stack file's `config:` keys the tools use; a problem (as text) when the file is not a stack file. */
export function parseStackFile(text: string, file: string): StackFile {
    const doc: unknown = yaml.load(text);
    const config = isMap(doc) ? own(doc, "config") : undefined;
    if (!isMap(config)) throw new Error(`${file} is not a stack file: it has no config: map`);
    const keyPath = own(config, "macvlan:sshPrivateKeyPath");
    return {
        hosts: own(config, "macvlan:hosts"),
        networks: own(config, "macvlan:networks"),
        trustOnFirstUse: own(config, "macvlan:trustOnFirstUse") === true,
        probe: own(config, "macvlan:probe") !== false,
        ...(typeof keyPath === "string" && keyPath !== "" ? { sshPrivateKeyPath: keyPath } : {}),
    };
}

/**
 * The stand-in for an env value the tools cannot read. Only validation sees it: `parseStackConfig`
 * needs a string there, and export writes `${NAME}` instead.
 */
export const SECRET_PLACEHOLDER = "(secret)";

/** The names of a container's secret env values, by `<network>/<container>`. */
export type SecretNames = ReadonlyMap<string, readonly string[]>;

/** A secret env name's key in `SecretNames`. */
export function secretKey(network: string, container: string): string {
    return `${network}/${container}`;
}

/** The config `parseStackConfig` validates for a stack file, with the options the program would use before its probe. */
export interface ValidationInput {
    readonly raw: RawStackConfig;
    readonly policy: HostKeyPolicy;
    readonly engines: EngineRuleOptions;
    /** The env names whose values are secrets, per container: `secure:` values and `secretEnv` names. */
    readonly secrets: SecretNames;
}

function isSecure(v: unknown): boolean {
    return isMap(v) && Object.keys(v).length === 1 && typeof own(v, "secure") === "string";
}

/**
 * The networks with every secret env value replaced by `SECRET_PLACEHOLDER`: a `secure:` value, and
 * a name in `secretEnv` that is not set yet. `networksSecret` is then true when there is one
 * (as Pulumi marks macvlan:networks secret once one value under it is). Entries of unexpected
 * shapes are left as they are, for `parseStackConfig` to report.
 */
export function withSecretPlaceholders(networks: unknown): { networks: unknown; networksSecret: boolean; secrets: SecretNames } {
    const secrets = new Map<string, string[]>();
    if (!Array.isArray(networks)) return { networks, networksSecret: false, secrets };
    const out = networks.map((n: unknown) => {
        if (!isMap(n)) return n;
        const containers = own(n, "containers");
        if (!Array.isArray(containers)) return n;
        const netName = own(n, "name");
        return {
            ...n,
            containers: containers.map((c: unknown) => {
                if (!isMap(c)) return c;
                const env = own(c, "env");
                const listed = own(c, "secretEnv");
                const names = new Set<string>(Array.isArray(listed) ? listed.filter((x): x is string => typeof x === "string") : []);
                if (isMap(env)) for (const k of Object.keys(env)) if (isSecure(own(env, k))) names.add(k);
                if (names.size === 0 || (env !== undefined && !isMap(env))) return c;
                const filled: Record<string, unknown> = {};
                const written: RawMap = isMap(env) ? env : {};
                for (const k of Object.keys(written)) Object.defineProperty(filled, k, { value: own(written, k) ?? null, enumerable: true, writable: true, configurable: true });
                for (const k of names) Object.defineProperty(filled, k, { value: SECRET_PLACEHOLDER, enumerable: true, writable: true, configurable: true });
                secrets.set(secretKey(String(netName), String(own(c, "name"))), [...names]);
                return { ...c, env: filled };
            }),
        };
    });
    return { networks: out, networksSecret: secrets.size > 0, secrets };
}

/**
 * What `parseStackConfig` gets for a stack file: its hosts and networks (secret values stood in
 * for), its host-key policy, and the engine rules deferred when the probe is on (the program runs
 * them on the probed engines; the tools do not probe).
 */
export function validationInput(stack: StackFile): ValidationInput {
    const { networks, networksSecret, secrets } = withSecretPlaceholders(stack.networks);
    return {
        raw: { hosts: stack.hosts, networks, networksSecret },
        policy: { trustOnFirstUse: stack.trustOnFirstUse, probe: stack.probe },
        engines: { deferred: stack.probe },
        secrets,
    };
}
