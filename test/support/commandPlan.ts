/**
 * The remote commands a program run registered, as the lab's stand-ins for pulumi-command run
 * them (test/system/macvlanHost.ssh.test.ts, bench/converge/engine.ts): each command's texts,
 * stdin and connection exactly as registered, its host and what it depends on, and the order to
 * run them in (`waves`). Loads no mocks.
 */
import { unwrapStdin } from "../../components/host/shell";
import { connectionOf, type CommandConnection } from "./engine/command";
import { nameByUrn, unwrapSecrets, type RecordedResource } from "./records";

/** One registered remote.Command. */
export interface Cmd {
    readonly name: string;
    /** The host component it belongs to (its parent). */
    readonly host: string;
    /** The feature key (`K=` of the script); undefined for the preflight. */
    readonly key: string | undefined;
    readonly create: string;
    readonly update: string;
    readonly delete: string | undefined;
    /** The script sent on stdin (every feature command has one; the preflight has none). */
    readonly stdin: string | undefined;
    readonly connection: CommandConnection;
    /** Names of the commands it depends on. */
    readonly after: readonly string[];
}

/** The registered commands by name. */
export type Plan = ReadonlyMap<string, Cmd>;

function str(v: unknown, what: string): string {
    const x = unwrapSecrets(v);
    if (typeof x !== "string") throw new Error(`${what} is not a string: ${JSON.stringify(x)}`);
    return x;
}

/** The `command:remote:Command`s among `resources` (one program run's records), with their texts unwrapped from secrets. */
export function commandPlan(resources: readonly RecordedResource[]): Plan {
    const nameOf = nameByUrn(resources);
    const cmds = resources.filter((r) => r.type === "command:remote:Command");
    const names = new Set(cmds.map((r) => r.name));
    const plan = new Map<string, Cmd>();
    for (const r of cmds) {
        const host = nameOf(r.parent);
        if (host === undefined) throw new Error(`${r.name} has no parent`);
        const stdin = r.inputs["stdin"] === undefined ? undefined : str(r.inputs["stdin"], `${r.name}.stdin`);
        plan.set(r.name, {
            name: r.name,
            host,
            key: stdin === undefined ? undefined : /^K='([^']*)'$/m.exec(unwrapStdin(stdin))?.[1],
            create: str(r.inputs["create"], `${r.name}.create`),
            update: str(r.inputs["update"], `${r.name}.update`),
            delete: r.inputs["delete"] === undefined ? undefined : str(r.inputs["delete"], `${r.name}.delete`),
            stdin,
            connection: connectionOf(r.inputs),
            after: r.dependencies.map((u) => nameOf(u) ?? u).filter((n) => names.has(n)),
        });
    }
    return plan;
}

/** The commands in dependency waves (a command's wave comes after every wave of what it depends on). */
export function waves<T extends { readonly name: string; readonly after: readonly string[] }>(cmds: readonly T[]): T[][] {
    const byName = new Map(cmds.map((c) => [c.name, c]));
    const depth = new Map<string, number>();
    const d = (c: T, seen: readonly string[]): number => {
        const known = depth.get(c.name);
        if (known !== undefined) return known;
        if (seen.includes(c.name)) throw new Error(`dependency cycle: ${[...seen, c.name].join(" -> ")}`);
        const deps = c.after.map((n) => byName.get(n)).filter((x): x is T => x !== undefined);
        const v = deps.length === 0 ? 0 : 1 + Math.max(...deps.map((x) => d(x, [...seen, c.name])));
        depth.set(c.name, v);
        return v;
    };
    const out: T[][] = [];
    for (const c of cmds) (out[d(c, [])] ??= []).push(c);
    return out.filter((w) => w !== undefined);
}
