/**
 * A small stand-in for the Pulumi engine and the two providers, for the system tests only (never
 * part of the package). See test/support/engine/README.md for what it does and does not emulate.
 *
 * `up(config)` runs index.ts under the mocks of test/support/mocks.ts (`runProgram` of
 * test/support/program.ts) with this engine installed as the mocks' backend, so every registration
 * is performed for real as the program registers it, in the order the SDK sends them (a resource
 * registers only once its inputs and `dependsOn` resources have been performed, which gives the
 * engine's dependency order and its parallelism). Against the
 * state of earlier passes (URN → type, inputs, outputs, id, dependencies):
 * - inputs (and provider) equal to the state's → no-op, the old id and outputs are reused;
 * - a remote.Command with other `triggers` → replacement (pulumi-command replaces on a trigger
 *   change): with `deleteBeforeReplace`, the old `delete` script runs before the new `create`,
 *   else after it;
 * - a remote.Command with other inputs → its registered `update` script runs (`create` when none);
 * - a docker Network, Container or RemoteImage with other inputs → replacement, delete before
 *   create (what pulumi-docker answers: Container is DeleteBeforeReplace, and Network/RemoteImage
 *   are auto-named resources given an explicit name, for which the Terraform bridge asks for
 *   delete-before-replace); resources whose inputs come from the replaced one (its property
 *   dependents, e.g. the containers on a replaced network) are deleted first and created again
 *   when they register;
 * - afterwards, resources of the state that the program no longer registered are deleted, in
 *   reverse dependency order.
 * `destroy()` deletes everything in the state in reverse dependency order (parallel where the
 * graph allows). A failed operation fails the pass (after what is in flight has settled) with
 * the resource named; the state keeps what was performed.
 */
import { randomUUID } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
// The mocks first (importing them sets them), then the code under test.
import { setBackend, type Backend, type BackendRequest, type BackendResult } from "../mocks";
import { runProgram } from "../program";
import { unwrapSecrets } from "../records";
import { sshProber } from "../../../components/stack/probe";
import { ensureImage, readLab } from "../../../lab/lab";
import { connectionOf, runRemote } from "./command";
import { createContainer, createNetwork, deleteContainer, deleteNetwork, DockerApi, parseSshHost } from "./docker";

export const TYPES = {
    command: "command:remote:Command",
    network: "docker:index/network:Network",
    container: "docker:index/container:Container",
    image: "docker:index/remoteImage:RemoteImage",
} as const;

/** Provider resources: `pulumi:providers:docker` (as registered), also accepted as `docker:index/provider:Provider`. */
function isDockerProvider(type: string): boolean {
    return type === "pulumi:providers:docker" || type === "docker:index/provider:Provider";
}

/** One resource as the engine keeps it between passes. */
export interface StateEntry {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    readonly custom: boolean;
    readonly parent?: string;
    /** `<provider URN>::<provider id>`. */
    readonly provider?: string;
    readonly inputs: Record<string, unknown>;
    readonly outputs: Record<string, unknown>;
    readonly id?: string;
    readonly dependencies: readonly string[];
    readonly propertyDependencies: Readonly<Record<string, readonly string[]>>;
}

/** As Pulumi names them; `delete-replaced` is the delete half of a (delete-before-) replacement. */
export type StepKind = "create" | "update" | "replace" | "same" | "delete" | "delete-replaced";

/** What a pass did to one resource. */
export interface Step {
    readonly kind: StepKind;
    readonly type: string;
    readonly name: string;
    readonly urn: string;
}

export interface EngineOptions {
    /** Progress lines (one per operation). */
    readonly log?: (line: string) => void;
}

/** The result of a pass. */
export interface PassResult {
    /** The program's stack outputs (plain). */
    readonly outputs: unknown;
    readonly steps: readonly Step[];
}

const providerUrn = (ref: string): string => ref.slice(0, ref.lastIndexOf("::"));

export class Engine implements Backend {
    /** URN → resource, across passes. */
    readonly state = new Map<string, StateEntry>();
    /** Registrations handed to this engine, all passes (a program refused by validation adds none). */
    registrations = 0;
    /** Operations performed on hosts (Docker API resource calls, remote scripts), all passes. */
    readonly operations: string[] = [];
    private steps: Step[] = [];
    private registered = new Set<string>();
    private replacing = new Set<string>();
    private readonly apis = new Map<string, DockerApi>();
    private readonly log: (line: string) => void;
    private inFlight = new Set<Promise<unknown>>();
    private failures: Error[] = [];
    private onFailure: (e: Error) => void = () => undefined;

