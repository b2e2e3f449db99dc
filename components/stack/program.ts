/**
 * The program `pulumi up` runs (index.ts calls it): config in, validated model, one plan per host,
 * the drift probe, then the registered stack and its outputs. Every problem found before the probe
 * is reported at once; nothing is registered unless all of it is usable.
 */
import { readFileSync } from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig } from "../config/parse";
import { IDENTITY_FILE_RULE, isIdentityFile } from "../net/patterns";
import { MacvlanConfigError } from "../net/problems";
import { planStack, type PlannedHost } from "../plan/stack";
import { buildStack, type StackOutputs } from "./build";
import { probeHosts, sshProber, type HostProber } from "./probe";

export interface ProgramDeps {
    /** Runs the probe script on a host. Default: `sshProber()` (SSH with the `ssh2` package). */
    readonly prober?: HostProber;
    /** Reads `macvlan:sshPrivateKeyPath`. Default: `fs.readFileSync(path, "utf8")`. */
    readonly readFile?: (path: string) => string;
}

function message(e: unknown): string {
    return e instanceof Error ? e.message : String(e);
}

/**
 * True when `macvlan:<key>` is a secret config key. The language host passes the secret keys to
 * the program (PULUMI_CONFIG_SECRET_KEYS), and the SDK answers with `runtime.isConfigSecret`,
 * which it does not declare in its types (unit tests check that it is there); without it, the
 * environment variable itself.
 */
function isSecretConfigKey(config: pulumi.Config, key: string): boolean {
    const fullKey = `${config.name}:${key}`;
    const sdk = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
    if (typeof sdk === "function") return sdk(fullKey);
    try {
        const keys: unknown = JSON.parse(process.env["PULUMI_CONFIG_SECRET_KEYS"] ?? "[]");
        return Array.isArray(keys) && keys.includes(fullKey);
    } catch {
        return false;
    }
}

/**
 * `config.getObject`, with a malformed value reported as a problem instead of thrown. The SDK's
 * error quotes the value: it is left out for a secret key and for `networks` (whose env values
 * can be secrets).
 */
function readObject(config: pulumi.Config, key: string, problems: string[]): unknown {
    try {
        return config.getObject<unknown>(key);
    } catch (e) {
        const quiet = key === "networks" || isSecretConfigKey(config, key);
        problems.push(`${key} is not structured config (a YAML list under macvlan:${key})${quiet ? "" : `: ${message(e)}`}`);
        return undefined;
    }
}

/** The non-empty string value of a key, or undefined (project defaults of `""` count as unset). */
function readString(config: pulumi.Config, key: string): string | undefined {
    const v = config.get(key);
    return v === undefined || v === "" ? undefined : v;
}

/**
 * The program: read the stack config, validate all of it before anything is registered (bad
 * config registers nothing and fails once with every problem, as a MacvlanConfigError), probe
 * the hosts for drift (config `macvlan:probe`, default true), then register the stack and return
 * its outputs.
 */
export async function macvlanProgram(deps: ProgramDeps = {}): Promise<StackOutputs> {
    const config = new pulumi.Config("macvlan");
    const problems: string[] = [];

    // `macvlan:networks` is read plain even when it is a secret key (a value under it was set with
    // `pulumi config set --secret --path`): its structure (names, addresses, how many containers)
    // shapes the resource graph and cannot wait on an Output, as `getSecretObject` would make it.
    // Pulumi does not say which value under the key was the secret, so the model marks every
    // container env value secret (`networksSecret`), and only those: names, addresses and outputs
    // stay plain.
    const raw = {
        hosts: readObject(config, "hosts", problems),
        networks: readObject(config, "networks", problems),
        networksSecret: isSecretConfigKey(config, "networks"),
    };
    let model: ReturnType<typeof parseStackConfig> | undefined;
    try {
        model = parseStackConfig(raw);
    } catch (e) {
        if (e instanceof MacvlanConfigError) problems.push(...e.problems);
        else throw e;
    }

    let privateKey: pulumi.Output<string> | undefined;
    const keyPath = readString(config, "sshPrivateKeyPath");
    if (keyPath !== undefined) {
        try {
            privateKey = pulumi.secret((deps.readFile ?? ((p: string) => readFileSync(p, "utf8")))(keyPath));
        } catch (e) {
            problems.push(`sshPrivateKeyPath ${keyPath} cannot be read: ${message(e)}`);
        }
    } else {
        privateKey = config.getSecret("sshPrivateKey");
        if (privateKey === undefined) {
            problems.push("sshPrivateKey is not set: run `pulumi config set --secret macvlan:sshPrivateKey < ~/.ssh/id_ed25519` (or set macvlan:sshPrivateKeyPath)");
        }
    }

    let probe = true;
    try {
        probe = config.getBoolean("probe") ?? true;
    } catch (e) {
        problems.push(`probe ${message(e)}`);
    }
    const identityFile = readString(config, "sshIdentityFile");
    if (identityFile !== undefined && !isIdentityFile(identityFile)) {
        problems.push(`sshIdentityFile ${JSON.stringify(identityFile)} ${IDENTITY_FILE_RULE}`);
    }

    // Every host planned (and so checked) once, before the probe renders a script for any host.
    let hosts: readonly PlannedHost[] | undefined;
    if (model !== undefined) {
        const planned = planStack(model, identityFile !== undefined && isIdentityFile(identityFile) ? { identityFile } : {});
        if (planned.hosts === undefined) problems.push(...planned.problems);
        else hosts = planned.hosts;
    }
    if (problems.length > 0 || model === undefined || hosts === undefined || privateKey === undefined) {
        throw new MacvlanConfigError(problems);
    }

    let probes: Awaited<ReturnType<typeof probeHosts>> | undefined;
    if (probe) {
        try {
            probes = await probeHosts(hosts, privateKey, deps.prober ?? sshProber());
        } catch (e) {
            // A RunError: Pulumi prints the message alone, without a stack trace.
            throw new pulumi.RunError(`${message(e)}\n(the drift probe needs SSH to every host; \`pulumi config set macvlan:probe false\` skips it)`);
        }
    }
    const stack = buildStack(
        model,
        {
            privateKey,
            ...(probes === undefined ? {} : { probes }),
            ...(identityFile === undefined ? {} : { identityFile }),
        },
        hosts,
    );
    return stack.outputs;
}
