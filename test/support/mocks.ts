/**
 * The one place that sets Pulumi mocks in a mocha process (loaded by .mocharc.json before any
 * spec). Unit tests read what was registered from `recorded`; unknown calls fail loudly.
 * OWNED BY the components work: extend here, never call setMocks anywhere else.
 *
 * Parent and dependencies: the mocks' `newResource` is not told a resource's parent or what it
 * depends on, so the mock monitor's `registerResource` is wrapped: it receives the engine's own
 * RegisterResourceRequest, whose parent URN, dependency URNs (explicit `dependsOn`, expanded
 * through components to their custom resources, plus every input's dependencies) and per-property
 * dependencies are recorded beside what `newResource` sees. The mock monitor calls `newResource`
 * synchronously from `registerResource`, so the two are paired without guessing.
 *
 * Backend: `setBackend(b)` makes `newResource` hand every registration (with its URN, parent,
 * dependencies and provider) to `b` and answer with what `b` resolves: the system tests' stand-in
 * for the engine and providers (test/support/engine) performs the resource for real. Without a backend the
 * mocks answer at once, as unit tests expect.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";

/** One registered resource, as the engine would have received it. */
export interface RecordedResource {
    readonly type: string;
    readonly name: string;
    /** Inputs as the engine got them (secrets appear as `{ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value }`). */
    readonly inputs: Record<string, unknown>;
    /** `<provider URN>::<provider id>` for resources with an explicit provider. */
    readonly provider?: string;
    readonly custom: boolean;
    /** The resource's URN, as the mock monitor answered it. */
    urn: string;
    /** The parent's URN; undefined for resources without a parent (the stack is not registered under mocks). */
    readonly parent?: string;
    /** URNs of everything it depends on (sorted). */
    readonly dependencies: readonly string[];
    /** Per input property: URNs of the resources its value came from (sorted). */
    readonly propertyDependencies: Readonly<Record<string, readonly string[]>>;
    /** The `deleteBeforeReplace` resource option. */
    readonly deleteBeforeReplace: boolean;
}

/** Every resource registered since the last `reset()`, in registration order. */
export const recorded: RecordedResource[] = [];

/** Forgets everything recorded so far (call in `beforeEach`). */
export function reset(): void {
    recorded.length = 0;
}

/** The signature the SDK uses for secret values on the wire (`rpc.specialSigKey` / `specialSecretSig`). */
export const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** True when a recorded input value is a secret. */
export function isSecretValue(v: unknown): v is { readonly value: unknown } {
    return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
}

/** A recorded input value with secret wrappers removed (recursively). */
export function unwrapSecrets(v: unknown): unknown {
    if (isSecretValue(v)) return unwrapSecrets(v.value);
    if (Array.isArray(v)) return v.map(unwrapSecrets);
    if (typeof v === "object" && v !== null) {
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
    }
    return v;
}

/** One registration as a backend sees it: what `newResource` got plus the engine's request fields. */
export interface BackendRequest {
    readonly type: string;
    readonly name: string;
    readonly urn: string;
    readonly custom: boolean;
    readonly inputs: Record<string, unknown>;
    /** `<provider URN>::<provider id>` for resources with an explicit provider. */
    readonly provider?: string;
    readonly parent?: string;
    readonly dependencies: readonly string[];
    readonly propertyDependencies: Readonly<Record<string, readonly string[]>>;
    readonly deleteBeforeReplace: boolean;
}

/** What a backend answers for a registration: the resource's id (custom resources) and its output state. */
export interface BackendResult {
    readonly id: string | undefined;
    readonly state: Record<string, unknown>;
}

/** Performs registrations instead of the mocks' immediate answer (see `setBackend`). */
export interface Backend {
    newResource(req: BackendRequest): Promise<BackendResult>;
}

let backend: Backend | undefined;

/** Installs (or, with undefined, removes) the backend every later registration is handed to. */
export function setBackend(b: Backend | undefined): void {
    backend = b;
}