    constructor(opts: EngineOptions = {}) {
        this.log = opts.log ?? (() => undefined);
    }

    /** Runs the program with `config` and performs what it registers (see the file comment). */
    async up(config: Record<string, unknown>): Promise<PassResult> {
        this.steps = [];
        this.registered = new Set();
        this.replacing = new Set();
        this.failures = [];
        const failed = new Promise<never>((_, reject) => (this.onFailure = reject));
        failed.catch(() => undefined);
        setBackend(this);
        let outputs: unknown;
        try {
            const run = runProgram(config, { prober: sshProber() });
            run.catch(() => undefined);
            outputs = (await Promise.race([run, failed])).outputs;
        } catch (e) {
            await this.settle();
            throw this.failures.length > 0 ? this.aggregate("up") : e;
        } finally {
            setBackend(undefined);
        }
        await this.settle();
        if (this.failures.length > 0) throw this.aggregate("up");
        const gone = [...this.state.values()].filter((e) => !this.registered.has(e.urn));
        await this.deleteAll(gone);
        return { outputs, steps: this.steps };
    }

    /** Deletes everything in the state, in reverse dependency order. */
    async destroy(): Promise<readonly Step[]> {
        this.steps = [];
        await this.deleteAll([...this.state.values()]);
        return this.steps;
    }

    /** Ends the providers' connections. */
    close(): void {
        for (const api of this.apis.values()) api.close();
        this.apis.clear();
    }

    /** The state entry of a resource by its name (exactly one). */
    byName(name: string): StateEntry {
        const found = [...this.state.values()].filter((e) => e.name === name);
        if (found.length !== 1) throw new Error(`state has ${found.length} resources named ${name}`);
        return found[0];
    }

    /** A provider's Docker connection (also for tests that talk to a host's engine as the provider would). */
    dockerApi(providerRef: string): DockerApi {
        const urn = providerUrn(providerRef);
        const p = this.state.get(urn);
        if (p === undefined) throw new Error(`no provider ${urn} in the state`);
        const inputs = unwrapSecrets(p.inputs) as Record<string, unknown>;
        // Provider inputs reach the engine JSON-encoded when they are not strings (`sshOpts` is a
        // JSON array in a string), as every provider configuration does; the provider decodes them.
        const raw = inputs["sshOpts"];
        const sshOpts = (typeof raw === "string" ? JSON.parse(raw) : (raw ?? [])) as string[];
        const key = `${urn} ${JSON.stringify(inputs)}`;
        let api = this.apis.get(key);
        if (api === undefined) {
            api = new DockerApi({ host: String(inputs["host"]), sshOpts });
            this.apis.set(key, api);
        }
        return api;
    }

    // -----------------------------------------------------------------------------------------
    // The mocks' backend

    newResource(req: BackendRequest): Promise<BackendResult> {
        this.registrations++;
        this.registered.add(req.urn);
        const p = this.perform(req).catch((e: unknown) => {
            const err = new Error(`${req.type} ${req.name}: ${e instanceof Error ? e.message : String(e)}`);
            this.failures.push(err);
            this.onFailure(err);
            throw err;
        });
        this.inFlight.add(p);
        void p.catch(() => undefined).finally(() => this.inFlight.delete(p));
        return p;
    }

