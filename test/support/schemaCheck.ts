/** Checks a Pulumi YAML resource's properties against a package schema (pure: no mocks, no resources). */
import type { PackageSchema } from "../../provider/package";

/** A property of a schema resource or type. */
type PropertySpec = Record<string, unknown>;

/** `${name}` or `${name.output}`: a Pulumi YAML interpolation of a whole value. */
const INTERPOLATION_RE = /^\$\{([A-Za-z][A-Za-z0-9_-]*)(?:\.[A-Za-z0-9_.]+)?\}$/;

/**
 * Every problem of `value` (a property's value as YAML wrote it) against `spec`, each `<path> <rule>`.
 * An interpolation `${…}` passes where the property is an Input; in a plain property only a
 * config key (`configKeys`) may be interpolated, since a plain property needs a known value.
 */
export function valueProblems(schema: PackageSchema, spec: PropertySpec, value: unknown, at: string, configKeys: ReadonlySet<string>): string[] {
    if (typeof value === "string") {
        const m = INTERPOLATION_RE.exec(value);
        if (m !== null) {
            if (spec["plain"] === true && !configKeys.has(m[1])) return [`${at} ${value} is an output, but the property is plain (needs a known value)`];
            return [];
        }
    }
    const ref = spec["$ref"];
    if (typeof ref === "string") {
        if (!ref.startsWith("#/types/")) return [`${at} refers to ${ref}, outside the package`];
        const type = schema.types[ref.slice("#/types/".length)];
        if (type === undefined) return [`${at} refers to ${ref}, which the schema does not define`];
        const members = type["enum"] as { value: unknown }[] | undefined;
        if (members !== undefined) {
            return members.some((e) => e.value === value) ? [] : [`${at} ${JSON.stringify(value)} is not one of ${members.map((e) => JSON.stringify(e.value)).join(", ")}`];
        }
        return objectProblems(schema, type.properties ?? {}, type.required ?? [], value, at, configKeys);
    }
    switch (spec["type"]) {
        case "string":
        case "number":
        case "boolean":
            return typeof value === spec["type"] ? [] : [`${at} ${JSON.stringify(value)} is not a ${String(spec["type"])}`];
        case "array":
            if (!Array.isArray(value)) return [`${at} is not a list`];
            return value.flatMap((v, i) => valueProblems(schema, spec["items"] as PropertySpec, v, `${at}[${i}]`, configKeys));
        case "object": {
            if (typeof value !== "object" || value === null || Array.isArray(value)) return [`${at} is not a map`];
            const values = spec["additionalProperties"] as PropertySpec | undefined;
            if (values === undefined) return [`${at}: the schema gives no value type`];
            return Object.entries(value).flatMap(([k, v]) => valueProblems(schema, values, v, `${at}.${k}`, configKeys));
        }
        default:
            return [`${at}: the schema property has no type this check knows (${JSON.stringify(spec)})`];
    }
}

/** Every problem of an object's keys (unknown, required missing) and values against the properties of a resource or type. */
export function objectProblems(
    schema: PackageSchema,
    properties: Record<string, PropertySpec>,
    required: readonly string[],
    value: unknown,
    at: string,
    configKeys: ReadonlySet<string>,
): string[] {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return [`${at} is not a map`];
    const obj = value as Record<string, unknown>;
    return [
        ...required.filter((r) => !(r in obj)).map((r) => `${at}.${r} is required`),
        ...Object.entries(obj).flatMap(([k, v]) => {
            const spec = properties[k];
            return spec === undefined ? [`${at}.${k} is not a property (${Object.keys(properties).join(", ")})`] : valueProblems(schema, spec, v, `${at}.${k}`, configKeys);
        }),
    ];
}
