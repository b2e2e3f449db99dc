/**
 * What the tools' command lines share (tools/compose/cli.ts, tools/doctor/cli.ts): a usage error
 * (exit 2), a flag's value, a stack name that becomes part of a file path, and a path as the user
 * typed it.
 */
import * as path from "node:path";

/** A bad command line: the tool prints it with its usage and exits 2. */
export class UsageError extends Error {}

/** A stack name as Pulumi allows it: it becomes part of a file path, so no `/` and no leading `.`. */
export const STACK_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

/** A path as the user wrote it: `npm run` starts the script in the package root, and says where the user was in INIT_CWD. */
export function userPath(p: string): string {
    return path.resolve(process.env["INIT_CWD"] ?? process.cwd(), p);
}

/** The value of `--flag`, once at most, taken out of `args`. */
export function flag(args: string[], name: string): string | undefined {
    const at = args.flatMap((a, i) => (a === name ? [i] : []));
    if (at.length > 1) throw new UsageError(`${name} is given twice`);
    const i = at[0];
    if (i === undefined) return undefined;
    const v = args[i + 1];
    if (v === undefined || v.startsWith("--")) throw new UsageError(`${name} needs a value`);
    args.splice(i, 2);
    return v;
}