    private async perform(req: BackendRequest): Promise<BackendResult> {
        const prior = this.state.get(req.urn);
        const keep = (kind: StepKind, id: string | undefined, outputs: Record<string, unknown>): BackendResult => {
            this.state.set(req.urn, {
                urn: req.urn,
                type: req.type,
                name: req.name,
                custom: req.custom,
                ...(req.parent === undefined ? {} : { parent: req.parent }),
                ...(req.provider === undefined ? {} : { provider: req.provider }),
                inputs: req.inputs,
                outputs,
                ...(id === undefined ? {} : { id }),
                dependencies: req.dependencies,
                propertyDependencies: req.propertyDependencies,
            });
            if (req.custom) {
                this.steps.push({ kind, type: req.type, name: req.name, urn: req.urn });
                if (kind !== "same") this.log(`${kind} ${req.type} ${req.name}`);
            }
            return { id, state: outputs };
        };
        if (!req.custom) return keep(prior ? "same" : "create", undefined, req.inputs);
        const unchanged = prior !== undefined && prior.provider === req.provider && isDeepStrictEqual(prior.inputs, req.inputs);
        if (isDockerProvider(req.type)) {
            // A provider only remembers its configuration; its id stays stable so its resources' references do.
            return keep(prior === undefined ? "create" : unchanged ? "same" : "update", prior?.id ?? randomUUID(), req.inputs);
        }
        if (prior !== undefined && unchanged) return keep("same", prior.id, prior.outputs);

        switch (req.type) {
            case TYPES.command: {
                if (prior !== undefined && !isDeepStrictEqual(unwrapSecrets(prior.inputs["triggers"]), unwrapSecrets(req.inputs["triggers"]))) {
                    if (req.deleteBeforeReplace) {
                        // As the engine's dependent replacements: what takes an input from this
                        // command goes first (a swarm network before its config-only network).
                        await this.deleteAll(this.propertyDependents(req.urn), "delete-replaced");
                        await this.deleteAll([prior], "delete-replaced");
                    }
                    const out = await this.runScript(req.inputs, "create", `${req.name} create (replacement)`);
                    if (!req.deleteBeforeReplace) await this.deleteOldCommand(prior);
                    return keep("replace", `${req.name}-${randomUUID().slice(0, 8)}`, { ...req.inputs, ...out });
                }
                const which = prior === undefined ? "create" : "update";
                const out = await this.runScript(req.inputs, which, `${req.name} ${which}`);
                const kind: StepKind = prior !== undefined ? "update" : this.replacing.has(req.urn) ? "replace" : "create";
                return keep(kind, prior?.id ?? `${req.name}-${randomUUID().slice(0, 8)}`, { ...req.inputs, ...out });
            }
            case TYPES.network:
            case TYPES.container:
            case TYPES.image: {
                let kind: StepKind = this.replacing.has(req.urn) ? "replace" : "create";
                if (prior !== undefined) {
                    kind = "replace";
                    await this.deleteAll(this.propertyDependents(req.urn), "delete-replaced");
                    await this.deleteAll([prior], "delete-replaced");
                }
                const { id, outputs } = await this.createDocker(req);
                return keep(kind, id, outputs);
            }
            default:
                throw new Error(`the harness does not know how to perform ${req.type}`);
        }
    }

    private async createDocker(req: BackendRequest): Promise<{ id: string; outputs: Record<string, unknown> }> {
        if (req.provider === undefined) throw new Error("no explicit provider: the harness only performs resources with one");
        const inputs = req.inputs;
        if (req.type === TYPES.image) {
            const ref = String(inputs["name"]);
            const host = this.labHostOf(req.provider);
            this.operations.push(`${host}: image ${ref}`);
            const imageId = await ensureImage(host, ref);
            return { id: `${imageId}${ref}`, outputs: { ...inputs, imageId, repoDigest: "" } };
        }
        const api = this.dockerApi(req.provider);
        this.operations.push(`${api.provider.host}: create ${req.type} ${String(inputs["name"])}`);
        const id = req.type === TYPES.network ? await createNetwork(api, inputs) : await createContainer(api, inputs);
        return { id, outputs: { ...inputs, id } };
    }

    /** The lab host behind a provider's `ssh://` endpoint (images come from the lab, not a registry). */
    private labHostOf(providerRef: string): string {
        const p = this.state.get(providerUrn(providerRef));
        const address = parseSshHost(String(p?.inputs["host"])).address;
        const h = readLab().hosts.find((x) => x.address === address);
        if (h === undefined) throw new Error(`no lab host has address ${address}`);
        return h.name;
    }

    private async remote(inputs: Record<string, unknown>, script: string, label: string): Promise<{ stdout: string; stderr: string }> {
        const conn = connectionOf(inputs);
        this.operations.push(`${conn.host}: ${label}`);
        // pulumi-command sends its `stdin` input (the stored one, for a delete) to every operation.
        const stdin = inputs["stdin"];
        return runRemote(conn, script, label, undefined, typeof stdin === "string" ? stdin : undefined);
    }

