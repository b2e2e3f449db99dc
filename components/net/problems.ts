/**
 * The one error convention: every layer collects problems as data (`<path> <value> <rule>` lines)
 * and an entry point throws them all at once as a MacvlanConfigError, before anything is
 * registered. The program's edge (index.ts, through components/stack/program.ts) turns it into a
 * `pulumi.RunError`, which `pulumi up` prints as the message alone, without a stack trace.
 */

/** Every problem found, each `<path> <value> <rule>`; thrown once, before anything is registered. */
export class MacvlanConfigError extends Error {
    readonly problems: readonly string[];
    constructor(problems: readonly string[], header?: string) {
        super(formatProblems(problems, header));
        this.name = "MacvlanConfigError";
        this.problems = Object.freeze([...problems]);
    }
}

/** The error message: a header line, then one problem per line, indented. */
export function formatProblems(problems: readonly string[], header?: string): string {
    const n = problems.length;
    const head = header ?? `macvlan stack config has ${n} problem${n === 1 ? "" : "s"}:`;
    return [head, ...problems.map((p) => `  ${p}`)].join("\n");
}
