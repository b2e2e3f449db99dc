/**
 * The drift probe: while the program runs (preview and up), read each host's live state over SSH
 * with the read-only script from `renderProbe`, and turn its answer into drift tokens per feature.
 * The tokens go into the feature commands' text (MacvlanHost `probe`), so a host whose state
 * drifted shows as an update of exactly the drifted feature. Config `macvlan:probe: false` skips it.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { Client, type ConnectConfig, type ServerHostKeyAlgorithm } from "ssh2";
import { parseProbeReport, type ProbedAddress, type ProbedDocker, type ProbedDriver, type ProbedParent } from "../host/scripts";
import { sshHostKeyProblem } from "../net/patterns";
import { probePlan, type PlannedHost, type ProbeRun, type ProbeTarget as PlannedTarget } from "../plan/stack";

export type { ProbeRun } from "../plan/stack";

/** Where and as whom to run a probe, with the key. */
export interface ProbeTarget extends PlannedTarget {
    /** Private key contents. Never logged, never part of an error message. */
    readonly privateKey: string;
    /**
     * With no `hostKey`: accept the key the server presents and report it (trust on first use).
     * Default false: a target without a `hostKey` is refused before anything is sent to it.
     */
    readonly learnHostKey?: boolean;
    /** Where `hostKey` comes from, for messages. Default `the pinned hostKey`. */
    readonly hostKeyOrigin?: string;
}

/** What the probe of one host gave: the script's stdout and the host key the server presented. */
export interface ProbeAnswer {
    readonly stdout: string;
    /** The server's host key, `<type> <base64>`: the target's `hostKey`, or the key learned. */
    readonly hostKey: string;
}

/**
 * Runs `run.command` on the target with `run.stdin` sent on its stdin (then ended), and resolves
 * with its stdout and the server's host key; rejects (naming the host) on any failure. It must
 * verify the server's key against `target.hostKey`, or, only when `target.learnHostKey` is set and
 * there is no `hostKey`, accept and report it.
 */
export type HostProber = (target: ProbeTarget, run: ProbeRun) => Promise<ProbeAnswer>;

/** Timeouts of `sshProber`, in milliseconds. */
export interface SshProberOptions {
    /** Connection and SSH handshake. Default 20 s. */
    readonly connectTimeoutMs?: number;
    /** The whole probe, connection included. Default 60 s. */
    readonly totalTimeoutMs?: number;
}

/** Largest probe output accepted (the real one is a few hundred bytes). */
export const MAX_PROBE_OUTPUT = 1024 * 1024;

/**
 * The host key types trust on first use learns, in order of preference: ed25519 first (what the
 * docs recommend pinning), then ECDSA. ssh-rsa is never learned, as it is never pinned
 * (docs/host-keys.md).
 */
export const LEARNED_KEY_TYPES = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"] as const;

/** A refused host key: pinned (or learned before) and not what the server presents, or none to check. */
export class HostKeyError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "HostKeyError";
    }
}

/** The key blob of a `<type> <base64>` host key. */
function keyBlob(key: string): Buffer {
    return Buffer.from(key.split(" ")[1] ?? "", "base64");
}

/** The type named inside a key blob (its first SSH wire string), or `unknown`. */
function blobType(blob: Buffer): string {
    if (blob.length < 4) return "unknown";
    const len = blob.readUInt32BE(0);
    return len > 0 && 4 + len <= blob.length ? blob.subarray(4, 4 + len).toString("latin1") : "unknown";
}

/** A key blob as `<type> <base64>`. */
export function hostKeyLine(blob: Buffer): string {
    return `${blobType(blob)} ${blob.toString("base64")}`;
}

/** OpenSSH's fingerprint of a `<type> <base64>` key: `SHA256:` and the unpadded base64 of the blob's SHA-256. */
export function hostKeyFingerprint(key: string): string {
    return `SHA256:${createHash("sha256").update(keyBlob(key)).digest("base64").replace(/=+$/, "")}`;
}

/** A key as people compare it: `ssh-ed25519 SHA256:…`. */
export function describeHostKey(key: string): string {
    return `${key.split(" ")[0]} ${hostKeyFingerprint(key)}`;
}

/** True when two `<type> <base64>` keys are the same key (blobs compared byte for byte). */
export function sameHostKey(a: string, b: string): boolean {
    return keyBlob(a).equals(keyBlob(b));
}