    /** Runs a command's registered script of that name (`update` falls back to `create`, as pulumi-command does; nothing when there is none). */
    private async runScript(inputs: Record<string, unknown>, which: "create" | "update" | "delete", label: string): Promise<{ stdout: string; stderr: string }> {
        const script = which === "update" ? (inputs["update"] ?? inputs["create"]) : inputs[which];
        return typeof script === "string" && script !== "" ? this.remote(inputs, script, label) : { stdout: "", stderr: "" };
    }

    /** The delete half of a create-before-delete replacement: the old entry's script, its state entry already taken by the new one. */
    private async deleteOldCommand(prior: StateEntry): Promise<void> {
        await this.runScript(prior.inputs, "delete", `${prior.name} delete (replaced)`);
        this.log(`delete-replaced ${prior.type} ${prior.name}`);
        this.steps.push({ kind: "delete-replaced", type: prior.type, name: prior.name, urn: prior.urn });
    }

    /** Entries whose inputs come (transitively) from `urn`'s outputs: they go before it on replacement. */
    private propertyDependents(urn: string): StateEntry[] {
        const out = new Map<string, StateEntry>();
        const visit = (u: string): void => {
            for (const e of this.state.values()) {
                if (out.has(e.urn) || !Object.values(e.propertyDependencies).some((deps) => deps.includes(u))) continue;
                out.set(e.urn, e);
                this.replacing.add(e.urn);
                visit(e.urn);
            }
        };
        visit(urn);
        return [...out.values()];
    }

    // -----------------------------------------------------------------------------------------
    // Deletion

    /** Deletes `entries` in waves: an entry goes once nothing else in the set depends on it. */
    private async deleteAll(entries: readonly StateEntry[], kind: "delete" | "delete-replaced" = "delete"): Promise<void> {
        const remaining = new Map(entries.map((e) => [e.urn, e]));
        while (remaining.size > 0) {
            const needed = new Set<string>();
            for (const e of remaining.values()) {
                const deps = [...e.dependencies, ...(e.provider ? [providerUrn(e.provider)] : []), ...(e.parent ? [e.parent] : [])];
                for (const d of deps) if (d !== e.urn && remaining.has(d)) needed.add(d);
            }
            const wave = [...remaining.values()].filter((e) => !needed.has(e.urn));
            if (wave.length === 0) throw new Error(`dependency cycle among ${[...remaining.keys()].join(", ")}`);
            const results = await Promise.allSettled(wave.map((e) => this.deleteOne(e, kind)));
            const errors = results.flatMap((r, i) =>
                r.status === "rejected" ? [`${wave[i].type} ${wave[i].name}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`] : [],
            );
            if (errors.length > 0) throw new Error(`delete failed:\n${errors.join("\n")}`);
            for (const e of wave) remaining.delete(e.urn);
        }
    }

    private async deleteOne(e: StateEntry, kind: "delete" | "delete-replaced"): Promise<void> {
        if (e.custom && !isDockerProvider(e.type)) {
            if (e.type === TYPES.command) {
                await this.runScript(e.inputs, "delete", `${e.name} delete`);
            } else if (e.type === TYPES.network || e.type === TYPES.container) {
                const api = this.dockerApi(e.provider ?? "");
                this.operations.push(`${api.provider.host}: delete ${e.type} ${String(e.inputs["name"])}`);
                if (e.type === TYPES.network) await deleteNetwork(api, e.id ?? "");
                else await deleteContainer(api, e.id ?? "");
            } else if (e.type === TYPES.image) {
                if (e.inputs["keepLocally"] !== true) {
                    const api = this.dockerApi(e.provider ?? "");
                    this.operations.push(`${api.provider.host}: delete image ${String(e.inputs["name"])}`);
                    await api.call("DELETE", `/images/${encodeURIComponent(String(e.outputs["imageId"]))}`);
                }
            } else {
                throw new Error(`the harness does not know how to delete ${e.type}`);
            }
            this.log(`${kind} ${e.type} ${e.name}`);
            this.steps.push({ kind, type: e.type, name: e.name, urn: e.urn });
        }
        this.state.delete(e.urn);
    }

    // -----------------------------------------------------------------------------------------

    private async settle(): Promise<void> {
        while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    }

    private aggregate(pass: string): Error {
        return new Error(`${pass} failed:\n${this.failures.map((f) => f.message).join("\n")}`);
    }
}