/** Extra state the mocks add to a resource's outputs, by type: what the real provider computes. */
function computedState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    if (type === "docker:index/remoteImage:RemoteImage") {
        const ref = String(unwrapSecrets(inputs["name"]));
        return { imageId: `sha256:${createHash("sha256").update(ref).digest("hex")}`, repoDigest: `${ref}@sha256:mock` };
    }
    if (type === "command:remote:Command") return { stdout: "", stderr: "" };
    void name;
    return {};
}

interface PendingRequest {
    record?: RecordedResource;
    readonly urn: string;
    readonly parent: string;
    readonly dependencies: string[];
    readonly propertyDependencies: Record<string, string[]>;
    readonly deleteBeforeReplace: boolean;
    readonly type: string;
    readonly name: string;
}
let pending: PendingRequest | undefined;

/** Minimal view of the protobuf RegisterResourceRequest the mock monitor receives. */
interface RegisterResourceRequestView {
    getType(): string;
    getName(): string;
    getParent(): string;
    getDependenciesList(): string[];
    getPropertydependenciesMap(): { forEach(cb: (deps: { getUrnsList(): string[] }, key: string) => void): void };
    getDeletebeforereplace(): boolean;
}

interface RegisterResourceResponseView {
    getUrn(): string;
}

interface MockMonitorView {
    newUrn(parent: string, type: string, name: string): string;
    registerResource(
        req: RegisterResourceRequestView,
        callback: (err: unknown, resp: RegisterResourceResponseView | undefined) => void,
    ): Promise<void>;
}

void pulumi.runtime.setMocks(
    {
        newResource(args: pulumi.runtime.MockResourceArgs): BackendResult | Promise<BackendResult> {
            const req = pending;
            pending = undefined;
            if (req === undefined || req.type !== args.type || req.name !== args.name) {
                throw new Error(`test/support/mocks: no register request recorded for ${args.type} ${args.name}`);
            }
            const inputs = args.inputs as Record<string, unknown>;
            const record: RecordedResource = {
                type: args.type,
                name: args.name,
                inputs,
                ...(args.provider ? { provider: args.provider } : {}),
                custom: args.custom ?? false,
                urn: "",
                ...(req.parent === "" ? {} : { parent: req.parent }),
                dependencies: [...req.dependencies].sort(),
                propertyDependencies: Object.fromEntries(
                    Object.entries(req.propertyDependencies).map(([k, v]) => [k, [...v].sort()]),
                ),
                deleteBeforeReplace: req.deleteBeforeReplace,
            };
            recorded.push(record);
            req.record = record;
            if (backend !== undefined) {
                return backend.newResource({
                    type: record.type,
                    name: record.name,
                    urn: req.urn,
                    custom: record.custom,
                    inputs,
                    ...(record.provider === undefined ? {} : { provider: record.provider }),
                    ...(record.parent === undefined ? {} : { parent: record.parent }),
                    dependencies: record.dependencies,
                    propertyDependencies: record.propertyDependencies,
                    deleteBeforeReplace: record.deleteBeforeReplace,
                });
            }
            return {
                id: args.custom ? `${args.name}-id` : undefined,
                state: { ...inputs, ...computedState(args.type, args.name, inputs) },
            };
        },
        call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
            throw new Error(`unexpected call to ${args.token} in a unit test`);
        },
    },
    "macvlan",
    "test",
    false,
);

{
    const monitor = pulumi.runtime.getMonitor() as unknown as MockMonitorView | undefined;
    if (monitor === undefined) throw new Error("test/support/mocks: setMocks installed no monitor");
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, callback) => {
        const propertyDependencies: Record<string, string[]> = {};
        req.getPropertydependenciesMap().forEach((deps, key) => {
            propertyDependencies[key] = deps.getUrnsList();
        });
        const request: PendingRequest = {
            urn: monitor.newUrn(req.getParent(), req.getType(), req.getName()),
            type: req.getType(),
            name: req.getName(),
            parent: req.getParent(),
            dependencies: req.getDependenciesList(),
            propertyDependencies,
            deleteBeforeReplace: req.getDeletebeforereplace(),
        };
        pending = request;
        return register(req, (err, resp) => {
            if (request.record !== undefined && resp !== undefined) request.record.urn = resp.getUrn();
            callback(err, resp);
        });
    };
}

