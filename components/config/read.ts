/**
 * Raw readers for the stack config: plain maps and their own keys, unknown keys (with the key a
 * typo most likely meant), and the one step every field takes: read it, hold it to its type and
 * rule, report what is wrong, keep it when it passes.
 */
import type { Parsed } from "../net/addr";
import { childPath, jsonValue, type Problems } from "./problems";

/** A map as YAML or JSON parse it. */
export type RawMap = Readonly<Record<string, unknown>>;

/** True for a plain map (what YAML/JSON objects parse to). */
export function isMap(v: unknown): v is RawMap {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
    const proto: unknown = Object.getPrototypeOf(v);
    return proto === Object.prototype || proto === null;
}

/** The own value of `key`; null (an empty YAML value) counts as absent. */
export function own(map: RawMap, key: string): unknown {
    if (!Object.prototype.hasOwnProperty.call(map, key)) return undefined;
    const v = map[key];
    return v === null ? undefined : v;
}

function editDistance(a: string, b: string): number {
    const d: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        let prev = d[0];
        d[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const tmp = d[j];
            d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
            prev = tmp;
        }
    }
    return d[b.length];
}

/** The known key a typo most likely meant (same letters ignoring case, `_` and `-`, or at most 2 edits away). */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
    const squash = (s: string) => s.toLowerCase().replace(/[-_]/g, "");
    const same = known.find((k) => squash(k) === squash(key));
    if (same !== undefined) return same;
    let best: string | undefined;
    let bestDistance = 3;
    for (const k of known) {
        const dist = editDistance(key.toLowerCase(), k.toLowerCase());
        if (dist < bestDistance) {
            best = k;
            bestDistance = dist;
        }
    }
    return best;
}

/**
 * An entry of a list (a host, a shim, a network, a container): the map, or undefined when it is
 * not one (reported as a wrong type). Its keys outside `known` are reported, each with the known
 * key it most likely meant: `hosts[0].parnet is not a known key of a host; did you mean parent? known keys: …`.
 */
export function readEntry(p: Problems, raw: unknown, path: string, known: readonly string[], what: string, expected = "a map"): RawMap | undefined {
    if (!isMap(raw)) {
        p.wrongType(path, raw, expected);
        return undefined;
    }
    for (const key of Object.keys(raw)) {
        if (known.includes(key)) continue;
        const guess = suggestKey(key, known);
        const hint = guess === undefined ? "" : ` did you mean ${guess}?`;
        p.addBare(childPath(path, key), `is not a known key of ${what};${hint} known keys: ${known.join(", ")}`);
    }
    return raw;
}

/** A rule on one value: the rule broken (phrased to follow `<path> <value>`), or undefined when it holds. */
export type Rule<T> = (value: T) => string | undefined;

/** What a field takes: a raw type, and what a value of that type must be. */
export interface Field<T> {
    /** The type, as a wrong-type problem words it: `<path> <json> must be <expected>, not <type>`. */
    readonly expected: string;
    /** The value, or the rule it breaks; undefined when the raw value is of the wrong type. */
    readonly parse: (raw: unknown) => Parsed<T> | undefined;
}

function held<T>(value: T, rule: Rule<T> | undefined): Parsed<T> {
    const broken = rule?.(value);
    return broken === undefined ? { ok: true, value } : { ok: false, problem: broken };
}

/** A field of the raw type `is` decides, held to `rule`. */
export function field<T>(expected: string, is: (raw: unknown) => raw is T, rule?: Rule<T>): Field<T> {
    return { expected, parse: (raw) => (is(raw) ? held(raw, rule) : undefined) };
}

/** A string field whose rule admits exactly the strings of `T` (an enumeration). */
export function textField<T extends string>(rule: Rule<string>): Field<T> {
    return { expected: "a string", parse: (raw) => (typeof raw === "string" ? (held(raw, rule) as Parsed<T>) : undefined) };
}

/** A string field parsed into a value (an address, a block, a MAC), which is then held to `rule`. */
export function parsedField<T>(parse: (s: string) => Parsed<T>, rule?: Rule<T>): Field<T> {
    return {
        expected: "a string",
        parse: (raw) => {
            if (typeof raw !== "string") return undefined;
            const r = parse(raw);
            return r.ok ? held(r.value, rule) : r;
        },
    };
}

// Raw types, for `field`.
export const isString = (raw: unknown): raw is string => typeof raw === "string";
export const isNumber = (raw: unknown): raw is number => typeof raw === "number";
const isBoolean = (raw: unknown): raw is boolean => typeof raw === "boolean";
export const isList = (raw: unknown): raw is unknown[] => Array.isArray(raw);

/** Any string. */
export const STRING: Field<string> = field("a string", isString);
/** `true` or `false`. */
export const BOOLEAN: Field<boolean> = field("true or false", isBoolean);

/**
 * Holds the value at `at` (present) to `f`: returns the value, or reports a wrong type or the rule
 * broken (with the value as written) and returns undefined.
 */
export function checkValue<T>(p: Problems, raw: unknown, at: string, f: Field<T>): T | undefined {
    const r = f.parse(raw);
    if (r === undefined) {
        p.wrongType(at, raw, f.expected);
        return undefined;
    }
    if (!r.ok) {
        p.add(at, raw, r.problem);
        return undefined;
    }
    return r.value;
}

/**
 * Reads `key` of an entry and holds it to `f` (checkValue): undefined when it is absent, reported
 * as `is required` (or the given wording) when `required`.
 */
export function readField<T>(p: Problems, map: RawMap, key: string, path: string, f: Field<T>, required?: true | string): T | undefined {
    const raw = own(map, key);
    const at = childPath(path, key);
    if (raw === undefined) {
        if (required !== undefined) p.addBare(at, required === true ? "is required" : required);
        return undefined;
    }
    return checkValue(p, raw, at, f);
}

/** Reads an optional `key` (readField), telling absent (`ok`) from given but failing (not `ok`). */
export function readOptional<T>(p: Problems, map: RawMap, key: string, path: string, f: Field<T>): { value?: T; ok: boolean } {
    const raw = own(map, key);
    if (raw === undefined) return { ok: true };
    const value = checkValue(p, raw, childPath(path, key), f);
    return { value, ok: value !== undefined };
}

/** Holds a key of the map at `mapPath` to `rule`; a broken rule is reported at the map, with the key as JSON: `x.env "MY VAR" is not …`. */
export function checkKey(p: Problems, mapPath: string, key: string, rule: Rule<string>): boolean {
    const broken = rule(key);
    if (broken !== undefined) p.addBare(mapPath, `${jsonValue(key)} ${broken}`);
    return broken === undefined;
}
