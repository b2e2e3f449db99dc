/**
 * The drift probe: while the program runs (preview and up), read each host's live state over SSH
 * with the read-only script from `renderProbe`, and turn its answer into drift tokens per feature.
 * The tokens go into the feature commands' text (MacvlanHost `probe`), so a host whose state
 * drifted shows as an update of exactly the drifted feature. Config `macvlan:probe: false` skips it.
 */
import * as pulumi from "@pulumi/pulumi";
import { Client, type ConnectConfig, type ServerHostKeyAlgorithm } from "ssh2";
import { parseProbeOutput } from "../host/scripts";
import { probePlan, type PlannedHost, type ProbeTarget as PlannedTarget } from "../plan/stack";

/** Where and as whom to run a probe, with the key. */
export interface ProbeTarget extends PlannedTarget {
    /** Private key contents. Never logged, never part of an error message. */
    readonly privateKey: string;
}

/** Runs `script` on the target and resolves with its stdout; rejects (naming the host) on any failure. */
export type HostProber = (target: ProbeTarget, script: string) => Promise<string>;

/** Timeouts of `sshProber`, in milliseconds. */
export interface SshProberOptions {
    /** Connection and SSH handshake. Default 20 s. */
    readonly connectTimeoutMs?: number;
    /** The whole probe, connection included. Default 60 s. */
    readonly totalTimeoutMs?: number;
}

/** Largest probe output accepted (the real one is a few hundred bytes). */
export const MAX_PROBE_OUTPUT = 1024 * 1024;

/** The server host key algorithms that present a key of the pinned type. */
function hostKeyAlgorithms(type: string): ServerHostKeyAlgorithm[] {
    if (type === "ssh-rsa") return ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];
    return [type as ServerHostKeyAlgorithm];
}

function targetLabel(t: ProbeTarget): string {
    return `host ${t.host} (${t.user}@${t.address}:${t.port})`;
}

/**
 * A HostProber over SSH with the `ssh2` package. With a pinned `hostKey`, the server must present
 * exactly that key (the key bytes are compared; only the pinned type is negotiated); without one,
 * the server key is not checked (as `remote.Command` does without `hostKey`). The script runs as
 * the SSH exec command, the way `remote.Command` runs its scripts; a non-zero exit is an error.
 */
export function sshProber(options: SshProberOptions = {}): HostProber {
    const connectTimeout = options.connectTimeoutMs ?? 20_000;
    const totalTimeout = options.totalTimeoutMs ?? 60_000;
    return (target, script) =>
        new Promise<string>((resolve, reject) => {
            const client = new Client();
            let settled = false;
            let keyMismatch = false;
            const finish = (err: Error | undefined, out?: string): void => {
                if (settled) return;
                settled = true;
                clearTimeout(timer);
                client.end();
                if (err !== undefined) reject(new Error(`probe of ${targetLabel(target)} failed: ${err.message}`));
                else resolve(out ?? "");
            };
            const timer = setTimeout(() => finish(new Error(`no answer within ${totalTimeout} ms`)), totalTimeout);

            const config: ConnectConfig = {
                host: target.address,
                port: target.port,
                username: target.user,
                privateKey: target.privateKey,
                readyTimeout: connectTimeout,
            };
            if (target.hostKey !== undefined) {
                const [type, base64] = target.hostKey.split(" ");
                const pinned = Buffer.from(base64, "base64");
                config.algorithms = { serverHostKey: hostKeyAlgorithms(type) };
                config.hostVerifier = (key: Buffer): boolean => {
                    keyMismatch = !key.equals(pinned);
                    return !keyMismatch;
                };
            }
            client.on("error", (err: Error) =>
                finish(keyMismatch ? new Error("the server's host key is not the pinned hostKey") : err),
            );
            client.on("ready", () => {
                client.exec(script, (err, stream) => {
                    if (err) return finish(err);
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

/**
 * Probes every planned host (in parallel) with the script for exactly the features MacvlanHost
 * will register there, and resolves, once all have answered, with each host's drift tokens by
 * `featureKey`, as plain (not secret: tokens carry no secret) Outputs for `buildStack`'s `probes`.
 * Rejects with the first failure, naming the host, so a program can stop before it registers
 * anything.
 */
export async function probeHosts(
    hosts: readonly PlannedHost[],
    privateKey: pulumi.Input<string>,
    prober: HostProber = sshProber(),
): Promise<ReadonlyMap<string, pulumi.Output<Record<string, string>>>> {
    const key = await known(privateKey);
    const results = await Promise.all(
        probePlan(hosts).map(async ({ target: planned, script }) => {
            const target: ProbeTarget = { ...planned, privateKey: key };
            const stdout = await prober(target, script);
            let tokens: ReadonlyMap<string, string>;
            try {
                tokens = parseProbeOutput(stdout);
            } catch (e) {
                throw new Error(`probe of ${targetLabel(target)} gave an unreadable answer: ${e instanceof Error ? e.message : String(e)}`);
            }
            return [planned.host, Object.fromEntries(tokens)] as const;
        }),
    );
    return new Map(results.map(([name, tokens]) => [name, pulumi.output(tokens)]));
}