/** Every Output/Promise inside a value resolved (plain values are kept). */
async function resolveDeep(v: unknown): Promise<unknown> {
    if (pulumi.Output.isInstance(v)) {
        return resolveDeep(await new Promise<unknown>((resolve) => v.apply((x) => resolve(x))));
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

// ---------------------------------------------------------------------------------------------
// Reading the records.

/** Name of the resource with a URN, among `resources`. */
export function nameByUrn(resources: readonly RecordedResource[]): (urn: string | undefined) => string | undefined {
    const m = new Map(resources.map((r) => [r.urn, r.name]));
    return (urn) => (urn === undefined ? undefined : (m.get(urn) ?? `?${urn}`));
}

/** Name of the provider resource a `provider` reference (`<urn>::<id>`) points to. */
export function providerName(resources: readonly RecordedResource[], ref: string | undefined): string | undefined {
    if (ref === undefined) return undefined;
    return nameByUrn(resources)(ref.slice(0, ref.lastIndexOf("::")));
}

/** `<type> <name> [parent=<name>] [provider=<name>]`, one line per resource, sorted. */
export function summary(resources: readonly RecordedResource[]): string[] {
    const byUrn = nameByUrn(resources);
    return resources
        .map((r) => {
            const parts = [r.type, r.name];
            if (r.parent !== undefined) parts.push(`parent=${byUrn(r.parent)}`);
            const p = providerName(resources, r.provider);
            if (p !== undefined) parts.push(`provider=${p}`);
            return parts.join(" ");
        })
        .sort();
}

/** The one resource called `name`. */
export function byName(resources: readonly RecordedResource[], name: string): RecordedResource {
    const found = resources.filter((r) => r.name === name);
    if (found.length !== 1) throw new Error(`expected one resource named ${name}, found ${found.length}`);
    return found[0];
}

/** Names of what a resource depends on, sorted. */
export function dependencyNames(resources: readonly RecordedResource[], r: RecordedResource): string[] {
    const byUrn = nameByUrn(resources);
    return r.dependencies.map((u) => byUrn(u) ?? u).sort();
}

/** Every string inside a value, with its path; the insides of secrets are skipped unless asked for. */
export function stringsIn(v: unknown, opts: { readonly intoSecrets?: boolean } = {}, at = "", out: Array<[string, string]> = []): Array<[string, string]> {
    if (isSecretValue(v)) {
        if (opts.intoSecrets) stringsIn(v.value, opts, `${at}<secret>`, out);
    } else if (typeof v === "string") out.push([at, v]);
    else if (Array.isArray(v)) v.forEach((x, i) => stringsIn(x, opts, `${at}[${i}]`, out));
    else if (typeof v === "object" && v !== null) for (const [k, x] of Object.entries(v)) stringsIn(x, opts, at ? `${at}.${k}` : k, out);
    return out;
}

// ---------------------------------------------------------------------------------------------
// Running the program (index.ts) with a stack config. Code under test is imported lazily, after
// the mocks above are in place.

/** A throwaway private key: only its presence, and its absence everywhere else, matters. */
export const TEST_PRIVATE_KEY = [
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
    "UNIT-TEST-KEY-MATERIAL-7f3a9c",
    "-----END OPENSSH PRIVATE KEY-----",
    "",
].join("\n");
/** The line of TEST_PRIVATE_KEY looked for everywhere. */
export const KEY_MARKER = "UNIT-TEST-KEY-MATERIAL-7f3a9c";

/** The example stacks in stacks/. */
export const STACKS = ["twohosts", "compose", "modes"] as const;
export type StackName = (typeof STACKS)[number];

/** The `config:` map of `stacks/Pulumi.<name>.yaml`. */
export function stackConfig(name: StackName): Record<string, unknown> {
    const yaml = lazy<typeof import("js-yaml")>("js-yaml");
    const file = path.join(__dirname, "..", "..", "stacks", `Pulumi.${name}.yaml`);
    const doc = yaml.load(readFileSync(file, "utf8")) as { config: Record<string, unknown> };
    return doc.config;
}

/** A stack config plus the private key (set as a secret by `runProgram`). */
export function withKey(config: Record<string, unknown>): Record<string, unknown> {
    return { ...config, "macvlan:sshPrivateKey": TEST_PRIVATE_KEY };
}

/** A deep copy, to edit a config without touching the original. */
export function clone<T>(v: T): T {
    return JSON.parse(JSON.stringify(v)) as T;
}

/** `require` of code under test, after the mocks are set (relative to this file). */
function lazy<T>(id: string): T {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(id) as T;
}

type ProbeTarget = import("../../components/stack/probe").ProbeTarget;
type HostProber = import("../../components/stack/probe").HostProber;

/** Drift token a fake host reports for a feature; default `ok`. */
export type TokenFn = (host: string, key: string) => string;

/**
 * A fake prober for a config: answers each host with one `key=token` line per feature that
 * MacvlanHost plans there (what the host would print for `renderProbe`'s script) and records
 * the calls and scripts.
 */
export function fakeProber(
    config: Record<string, unknown>,
    token: TokenFn = () => "ok",
    calls: Array<{ target: ProbeTarget; script: string }> = [],
): HostProber {
    return (target, script) => {
        calls.push({ target, script });
        const { parseStackConfig } = lazy<typeof import("../../components/config/validate")>("../../components/config/validate");
        const { featureKey } = lazy<typeof import("../../components/host/scripts")>("../../components/host/scripts");
        const { planHostFeatures } = lazy<typeof import("../../components/macvlanHost")>("../../components/macvlanHost");
        const { hostArgsFromModel } = lazy<typeof import("../../components/stack/build")>("../../components/stack/build");
        const model = parseStackConfig({ hosts: config["macvlan:hosts"], networks: config["macvlan:networks"] });
        const host = model.hosts.find((h) => h.name === target.host);
        if (host === undefined) throw new Error(`fake prober: unknown host ${target.host}`);
        const keys = planHostFeatures(host.name, hostArgsFromModel(model, host, "")).map((p) => featureKey(p.feature));
        return Promise.resolve(keys.map((k) => `${k}=${token(host.name, k)}\n`).join(""));
    };
}

/** What index.ts exports: the program function. */
export type ProgramMain = (deps?: { prober?: HostProber; readFile?: (p: string) => string }) => Promise<unknown>;

/** index.ts, loaded after the mocks. */
export function loadMain(): ProgramMain {
    const mod = lazy<{ default?: ProgramMain } & ProgramMain>("../../index");
    return typeof mod.default === "function" ? mod.default : mod;
}

/** Options of runProgram. */
export interface RunOptions {
    /** Default: `fakeProber(config)`. */
    readonly prober?: HostProber;
    readonly readFile?: (p: string) => string;
    /** Secret config keys. Default: `macvlan:sshPrivateKey`. */
    readonly secretKeys?: readonly string[];
}

/** Runs index.ts under the mocks with exactly `config` (from a clean record); returns its plain outputs and the records. */
export async function runProgram(
    config: Record<string, unknown>,
    opts: RunOptions = {},
): Promise<{ outputs: unknown; resources: RecordedResource[] }> {
    reset();
    setConfig(config, opts.secretKeys ?? ["macvlan:sshPrivateKey"]);
    const main = loadMain();
    const outputs = await runUnderMocks(() =>
        main({ prober: opts.prober ?? fakeProber(config), ...(opts.readFile ? { readFile: opts.readFile } : {}) }),
    );
    return { outputs, resources: [...recorded] };
}

/** A fresh ed25519 key pair, OpenSSH formats (`public` is `ssh-ed25519 <base64>`, no comment). */
export function ed25519(): { private: string; public: string } {
    const { utils } = lazy<typeof import("ssh2")>("ssh2");
    for (;;) {
        // ssh2 drops a leading zero byte of the public key; such a blob is not a valid key, so draw again.
        const k = utils.generateKeyPairSync("ed25519");
        const pub = k.public.split(" ").slice(0, 2).join(" ");
        if (pub.startsWith("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI")) return { private: k.private, public: pub };
    }
}