function targetLabel(t: Pick<ProbeTarget, "host" | "user" | "address" | "port">): string {
    return `host ${t.host} (${t.user}@${t.address}:${t.port})`;
}

/** The refusal of a server whose key is not the expected one, with both fingerprints. */
export function hostKeyChangedError(target: Omit<ProbeTarget, "privateKey">, seen: string): HostKeyError {
    const origin = target.hostKeyOrigin ?? "the pinned hostKey";
    return new HostKeyError(
        `probe of ${targetLabel(target)} refused: the host key changed: ${origin} is ${describeHostKey(target.hostKey ?? "")}, ` +
            `the server presented ${describeHostKey(seen)}. Someone may be intercepting the connection, or the host was reinstalled: ` +
            `check the new key on the host itself (\`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\`) before you pin it. Nothing was registered.`,
    );
}

/** The refusal of a target that has no key to check and may not learn one. */
function unpinnedError(target: Pick<ProbeTarget, "host" | "user" | "address" | "port">): HostKeyError {
    return new HostKeyError(
        `probe of ${targetLabel(target)} refused: there is no host key to check the server against (pin hostKey, or set macvlan:trustOnFirstUse: true). Nothing was sent to it.`,
    );
}

/** The server host key algorithms that present a key of the pinned type. */
function hostKeyAlgorithms(type: string): ServerHostKeyAlgorithm[] {
    if (type === "ssh-rsa") return ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];
    return [type as ServerHostKeyAlgorithm];
}

/**
 * A HostProber over SSH with the `ssh2` package. With a `hostKey`, only that key's type is
 * negotiated and the server must present exactly that key (the blobs are compared); a different
 * key is refused with both fingerprints (`HostKeyError`) before authentication. Without one, the
 * target is refused before connecting, unless `learnHostKey` is set: then the first key the server
 * presents of LEARNED_KEY_TYPES is accepted and reported (trust on first use; the read-only probe
 * script runs on that server). `run.command` (`/bin/sh -s`) is the SSH exec command and the script
 * is written to the channel's stdin, which is then ended, so its size does not matter (an exec
 * command is one argument of the login shell, limited to 128 KiB by Linux); a non-zero exit is an
 * error. Resolves with stdout and the server's key.
 */
export function sshProber(options: SshProberOptions = {}): HostProber {
    const connectTimeout = options.connectTimeoutMs ?? 20_000;
    const totalTimeout = options.totalTimeoutMs ?? 60_000;
    return (target, run) =>
        new Promise<ProbeAnswer>((resolve, reject) => {
            const pinned = target.hostKey;
            if (pinned === undefined && target.learnHostKey !== true) return reject(unpinnedError(target));
            const client = new Client();
            let settled = false;
            let seen: Buffer | undefined;
            let keyMismatch = false;
            const finish = (err: Error | undefined, out?: string): void => {
                if (settled) return;
                settled = true;
                clearTimeout(timer);
                client.end();
                if (err instanceof HostKeyError) reject(err);
                else if (err !== undefined) reject(new Error(`probe of ${targetLabel(target)} failed: ${err.message}`));
                else if (seen === undefined) reject(new Error(`probe of ${targetLabel(target)} failed: the server's host key was never checked`));
                else resolve({ stdout: out ?? "", hostKey: hostKeyLine(seen) });
            };
            const timer = setTimeout(() => finish(new Error(`no answer within ${totalTimeout} ms`)), totalTimeout);

            const config: ConnectConfig = {
                host: target.address,
                port: target.port,
                username: target.user,
                privateKey: target.privateKey,
                readyTimeout: connectTimeout,
            };
            if (pinned !== undefined) {
                const [type] = pinned.split(" ");
                const want = keyBlob(pinned);
                config.algorithms = { serverHostKey: hostKeyAlgorithms(type) };
                config.hostVerifier = (key: Buffer): boolean => {
                    seen = Buffer.from(key);
                    keyMismatch = !key.equals(want);
                    return !keyMismatch;
                };
            } else {
                config.algorithms = { serverHostKey: [...LEARNED_KEY_TYPES] };
                config.hostVerifier = (key: Buffer): boolean => {
                    seen = Buffer.from(key);
                    return true;
                };
            }
            client.on("error", (err: Error) => {
                if (keyMismatch && seen !== undefined) return finish(hostKeyChangedError(target, hostKeyLine(seen)));
                if (/no matching host key format/i.test(err.message)) {
                    return finish(
                        pinned !== undefined
                            ? new HostKeyError(
                                  `probe of ${targetLabel(target)} refused: the server offers no ${pinned.split(" ")[0]} host key, and ${target.hostKeyOrigin ?? "the pinned hostKey"} is ${describeHostKey(pinned)}: it is another machine, or its keys were replaced. Nothing was registered.`,
                              )
                            : new HostKeyError(
                                  `probe of ${targetLabel(target)} refused: the server offers no ed25519 or ECDSA host key to learn (ssh-rsa keys are not pinned here, see docs/host-keys.md). Nothing was registered.`,
                              ),
                    );
                }
                finish(err);
            });
            client.on("ready", () => {
                client.exec(run.command, (err, stream) => {
                    if (err) return finish(err);
                    stream.on("error", (e: Error) => finish(e));
                    const out: Buffer[] = [];
                    const errOut: Buffer[] = [];
                    let size = 0;
                    stream.on("data", (d: Buffer) => {
                        size += d.length;
                        if (size > MAX_PROBE_OUTPUT) return finish(new Error(`output exceeds ${MAX_PROBE_OUTPUT} bytes`));
                        out.push(d);
                    });
                    stream.stderr.on("data", (d: Buffer) => {
                        if (errOut.reduce((n, b) => n + b.length, 0) < 64 * 1024) errOut.push(d);
                    });
                    stream.on("close", (code: number | null, signal?: string) => {
                        if (code === 0) return finish(undefined, Buffer.concat(out).toString("utf8"));
                        const why = code === null ? `was killed${signal ? ` by ${signal}` : ""}` : `exited with status ${code}`;
                        const stderr = Buffer.concat(errOut).toString("utf8").trim();
                        finish(new Error(`the probe script ${why}${stderr ? `: ${stderr}` : ""}`));
                    });
                    // The script, then the end of stdin: the shell reads it to the end and runs it.
                    stream.end(run.stdin);
                });
            });
            try {
                client.connect(config);
            } catch (e) {
                finish(e instanceof Error ? e : new Error(String(e)));
            }
        });
}

