/**
 * Running the policy pack's policies the way the policy runtime does (pure: loads no mocks): every
 * property bag wrapped in `unknownCheckingProxy` (re-exported by @pulumi/policy 1.21), resource args
 * and stack resources with the fields the runtime fills, `getConfig` from a given config, and every
 * violation collected with its URN.
 */
import * as policySdk from "@pulumi/policy";
import type { PolicyResource, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { macvlanPolicies } from "../../policy/policies";

/**
 * What @pulumi/policy 1.21 exports from its proxy module. Its index re-exports `unknownCheckingProxy`
 * and `UnknownValueError`, but the shipped `proxy.d.ts` is empty (they are marked `@internal` and
 * stripped), so TypeScript cannot see their types: they are typed here, and the sentinel the
 * engine sends for an unknown string is read from `@pulumi/policy/proxy` (the runtime's own value).
 */
interface PolicyProxyModule {
    unknownCheckingProxy<T extends object>(this: void, props: T): T;
    UnknownValueError: new (...args: never[]) => Error;
}
const sdk = policySdk as unknown as PolicyProxyModule;

/** The runtime's proxy: a property read that meets an unknown value throws UnknownValueError. */
export const unknownCheckingProxy: PolicyProxyModule["unknownCheckingProxy"] = sdk.unknownCheckingProxy;
/** The error the proxy throws on an unknown value (the runtime reports it as an advisory "can't run during preview"). */
export const UnknownValueError: PolicyProxyModule["UnknownValueError"] = sdk.UnknownValueError;
/** The value the engine sends for a string not known during preview. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const UNKNOWN_STRING = (require("@pulumi/policy/proxy") as { unknownStringValue: string }).unknownStringValue;

/** One violation as reported: its message and the URN it names (stack policies). */
export interface Reported {
    readonly message: string;
    readonly urn?: string;
}

/** A resource to feed to the policies: type, name, raw props, and optionally its provider and parent type. */
export interface TestResource {
    readonly type: string;
    readonly name: string;
    readonly props: Record<string, unknown>;
    /** URN of its Docker provider (an explicit provider, as MacvlanHost's). Default none (the default provider). */
    readonly provider?: string;
    /** The parent's type, which the URN's type chain carries. Default none. */
    readonly parentType?: string;
    /** Its URN; default built from the type chain and the name. */
    readonly urn?: string;
}

/** `urn:pulumi:test::macvlan::<parent type>$<type>::<name>`, as the engine names a resource. */
export function urnOf(r: Pick<TestResource, "type" | "name" | "parentType">): string {
    return `urn:pulumi:test::macvlan::${r.parentType === undefined ? "" : `${r.parentType}$`}${r.type}::${r.name}`;
}

const OPTIONS = { protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [] };

function providerOf(urn: string | undefined): PolicyResource["provider"] {
    if (urn === undefined) return undefined;
    return { type: "pulumi:providers:docker", urn, name: urn.split("::").pop() ?? urn, props: unknownCheckingProxy<Record<string, unknown>>({}) };
}

/** The policy called `name` of the pack. */
export function policyNamed(name: string): ResourceValidationPolicy | StackValidationPolicy {
    const p = macvlanPolicies.find((x) => x.name === name);
    if (p === undefined) throw new Error(`no policy ${name}`);
    return p;
}

/** Runs a resource policy on one resource (props through the runtime's proxy); the messages it reported. */
export async function runResourcePolicy(name: string, r: TestResource, config: Record<string, unknown> = {}): Promise<string[]> {
    const policy = policyNamed(name) as ResourceValidationPolicy;
    if (policy.validateResource === undefined) throw new Error(`${name} is not a resource policy`);
    const props = unknownCheckingProxy<Record<string, unknown>>(structuredClone(r.props));
    const provider = providerOf(r.provider);
    const args: ResourceValidationArgs = {
        type: r.type,
        props,
        urn: r.urn ?? urnOf(r),
        name: r.name,
        opts: OPTIONS,
        ...(provider === undefined ? {} : { provider }),
        stackTags: new Map(),
        isType: () => false,
        asType: () => undefined,
        getConfig: <T extends object>() => config as T,
        notApplicable: (reason?: string) => {
            throw new Error(`notApplicable: ${reason}`);
        },
    };
    const out: string[] = [];
    const validations = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
    for (const v of validations) await v(args, (message) => out.push(message));
    return out;
}

/** Runs a stack policy on the resources (each one's props through the runtime's proxy); what it reported. Rejects with what it threw. */
export async function runStackPolicy(name: string, resources: readonly TestResource[], config: Record<string, unknown> = {}): Promise<Reported[]> {
    const r = await runStackPolicySettled(name, resources, config);
    if (r.error !== undefined) throw r.error;
    return r.reported;
}

/** Runs a stack policy like runStackPolicy, keeping both what it reported and what it threw after (as the runtime does). */
export async function runStackPolicySettled(name: string, resources: readonly TestResource[], config: Record<string, unknown> = {}): Promise<{ reported: Reported[]; error?: Error }> {
    const policy = policyNamed(name) as StackValidationPolicy;
    if (policy.validateStack === undefined) throw new Error(`${name} is not a stack policy`);
    const stack: PolicyResource[] = resources.map((r) => {
        const provider = providerOf(r.provider);
        return {
            type: r.type,
            name: r.name,
            urn: r.urn ?? urnOf(r),
            props: unknownCheckingProxy<Record<string, unknown>>(structuredClone(r.props)),
            opts: OPTIONS,
            ...(provider === undefined ? {} : { provider }),
            dependencies: [],
            propertyDependencies: {},
            isType: () => false,
            asType: () => undefined,
        };
    });
    const args: StackValidationArgs = {
        resources: stack,
        stackTags: new Map(),
        getConfig: <T extends object>() => config as T,
        notApplicable: (reason?: string) => {
            throw new Error(`notApplicable: ${reason}`);
        },
    };
    const out: Reported[] = [];
    try {
        await policy.validateStack(args, (message, urn) => out.push(urn === undefined ? { message } : { message, urn }));
    } catch (error) {
        return { reported: out, error: error instanceof Error ? error : new Error(`non-Error thrown: ${JSON.stringify(error)}`) };
    }
    return { reported: out };
}

/** Runs every policy of the pack: each resource policy on each resource, each stack policy on them all. */
export async function runPack(resources: readonly TestResource[], config: Record<string, Record<string, unknown>> = {}): Promise<Array<Reported & { readonly policy: string }>> {
    const out: Array<Reported & { policy: string }> = [];
    for (const p of macvlanPolicies) {
        if ("validateStack" in p) {
            for (const v of await runStackPolicy(p.name, resources, config[p.name])) out.push({ policy: p.name, ...v });
        } else {
            for (const r of resources) {
                for (const message of await runResourcePolicy(p.name, r, config[p.name])) out.push({ policy: p.name, message, urn: r.urn ?? urnOf(r) });
            }
        }
    }
    return out;
}
