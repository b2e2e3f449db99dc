/** The Pulumi mocks: the one `setMocks` of a mocha process (run on import), the recorder (`recorded`, `reset`) and `setBackend`. */
/*
 * Import this module FIRST in every spec (or support module) that registers resources, before
 * anything that loads code under test: importing it sets the mocks. Module caching runs it once per
 * mocha process; a second instance (which would call setMocks again) throws. Specs of pure code must
 * not load it: with MVL_FORBID_MOCKS=1 importing it throws (test/unit/pureSpecs.test.ts uses that).
 * Unknown calls fail loudly. Never call setMocks anywhere else; reading the records is in ./records.ts,
 * running programs under these mocks in ./program.ts.
 *
 * Parent and dependencies: the mocks' `newResource` is not told a resource's parent or what it
 * depends on, so the mock monitor's `registerResource` is wrapped: it receives the engine's own
 * RegisterResourceRequest, whose parent URN, dependency URNs (explicit `dependsOn`, expanded
 * through components to their custom resources, plus every input's dependencies) and per-property
 * dependencies are recorded beside what `newResource` sees. The mock monitor calls `newResource`
 * synchronously from `registerResource`, so the two are paired without guessing.
 *
 * StackReference: a read, not a registration (no register request precedes it); `setStackOutputs`
 * publishes another stack's outputs for it (until `reset()`), and a reference to a stack not
 * published fails, as the engine fails for a stack that does not exist.
 *
 * Backend: `setBackend(b)` makes `newResource` hand every registration (with its URN, parent,
 * dependencies and provider) to `b` and answer with what `b` resolves: the system tests' stand-in
 * for the engine and providers (test/support/engine) performs the resource for real. Without a backend the
 * mocks answer at once, as unit tests expect.
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { unwrapSecrets, type RecordedResource } from "./records";

if (process.env["MVL_FORBID_MOCKS"] === "1") {
    throw new Error("test/support/mocks: mocks loaded by a pure spec (MVL_FORBID_MOCKS=1)");
}

/** Set on `globalThis` once the mocks are set, so that a second instance of this module cannot set them again. */
const INSTALLED = Symbol.for("pulumi-macvlan/test/support/mocks");
if ((globalThis as Record<symbol, unknown>)[INSTALLED] !== undefined) {
    throw new Error(
        `test/support/mocks: setMocks would run twice in one process (first loaded from ${String((globalThis as Record<symbol, unknown>)[INSTALLED])}, again from ${__filename})`,
    );
}
(globalThis as Record<symbol, unknown>)[INSTALLED] = __filename;

/** Every resource registered since the last `reset()`, in registration order. */
export const recorded: RecordedResource[] = [];

/** Forgets everything recorded so far (call in `beforeEach`). */
export function reset(): void {
    recorded.length = 0;
    stackOutputs.clear();
}

/** The outputs of the other stacks a StackReference may read, by stack name (`setStackOutputs`). */
const stackOutputs = new Map<string, Readonly<Record<string, unknown>>>();

/**
 * Publishes stack `stack`'s outputs for StackReferences (until `reset()`). A StackReference to a
 * stack not published fails, as the engine fails for a stack that does not exist.
 */
export function setStackOutputs(stack: string, outputs: Readonly<Record<string, unknown>>): void {
    stackOutputs.set(stack, outputs);
}

/** The mocks' answer to a StackReference read (a read, not a registration: no register request precedes it). */
function readStackReference(args: pulumi.runtime.MockResourceArgs): BackendResult {
    const inputs = args.inputs as Record<string, unknown>;
    const stack = String(inputs["name"]);
    const outputs = stackOutputs.get(stack);
    if (outputs === undefined) throw new Error(`test/support/mocks: a StackReference reads stack ${stack}, which the test did not publish (setStackOutputs)`);
    recorded.push({ type: args.type, name: args.name, inputs, custom: true, urn: "", dependencies: [], propertyDependencies: {}, deleteBeforeReplace: false });
    return { id: stack, state: { name: stack, outputs, secretOutputNames: [] } };
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
            if (args.type === "pulumi:pulumi:StackReference") return readStackReference(args);
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
