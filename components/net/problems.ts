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

/** The error message: a header line (`<subject> has N problems:`), then one problem per line, indented. */
export function formatProblems(problems: readonly string[], header?: string): string {
    return [header ?? problemsHeader("macvlan stack config", problems.length), ...problems.map((p) => `  ${p}`)].join("\n");
}

function problemsHeader(subject: string, n: number): string {
    return `${subject} has ${n} problem${n === 1 ? "" : "s"}:`;
}

/** The MacvlanConfigError of one named thing: `MacvlanHost node1 has 2 problems:` and the problems. */
export function problemsOf(subject: string, problems: readonly string[]): MacvlanConfigError {
    return new MacvlanConfigError(problems, problemsHeader(subject, problems.length));
}
