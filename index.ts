/**
 * The program `pulumi up` runs: read the stack config, validate all of it before anything is
 * registered (bad config registers nothing and fails once with every problem), probe the hosts
 * for drift (config `macvlan:probe`, default true), then register the stack and return its
 * outputs. The module's export is the async function itself: Pulumi calls it with no arguments;
 * tests call it under mocks with a fake prober (config comes from the Pulumi runtime in both).
 */
import { readFileSync } from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { probeHosts, sshProber, type HostProber } from "./components/stack/probe";
import { buildStack, stackHostProblems, type StackOutputs } from "./components/stack/build";
import { IDENTITY_FILE_RULE, isIdentityFile } from "./components/net/patterns";
import { MacvlanConfigError, parseStackConfig } from "./components/config/validate";

/** What the program takes from outside, replaceable in tests. */
interface ProgramDeps {
    /** Runs the probe script on a host. Default: `sshProber()` (SSH with the `ssh2` package). */
    readonly prober?: HostProber;
    /** Reads `macvlan:sshPrivateKeyPath`. Default: `fs.readFileSync(path, "utf8")`. */
    readonly readFile?: (path: string) => string;
}

function message(e: unknown): string {
    return e instanceof Error ? e.message : String(e);
}

/** `config.getObject`, with a malformed value reported as a problem instead of thrown. */
function readObject(config: pulumi.Config, key: string, problems: string[]): unknown {
    try {
        return config.getObject<unknown>(key);
    } catch (e) {
        problems.push(`${key} is not structured config (a YAML list under macvlan:${key}): ${message(e)}`);
        return undefined;
    }
}

/** The non-empty string value of a key, or undefined (project defaults of `""` count as unset). */
function readString(config: pulumi.Config, key: string): string | undefined {
    const v = config.get(key);
    return v === undefined || v === "" ? undefined : v;
}

async function main(deps: ProgramDeps = {}): Promise<StackOutputs> {
    const config = new pulumi.Config("macvlan");
    const problems: string[] = [];

    const raw = { hosts: readObject(config, "hosts", problems), networks: readObject(config, "networks", problems) };
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

    // What the components would refuse, before the probe renders a script for any host.
    if (model !== undefined) {
        const usableIdentityFile = identityFile !== undefined && isIdentityFile(identityFile) ? { identityFile } : {};
        problems.push(...stackHostProblems(model, usableIdentityFile));
    }
    if (problems.length > 0 || model === undefined || privateKey === undefined) {
        throw new MacvlanConfigError(problems);
    }

    let probes: Awaited<ReturnType<typeof probeHosts>> | undefined;
    if (probe) {
        try {
            probes = await probeHosts(model, privateKey, deps.prober ?? sshProber());
        } catch (e) {
            // A RunError: Pulumi prints the message alone, without a stack trace.
            throw new pulumi.RunError(`${message(e)}\n(the drift probe needs SSH to every host; \`pulumi config set macvlan:probe false\` skips it)`);
        }
    }
    const stack = buildStack(model, {
        privateKey,
        ...(probes === undefined ? {} : { probes }),
        ...(identityFile === undefined ? {} : { identityFile }),
    });
    return stack.outputs;
}

export = main;