/** Resolves an Input's value (config values are always known; an unknown one would never resolve). */
function known<T>(input: pulumi.Input<T>): Promise<T> {
    return new Promise<T>((resolve) => {
        pulumi.output(input).apply((v) => {
            resolve(v as T);
            return v;
        });
    });
}

/** Options of probeHosts. */
export interface ProbeHostsOptions {
    /** Learn the key of a host whose target has none (trust on first use). Default false: such a host is refused. */
    readonly learnHostKeys?: boolean;
    /** Where a host's `hostKey` comes from, for messages (see ProbeTarget). */
    readonly hostKeyOrigin?: (host: string) => string | undefined;
}

/** The host key a probe saw for one host. */
export interface ProbedHostKey {
    /** `<type> <base64>`. */
    readonly key: string;
    /** True when it was learned now (trust on first use); false when it matched the target's key. */
    readonly learned: boolean;
}

/** A host's own facts, as its probe reported them (for the checks of config/probed.ts). */
export interface ProbedFacts {
    /** /etc/machine-id; absent: the host printed none. */
    readonly machineId?: string;
    /** The IPv4 addresses on the host's parent and VLAN sub-interfaces. */
    readonly addresses: readonly ProbedAddress[];
    /** Whether the parent NIC exists, with its MTU and operstate; absent: the host printed no parent line. */
    readonly parent?: ProbedParent;
    /** The kernel driver of the parent's device; absent: the host printed no parent driver line. */
    readonly parentDriver?: ProbedDriver;
    /** The hypervisor the host runs on (`systemd-detect-virt --vm`); absent: bare metal, or not known. */
    readonly virtualization?: string;
    /** The Docker Engine and API versions; absent: docker is missing or did not answer. */
    readonly docker?: ProbedDocker;
}

/** What probeHosts found. */
export interface ProbeResults {
    /** Each host's drift tokens by `featureKey`, as plain (not secret) Outputs for `buildStack`'s `probes`. */
    readonly tokens: ReadonlyMap<string, pulumi.Output<Record<string, string>>>;
    /** Each host's verified (or learned) host key by host name. */
    readonly hostKeys: ReadonlyMap<string, ProbedHostKey>;
    /** Each host's facts (machine id, addresses, parent NIC and its driver, hypervisor, Docker Engine) by host name. */
    readonly facts: ReadonlyMap<string, ProbedFacts>;
}

