/** Reading what the mocks recorded (resources, names, dependencies, strings, secrets); pure: loads no mocks. */

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
