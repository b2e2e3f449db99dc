/**
 * Reading the static shell of the host scripts: the `.sh` files under components/host/lib/ and
 * components/host/kinds/, read once when their module loads (the build copies them next to the
 * compiled modules, see scripts/build.ts). Pure apart from that read: no resource imports.
 *
 * The format of such a file, so editors and shellcheck read it as sh while the rendered scripts
 * carry only what they need:
 *
 *     # shellcheck shell=sh          <- line 1, always
 *     # What the file is for ...     <- the header: comment lines up to the first empty line,
 *                                       not rendered
 *     <body>                         <- rendered as it is, without the file's last newline
 *
 * A body may be cut into parts: a line `#@ <name>` (or `#@ <name>: <what it is>`) starts the part
 * `<name>` and is not rendered; a part's trailing empty lines are not rendered either (they only
 * separate the parts in the file). Everything else, comments included, is rendered byte for byte.
 * The shell itself follows the rules of every generated script: POSIX sh, no backslash (wrapSh
 * refuses it), values only from the variables the renderer assigns first.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";

/** First line of every static shell file: tells shellcheck (and editors) the dialect. */
export const SHELL_FILE_FIRST_LINE = "# shellcheck shell=sh";

const PART_RE = /^#@ ([a-z]+)(?::.*)?$/;

/** Reads `rel` (relative to components/host/) as a string, exactly. */
export function readHostFile(rel: string): string {
    return readFileSync(path.join(__dirname, rel), "utf8");
}

/** The lines of a static shell file's body (header dropped); throws naming the file when malformed. */
function bodyLines(rel: string, text: string): string[] {
    const fail = (why: string) => new Error(`components/host/${rel}: ${why}`);
    if (!text.endsWith("\n")) throw fail("does not end with a newline");
    const lines = text.slice(0, -1).split("\n");
    if (lines[0] !== SHELL_FILE_FIRST_LINE) throw fail(`line 1 must be "${SHELL_FILE_FIRST_LINE}"`);
    const blank = lines.indexOf("");
    if (blank < 0) throw fail("has no empty line ending its header");
    const bad = lines.slice(0, blank).findIndex((l) => !l.startsWith("#"));
    if (bad >= 0) throw fail(`line ${bad + 1} of the header is not a comment`);
    return lines.slice(blank + 1);
}

/** The rendered text of a static shell file of one part: its body, without the last newline. */
export function readShellText(rel: string): string {
    return parseShellText(rel, readHostFile(rel));
}

/** readShellText of the text of file `rel` (named in errors). */
export function parseShellText(rel: string, text: string): string {
    const lines = bodyLines(rel, text);
    const marker = lines.findIndex((l) => l.startsWith("#@"));
    if (marker >= 0) throw new Error(`components/host/${rel}: line "${lines[marker]}" marks a part in a file of one part`);
    return lines.join("\n");
}

/**
 * The parts of a static shell file cut by `#@ <name>` lines. `names` lists the parts it may have,
 * in the order they must appear; `required` those it must have. A missing optional part is "".
 */
export function readShellParts<N extends string>(rel: string, names: readonly N[], required: readonly N[] = names): Record<N, string> {
    return parseShellParts(rel, readHostFile(rel), names, required);
}

/** readShellParts of the text of file `rel` (named in errors). */
export function parseShellParts<N extends string>(rel: string, text: string, names: readonly N[], required: readonly N[] = names): Record<N, string> {
    const fail = (why: string) => new Error(`components/host/${rel}: ${why}`);
    const lines = bodyLines(rel, text);
    const parts = new Map<string, string[]>();
    let current: string[] | undefined;
    for (const line of lines) {
        if (line.startsWith("#@")) {
            const name = PART_RE.exec(line)?.[1];
            if (name === undefined || !(names as readonly string[]).includes(name)) throw fail(`"${line}" is not one of its parts: ${names.join(", ")}`);
            if (parts.has(name)) throw fail(`part ${name} appears twice`);
            current = [];
            parts.set(name, current);
        } else if (current === undefined) {
            throw fail("its body must start with a #@ line");
        } else {
            current.push(line);
        }
    }
    const order = [...parts.keys()];
    const expected = names.filter((n) => parts.has(n));
    if (order.join() !== expected.join()) throw fail(`parts must come in the order ${names.join(", ")}`);
    const out = {} as Record<N, string>;
    for (const n of names) {
        const got = parts.get(n);
        if (got === undefined && required.includes(n)) throw fail(`has no part ${n}`);
        const body = [...(got ?? [])];
        while (body.length > 0 && body[body.length - 1] === "") body.pop();
        if (got !== undefined && body.length === 0) throw fail(`part ${n} is empty`);
        out[n] = body.join("\n");
    }
    return out;
}
