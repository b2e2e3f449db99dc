/**
 * The program `pulumi up` runs (index.ts calls it): config in, validated model, one plan per host,
 * the drift probe, then the registered stack and its outputs. Every problem found before the probe
 * is reported at once; nothing is registered unless all of it is usable.
 */
import { readFileSync } from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { learnsHostKeys } from "../config/hosts";
import type { StackModel } from "../config/model";
import { engineRuleProblems, parseStackConfig, type HostKeyPolicy } from "../config/parse";
import { probedFactsProblems, probedFactsWarnings } from "../config/probed";
import { configWarnings } from "../config/warnings";
import { IDENTITY_FILE_RULE, isIdentityFile } from "../net/patterns";
import { MacvlanConfigError } from "../net/problems";
import { planStack, type PlannedHost } from "../plan/stack";
import { registerStack, type StackOutputs } from "./build";
import { readFleetPeers } from "./fleet";
import { fileKnownHosts, knownHostsLine, learnedHostKeys, parseKnownHosts, stackKnownHostsFile, type KnownHostsStore } from "./knownHosts";
import { describeHostKey, HostKeyError, ProbeFailures, probeHosts, sshProber, type HostProber, type ProbedHostKey, type ProbeResults } from "./probe";

export interface ProgramDeps {
    /** Runs the probe script on a host. Default: `sshProber()` (SSH with the `ssh2` package). */
    readonly prober?: HostProber;
    /** Reads `macvlan:sshPrivateKeyPath`. Default: `fs.readFileSync(path, "utf8")`. */
    readonly readFile?: (path: string) => string;
    /** Where trust on first use keeps learned keys. Default: the file `stacks/Pulumi.<stack>.known_hosts`. */
    readonly knownHosts?: KnownHostsStore;
    /**
     * Tells the user about what is legal but risky: the config's warnings (config/warnings.ts), those
     * of the probed facts (a parent NIC the probe found down, promiscuous mode off on a VM's NIC), and
     * a key learned on first use. Default: `pulumi.log.warn`.
     */
    readonly warn?: (message: string) => void;
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

/** A boolean key with its default; a malformed value is reported as a problem. */
function readBoolean(config: pulumi.Config, key: string, fallback: boolean, problems: string[]): boolean {
    try {
        return config.getBoolean(key) ?? fallback;
    } catch (e) {
        problems.push(`${key} ${message(e)}`);
        return fallback;
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
 * its outputs. Every host's SSH key is pinned in its entry, or, with `macvlan:trustOnFirstUse`,
 * learned by the probe on first contact and recorded in the stack's known_hosts file; the probe,
 * the remote commands and the Docker provider all check that one key (docs/host-keys.md).
 */
export async function macvlanProgram(deps: ProgramDeps = {}): Promise<StackOutputs> {
    const config = new pulumi.Config("macvlan");
    const problems: string[] = [];

    // Whether unpinned host keys may be learned decides what the host entries must hold.
    const probe = readBoolean(config, "probe", true, problems);
    const trustOnFirstUse = readBoolean(config, "trustOnFirstUse", false, problems);
    const policy: HostKeyPolicy = { trustOnFirstUse, probe };

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
    // The other stacks of the fleet, read before anything of this stack is registered, so that the
    // rules across the fleet run with every other rule (config/fleet.ts).
    const peers = await readFleetPeers(readObject(config, "fleet", problems), problems);
    let model: ReturnType<typeof parseStackConfig> | undefined;
    try {
        // With the probe on, the Docker version rules wait for the engines it reads (below).
        model = parseStackConfig(raw, policy, { deferred: probe }, peers);
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

    const identityFile = readString(config, "sshIdentityFile");
    if (identityFile !== undefined && !isIdentityFile(identityFile)) {
        problems.push(`sshIdentityFile ${JSON.stringify(identityFile)} ${IDENTITY_FILE_RULE}`);
    }

    // Trust on first use: the keys learned on an earlier run (a pinned hostKey always wins).
    const learning = learnsHostKeys(policy);
    const knownHosts = deps.knownHosts ?? fileKnownHosts(stackKnownHostsFile(pulumi.getStack()));
    let known: ReadonlyMap<string, string> = new Map();
    if (learning && model !== undefined) {
        const parsed = parseKnownHosts(knownHosts.read() ?? "", knownHosts.location);
        problems.push(...parsed.problems);
        known = learnedHostKeys(model.hosts, parsed.keys);
    }

    // Every host planned (and so checked) once, before the probe renders a script for any host.
    const planOpts = identityFile !== undefined && isIdentityFile(identityFile) ? { identityFile } : {};
    let hosts: readonly PlannedHost[] | undefined;
    if (model !== undefined) {
        const planned = planStack(model, { ...planOpts, hostKeys: known });
        if (planned.hosts === undefined) problems.push(...planned.problems);
        else hosts = planned.hosts;
    }
    if (problems.length > 0 || model === undefined || hosts === undefined || privateKey === undefined) {
        throw new MacvlanConfigError(problems);
    }
    // What the config allows but is risky: told, probe or not; nothing registers differently.
    const warn = deps.warn ?? ((m: string) => void pulumi.log.warn(m));
    for (const w of configWarnings(model)) warn(w);

    let probes: ProbeResults | undefined;
    if (probe) {
        try {
            probes = await probeHosts(hosts, privateKey, deps.prober ?? sshProber(), {
                learnHostKeys: learning,
                hostKeyOrigin: (host) =>
                    known.has(host) ? `the key learned on first use (in ${knownHosts.location}: delete its line there once the new key is checked)` : undefined,
            });
        } catch (e) {
            // A RunError: Pulumi prints the message alone, without a stack trace. A refused host
            // key is not a reason to turn the probe off. Several failing hosts come as one
            // ProbeFailures, one line per host.
            if (e instanceof HostKeyError || (e instanceof ProbeFailures && e.hostKeysOnly)) throw new pulumi.RunError(e.message);
            throw new pulumi.RunError(`${message(e)}\n(the drift probe needs SSH to every host; \`pulumi config set macvlan:probe false\` skips it)`);
        }
        // The rules that need the hosts' own facts (a parent that does not exist, one machine
        // listed twice, a declared dockerVersion the probed engine contradicts, a container or
        // shim at a host's own address), then the Docker version rules on each host's effective
        // engine (probed, else declared), all before anything is learned or registered.
        const factProblems = probedFactsProblems(model, probes.facts);
        const engines = new Map([...probes.facts].flatMap(([host, f]) => (f.docker === undefined ? [] : [[host, f.docker] as const])));
        factProblems.push(...engineRuleProblems(raw, policy, engines));
        if (factProblems.length > 0) throw new MacvlanConfigError(factProblems);
        for (const w of probedFactsWarnings(model, probes.facts)) warn(w);
        const learned = [...probes.hostKeys].filter(([, k]) => k.learned);
        if (learned.length > 0) {
            hosts = recordLearnedKeys(model, learned, known, knownHosts, warn, planOpts);
        }
    }
    const stack = registerStack(
        model,
        {
            privateKey,
            ...(probes === undefined ? {} : { probes: probes.tokens }),
            ...(identityFile === undefined ? {} : { identityFile }),
        },
        hosts,
    );
    return stack.outputs;
}

/**
 * Keys learned on first use: recorded in the stack's known_hosts store (so the next run checks
 * them), told to the user with the YAML that pins them, and the hosts planned again with them, so
 * that the remote commands and the Docker provider are pinned to the key the probe saw.
 */
function recordLearnedKeys(
    model: StackModel,
    learned: ReadonlyArray<readonly [string, ProbedHostKey]>,
    known: ReadonlyMap<string, string>,
    store: KnownHostsStore,
    warn: (message: string) => void,
    planOpts: { readonly identityFile?: string },
): readonly PlannedHost[] {
    const keys = new Map(known);
    let lines = "";
    for (const [name, { key }] of learned) {
        const i = model.hosts.findIndex((h) => h.name === name);
        const h = model.hosts[i];
        if (h === undefined) throw new Error(`internal: probed unknown host ${name}`);
        keys.set(name, key);
        lines += knownHostsLine(h.address, h.port, key, name);
        warn(
            `host ${name} (${h.user}@${h.address}:${h.port}): trusted on first use: its ${describeHostKey(key)} was accepted without verification ` +
                `and is recorded in ${store.location}; later runs refuse the host if that key changes. ` +
                `Check the fingerprint on the host itself (\`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\`), then pin it in the stack file under hosts[${i}] (name: ${name}):\n` +
                `      hostKey: ${JSON.stringify(key)}`,
        );
    }
    store.append(lines);
    const planned = planStack(model, { ...planOpts, hostKeys: keys });
    if (planned.hosts === undefined) throw new MacvlanConfigError(planned.problems);
    return planned.hosts;
}
