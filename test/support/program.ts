/** Running code under the mocks: index.ts with a stack config (runProgram), any program (runUnderMocks), the config. */
// The mocks first: importing them sets them, before anything here loads code under test.
import { recorded, reset, setStackOutputs } from "./mocks";
import * as pulumi from "@pulumi/pulumi";
import type { KnownHostsStore } from "../../components/stack/knownHosts";
import type { HostProber } from "../../components/stack/probe";
import type { ProgramDeps } from "../../components/stack/program";
import { fakeProber } from "./prober";
import type { RecordedResource } from "./records";
import { declaresSecretEnv } from "./stacks";

/**
 * Every Output/Promise inside a value resolved (plain values are kept). An Output is awaited through
 * its own promise (SDK-internal, what the engine awaits for a stack output), so one that failed
 * rejects: `apply` never calls back for a failed Output, and waiting on it would hang the test.
 */
async function resolveDeep(v: unknown): Promise<unknown> {
    if (pulumi.Output.isInstance(v)) {
        return resolveDeep(await (v as unknown as { promise(): Promise<unknown> }).promise());
    }
    if (v instanceof Promise) return resolveDeep(await v);
    if (Array.isArray(v)) return Promise.all(v.map(resolveDeep));
    if (typeof v === "object" && v !== null && !pulumi.Resource.isInstance(v)) {
        const entries = await Promise.all(Object.entries(v).map(async ([k, x]) => [k, await resolveDeep(x)] as const));
        return Object.fromEntries(entries);
    }
    return v;
}

/**
 * Runs `program` under the mocks and waits until everything it registered has been recorded and
 * every Output in its result resolved. Resolves with the plain result; rejects with the program's
 * error (then it also waits for the registrations already started, so none leaks into the next test).
 */
export async function runUnderMocks<T>(program: () => T | Promise<T>): Promise<unknown> {
    let result: T;
    try {
        result = await program();
    } finally {
        await settleRegistrations();
    }
    const plain = await resolveDeep(result);
    await settleRegistrations();
    return plain;
}

/** Waits for every outstanding resource registration to reach the mocks. */
export async function settleRegistrations(): Promise<void> {
    await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
}

/** Replaces the whole Pulumi config: `macvlan:*` keys to strings (objects are JSON-encoded, as the CLI does). */
export function setConfig(values: Readonly<Record<string, unknown>>, secretKeys: readonly string[] = []): void {
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(values)) flat[k] = typeof v === "string" ? v : JSON.stringify(v);
    pulumi.runtime.setAllConfig(flat, [...secretKeys]);
}

/** What index.ts exports: the program function. */
export type ProgramMain = (deps?: ProgramDeps) => Promise<unknown>;

/** A known_hosts store in memory (what trust on first use reads and appends to), with its text. */
export function memoryKnownHosts(text?: string, location = "stacks/Pulumi.test.known_hosts"): KnownHostsStore & { text(): string | undefined } {
    let kept = text;
    return {
        location,
        read: () => kept,
        append: (t) => {
            kept = (kept ?? "") + t;
        },
        text: () => kept,
    };
}

/** index.ts, loaded on first use (after the mocks, which are set by this file's first import). */
export function loadMain(): ProgramMain {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require("../../index") as { default?: ProgramMain } & ProgramMain;
    return typeof mod.default === "function" ? mod.default : mod;
}

/**
 * The keys the CLI would have marked secret: `macvlan:sshPrivateKey`, and `macvlan:networks` when a
 * container lists `secretEnv` (its values were set with `pulumi config set --secret --path`).
 */
export function defaultSecretKeys(config: Record<string, unknown>): string[] {
    return ["macvlan:sshPrivateKey", ...(declaresSecretEnv(config) ? ["macvlan:networks"] : [])];
}

/** Options of runProgram. */
export interface RunOptions {
    /** Default: `fakeProber(config)`. */
    readonly prober?: HostProber;
    readonly readFile?: (p: string) => string;
    /** Secret config keys. Default: `macvlan:sshPrivateKey`, and `macvlan:networks` when a container lists `secretEnv` (`defaultSecretKeys`). */
    readonly secretKeys?: readonly string[];
    /** Where trust on first use keeps learned keys. Default: a fresh `memoryKnownHosts()` (never a file). */
    readonly knownHosts?: KnownHostsStore;
    /** Other stacks' outputs, by stack name, for StackReferences (`macvlan:fleet`). Default: none (a reference fails). */
    readonly stackOutputs?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/**
 * Runs index.ts under the mocks with exactly `config` (from a clean record); returns its plain
 * outputs, the records and the warnings it gave (keys trusted on first use).
 */
export async function runProgram(
    config: Record<string, unknown>,
    opts: RunOptions = {},
): Promise<{ outputs: unknown; resources: RecordedResource[]; warnings: string[] }> {
    reset();
    for (const [stack, outputs] of Object.entries(opts.stackOutputs ?? {})) setStackOutputs(stack, outputs);
    setConfig(config, opts.secretKeys ?? defaultSecretKeys(config));
    const main = loadMain();
    const warnings: string[] = [];
    const outputs = await runUnderMocks(() =>
        main({
            prober: opts.prober ?? fakeProber(config),
            knownHosts: opts.knownHosts ?? memoryKnownHosts(),
            warn: (m) => warnings.push(m),
            ...(opts.readFile ? { readFile: opts.readFile } : {}),
        }),
    );
    return { outputs, resources: [...recorded], warnings };
}