/**
 * The probes of several hosts failed: every failure, each naming its host and why (its message is
 * one line per host). `hostKeysOnly` when each failure is a refused host key (HostKeyError).
 */
export class ProbeFailures extends Error {
    readonly failures: readonly { readonly host: string; readonly error: Error }[];
    constructor(failures: readonly { readonly host: string; readonly error: Error }[], probed: number) {
        super(`the drift probe failed on ${failures.length} of ${probed} hosts; nothing was registered:\n${failures.map((f) => `  ${f.error.message}`).join("\n")}`);
        this.name = "ProbeFailures";
        this.failures = failures;
    }
    get hostKeysOnly(): boolean {
        return this.failures.every((f) => f.error instanceof HostKeyError);
    }
}

/**
 * Probes every planned host (in parallel) with the script for exactly the features MacvlanHost
 * will register there, and resolves, once all have answered, with each host's drift tokens, host
 * key and facts. A host whose target has no key is refused before it is contacted unless
 * `learnHostKeys` is set; the key a prober reports is checked again against the target's
 * (a prober that returns another key is refused like a server that presents one). Every host is
 * probed to the end, so that a program can stop before it registers anything with every failure:
 * one failing host rejects with that host's error (a HostKeyError for a refused key), several with
 * one ProbeFailures naming each host and why.
 */
export async function probeHosts(
    hosts: readonly PlannedHost[],
    privateKey: pulumi.Input<string>,
    prober: HostProber = sshProber(),
    opts: ProbeHostsOptions = {},
): Promise<ProbeResults> {
    const key = await known(privateKey);
    const plan = probePlan(hosts);
    const settled = await Promise.allSettled(
        plan.map(async ({ target: planned, run }) => {
            const origin = opts.hostKeyOrigin?.(planned.host);
            const target: ProbeTarget = {
                ...planned,
                privateKey: key,
                ...(planned.hostKey === undefined && opts.learnHostKeys === true ? { learnHostKey: true } : {}),
                ...(origin === undefined ? {} : { hostKeyOrigin: origin }),
            };
            if (planned.hostKey === undefined && target.learnHostKey !== true) throw unpinnedError(target);
            const answer = await prober(target, run);
            const problem = sshHostKeyProblem(answer.hostKey);
            if (problem !== undefined) throw new Error(`probe of ${targetLabel(target)} reported a server host key that ${problem}`);
            if (planned.hostKey !== undefined && !sameHostKey(planned.hostKey, answer.hostKey)) throw hostKeyChangedError(target, answer.hostKey);
            if (planned.hostKey === undefined && !(LEARNED_KEY_TYPES as readonly string[]).includes(answer.hostKey.split(" ")[0] ?? "")) {
                throw new HostKeyError(`probe of ${targetLabel(target)} refused: the server presented ${describeHostKey(answer.hostKey)}, a type that is not learned on first use (docs/host-keys.md). Nothing was registered.`);
            }
            let report: ReturnType<typeof parseProbeReport>;
            try {
                report = parseProbeReport(answer.stdout);
            } catch (e) {
                throw new Error(`probe of ${targetLabel(target)} gave an unreadable answer: ${e instanceof Error ? e.message : String(e)}`);
            }
            const facts: ProbedFacts = {
                ...(report.machineId === undefined ? {} : { machineId: report.machineId }),
                addresses: report.addresses,
                ...(report.parent === undefined ? {} : { parent: report.parent }),
                ...(report.parentDriver === undefined ? {} : { parentDriver: report.parentDriver }),
                ...(report.virtualization === undefined ? {} : { virtualization: report.virtualization }),
                ...(report.docker === undefined ? {} : { docker: report.docker }),
            };
            return { host: planned.host, tokens: Object.fromEntries(report.tokens), hostKey: { key: answer.hostKey, learned: planned.hostKey === undefined }, facts };
        }),
    );
    const failures = settled.flatMap((r, i) =>
        r.status === "rejected" ? [{ host: plan[i].target.host, error: r.reason instanceof Error ? r.reason : new Error(String(r.reason)) }] : [],
    );
    if (failures.length === 1) throw failures[0].error;
    if (failures.length > 1) throw new ProbeFailures(failures, plan.length);
    const results = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    return {
        tokens: new Map(results.map((r) => [r.host, pulumi.output(r.tokens)])),
        hostKeys: new Map(results.map((r) => [r.host, r.hostKey])),
        facts: new Map(results.map((r) => [r.host, r.facts])),
    };
}
