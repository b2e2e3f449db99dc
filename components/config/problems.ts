/**
 * The problem list of config validation, and how values and paths appear in it: every problem is
 * one line `<path> <value> <rule>`, e.g. `hosts[1].parent eth0;reboot is not a valid Linux …`.
 * A value that is, or may hold, a container's env is never shown (`<path> <rule>`): env values
 * can be secrets (see `holdsEnv`).
 */

/** A value as it appears in a problem: printable strings bare, everything else as JSON, long values cut. */
export function showValue(v: unknown): string {
    if (typeof v === "string" && /^[\x21-\x7e]{1,80}$/.test(v)) return v;
    return jsonValue(v);
}

/** A value as JSON (strings quoted), cut at 80 characters. */
export function jsonValue(v: unknown): string {
    let s: string;
    try {
        s = JSON.stringify(v) ?? String(v);
    } catch {
        s = String(typeof v === "bigint" ? `${v}n` : Object.prototype.toString.call(v));
    }
    return s.length > 80 ? `${s.slice(0, 79)}…` : s;
}

/** What a raw value is, for wrong-type messages: `a string`, `a number`, `a list`, `a map`, `null`. */
function typeName(v: unknown): string {
    if (v === null) return "null";
    if (Array.isArray(v)) return "a list";
    switch (typeof v) {
        case "string":
            return "a string";
        case "number":
            return "a number";
        case "boolean":
            return "a boolean";
        case "object":
            return "a map";
        case "undefined":
            return "missing";
        default:
            return `a ${typeof v}`;
    }
}

/** `hosts[0]` + `parent` -> `hosts[0].parent`; keys that are not identifiers are quoted: `env["MY VAR"]`. */
export function childPath(path: string, key: string | number): string {
    if (typeof key === "number") return `${path}[${key}]`;
    return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** An entry in messages: its path, and its name when it has one: `networks[0] (pub_net)`. */
export function entryLabel(e: { readonly path: string; readonly name?: string }): string {
    return e.name === undefined ? e.path : `${e.path} (${e.name})`;
}

/**
 * True for a path whose value is, or may hold, a container's env: the config, `networks`, a
 * network, its `containers`, a container, its `env` and each env value. An env value can be a
 * secret (`pulumi config set --secret --path …`), and a value of the wrong shape (an env written
 * as a list of `NAME=value`, a container written as a list) holds it as well: problems at these
 * paths name the path and the rule, never the value. Keys are not values: an env name is shown.
 */
export function holdsEnv(path: string): boolean {
    return /^(config|networks(\[\d+\](\.containers(\[\d+\](\.env([.[].*)?)?)?)?)?)$/s.test(path);
}

/** The collected problems, in the order found. */
export class Problems {
    readonly list: string[] = [];
    /** `<path> <value> <rule>`; `<path> <rule>` where the value may hold an env value (`holdsEnv`). */
    add(path: string, value: unknown, rule: string): void {
        this.list.push(holdsEnv(path) ? `${path} ${rule}` : `${path} ${showValue(value)} ${rule}`);
    }
    /** `<path> <rule>`, for problems without a value (a missing or unknown key). */
    addBare(path: string, rule: string): void {
        this.list.push(`${path} ${rule}`);
    }
    /** `<path> <json value> must be <expected>, not <type>`; without the value where it may hold an env value (`holdsEnv`). */
    wrongType(path: string, value: unknown, expected: string): void {
        const shown = holdsEnv(path) ? "" : ` ${jsonValue(value)}`;
        this.list.push(`${path}${shown} must be ${expected}, not ${typeName(value)}`);
    }
}
