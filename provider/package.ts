/**
 * The component package (`PulumiPlugin.yaml`, runtime nodejs): MacvlanHost and MacvlanNetwork for
 * Python, Go, C# and YAML programs (`pulumi package add <git url>`). Its schema is the one the SDK's
 * analyzer (`@pulumi/pulumi/provider/experimental`) infers from the components' TypeScript types
 * and JSDoc, less the arguments only TypeScript can give (`TYPESCRIPT_ONLY`).
 *
 * The package's name is `macvlan`, given here (not derived from package.json, whose npm name
 * `pulumi-macvlan` would make the tokens `pulumi-macvlan:index:*`), so the type tokens are the
 * ones the classes have always registered: `macvlan:index:MacvlanHost`, `macvlan:index:MacvlanNetwork`.
 * MacvlanSwarmNetwork is not in the package (its hosts take a remote-command connection and a
 * mode the analyzer cannot read).
 */
import * as path from "node:path";
import { main } from "@pulumi/pulumi/provider";
import { ComponentProvider } from "@pulumi/pulumi/provider/experimental";
import { MacvlanHost, MacvlanNetwork } from "../components";

/** The package's name: the first part of every type token. */
export const PACKAGE_NAME = "macvlan";

/** The components the package serves (the analyzer finds each class by its name from package.json's `main`). */
export const PACKAGE_COMPONENTS = [MacvlanHost, MacvlanNetwork] as const;

/** The repository root: where the analyzer reads package.json (version, description, `main`) and tsconfig.json. */
export const PACKAGE_DIR = path.resolve(__dirname, "..");

/**
 * Properties of the schema's types that only TypeScript can give, by type name: resources passed
 * as objects. The analyzer would write a Docker provider as `…/schema.json#/resources/docker` (a
 * type that does not exist: a provider is `#/provider`) and `pulumi.Resource` as an object type of
 * its own. Other languages give a host's engine as `docker` (its SSH endpoint) and what the
 * network waits for as the resource option `dependsOn`.
 */
export const TYPESCRIPT_ONLY: Readonly<Record<string, readonly string[]>> = {
    MacvlanNetworkHost: ["provider", "dependsOn"],
};

/** A package schema, as far as this module reads and edits it. */
export interface PackageSchema {
    name: string;
    version: string;
    resources: Record<string, SchemaObject>;
    types: Record<string, SchemaObject>;
    [key: string]: unknown;
}

/** A resource or type of a schema. */
export interface SchemaObject {
    properties?: Record<string, Record<string, unknown>>;
    inputProperties?: Record<string, Record<string, unknown>>;
    required?: string[];
    requiredInputs?: string[];
    [key: string]: unknown;
}

/** Every `#/types/<token>` a value refers to. */
function typeRefs(v: unknown, out: Set<string> = new Set()): Set<string> {
    if (Array.isArray(v)) for (const x of v) typeRefs(x, out);
    else if (typeof v === "object" && v !== null) {
        for (const [k, x] of Object.entries(v)) {
            if (k === "$ref" && typeof x === "string" && x.startsWith("#/types/")) out.add(x.slice("#/types/".length));
            else typeRefs(x, out);
        }
    }
    return out;
}

/**
 * The schema without the TypeScript-only properties, and without the types and package
 * dependencies only they referred to. Throws when a listed property is not in the schema (a renamed field must be renamed here).
 */
export function withoutTypeScriptOnly(schema: PackageSchema, only: Readonly<Record<string, readonly string[]>> = TYPESCRIPT_ONLY): PackageSchema {
    const out = JSON.parse(JSON.stringify(schema)) as PackageSchema;
    for (const [typeName, props] of Object.entries(only)) {
        const type = out.types[`${out.name}:index:${typeName}`];
        for (const p of props) {
            if (type?.properties?.[p] === undefined) throw new Error(`provider/package.ts: TYPESCRIPT_ONLY names ${typeName}.${p}, which the schema does not have`);
            delete type.properties[p];
            if (type.required !== undefined) type.required = type.required.filter((r) => r !== p);
        }
    }
    // The types still reached from a resource, through any number of types.
    const reached = new Set<string>();
    const queue = [...typeRefs(out.resources)];
    while (queue.length > 0) {
        const t = queue.pop() as string;
        if (reached.has(t)) continue;
        reached.add(t);
        queue.push(...typeRefs(out.types[t]));
    }
    for (const t of Object.keys(out.types)) if (!reached.has(t)) delete out.types[t];
    // The packages still referred to (`/<package>/v<version>/schema.json#/…`).
    const text = JSON.stringify({ resources: out.resources, types: out.types });
    if (Array.isArray(out["dependencies"])) {
        out["dependencies"] = (out["dependencies"] as { name: string; version: string }[]).filter((d) => text.includes(`"/${d.name}/v${d.version}/schema.json#`));
    }
    return out;
}

/** The package's provider: the SDK's ComponentProvider with this package's name and components, serving the schema less `TYPESCRIPT_ONLY`. */
export class MacvlanComponentProvider extends ComponentProvider {
    constructor() {
        super({ name: PACKAGE_NAME, dirname: PACKAGE_DIR, components: [...PACKAGE_COMPONENTS] });
    }

    /** The analyzer's schema (run once, then cached by the SDK) without the TypeScript-only properties. */
    override async getSchema(): Promise<string> {
        return JSON.stringify(withoutTypeScriptOnly(JSON.parse(await super.getSchema()) as PackageSchema));
    }
}

/** Serves the package over gRPC as a Pulumi plugin (what `provider/index.ts` runs); `args` are the plugin's command-line arguments. */
export function servePackage(args: readonly string[]): Promise<void> {
    return main(new MacvlanComponentProvider(), [...args]);
}
