/**
 * Shell quoting and the strict checks every value passes before it reaches a shell. Pure: no
 * resource imports. The rule for every generated script: a value is first checked against a strict
 * pattern (so it holds no quote, `$`, backtick, backslash, newline, NUL or space) and then placed
 * in single quotes with `shq`. Either step alone would do; both together mean a mistake in one is
 * not yet an injection.
 */
import { parseCidr } from "../net/addr";
import { MacvlanConfigError } from "../net/problems";
import { HOST_NAME_RE, HOST_NAME_RULE, IFNAME_RULE, ifNameProblem, isIpv4Literal, isVlanId, VLAN_ID_RULE } from "../net/patterns";

/**
 * A value refused before it could reach a shell. `field` says which input, `value` what it was.
 * A MacvlanConfigError of one problem (the project's one error type), whose message is that
 * problem alone: `<field> <value> <rule>`.
 */
export class ShellValueError extends MacvlanConfigError {
    readonly field: string;
    readonly value: unknown;
    constructor(field: string, value: unknown, rule: string) {
        const problem = `${field} ${printable(value)} ${rule}`;
        super([problem]);
        this.message = problem;
        this.name = "ShellValueError";
        this.field = field;
        this.value = value;
        // The stack's first line was taken with the base class's message: take it again.
        Error.captureStackTrace(this, ShellValueError);
    }
}

/** JSON-ish rendering of a refused value for messages: control characters escaped, long values cut. */
function printable(value: unknown): string {
    const text = typeof value === "string" ? JSON.stringify(value) : String(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * POSIX single-quote quoting: `abc` -> `'abc'`, `it's` -> `'it'\''s'`. Safe for any string that
 * contains no NUL (a shell argument cannot hold one; refused). In every Bourne-family shell (sh,
 * dash, bash, ksh, zsh, busybox ash) the result is one word whose value is exactly `s`.
 */
export function shq(s: string): string {
    if (typeof s !== "string") throw new ShellValueError("shell word", s, "is not a string");
    if (s.includes("\0")) throw new ShellValueError("shell word", s, "contains a NUL byte");
    return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command text that runs `script` with `/bin/sh` whatever the login shell of the remote user
 * is: `/bin/sh -c '<script>'`. The script must hold no backslash and no NUL (refused), which makes
 * the single-quoted word read the same in Bourne-family shells and in fish (whose single quotes
 * give a meaning to `\\` and `\'` only). csh/tcsh refuse newlines inside quotes: not supported as
 * login shells.
 */
export function wrapSh(script: string): string {
    if (script.includes("\\")) throw new ShellValueError("script", firstLineWith(script, "\\"), "contains a backslash (not portable across login shells)");
    if (script.includes("\0")) throw new ShellValueError("script", firstLineWith(script, "\0"), "contains a NUL byte");
    return `/bin/sh -c ${shq(script)}`;
}

/** What may follow `/bin/sh -s` in a command whose script comes on stdin: words of `[A-Za-z0-9_.-]`, not starting with `-`. */
export const SH_STDIN_ARG_RE = /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,99}$/;

/**
 * The command that runs the script sent on its stdin with `/bin/sh`, whatever the login shell of
 * the remote user is: `/bin/sh -s <args…>` (the script sees them as `$1`…). The command stays a
 * few bytes whatever the script's size: sshd passes the command as one argument of the login
 * shell (Linux limits one argument to 128 KiB), while stdin has no limit. Every argument must
 * match SH_STDIN_ARG_RE (so it needs no quoting in any login shell).
 */
export function shStdinCommand(args: readonly string[]): string {
    for (const a of args) {
        if (typeof a !== "string" || !SH_STDIN_ARG_RE.test(a)) throw new ShellValueError("/bin/sh -s argument", a, `must match ${SH_STDIN_ARG_RE.source}`);
    }
    return ["/bin/sh", "-s", ...args].join(" ");
}

/**
 * A script ready to be sent on the stdin of `shStdinCommand`: one brace group whose own stdin is
 * /dev/null. The shell reads the whole group before it runs any of it, so no command in the
 * script can read (and eat) the rest of the script, and a script cut off in transit (a dropped
 * connection) is a syntax error that runs nothing. Refuses a NUL byte or a backslash (the same
 * rules as wrapSh, so a script is the same text either way).
 */
export function stdinScript(script: string): string {
    if (script.includes("\\")) throw new ShellValueError("script", firstLineWith(script, "\\"), "contains a backslash (not portable across login shells)");
    if (script.includes("\0")) throw new ShellValueError("script", firstLineWith(script, "\0"), "contains a NUL byte");
    return `{\n${script.endsWith("\n") ? script : `${script}\n`}} < /dev/null\n`;
}

/** The script inside a `stdinScript` (its inverse); throws when `text` is not one. */
export function unwrapStdin(text: string): string {
    const prefix = "{\n";
    const suffix = "} < /dev/null\n";
    if (!text.startsWith(prefix) || !text.endsWith(suffix)) throw new Error(`not a stdinScript: ${text.slice(0, 40)}`);
    return text.slice(prefix.length, -suffix.length);
}

/** The script inside a `wrapSh` command (its inverse); throws when `cmd` is not one. */
export function unwrapSh(cmd: string): string {
    const prefix = "/bin/sh -c '";
    if (!cmd.startsWith(prefix) || !cmd.endsWith("'") || cmd.length < prefix.length + 1) {
        throw new Error(`not a /bin/sh -c '...' command: ${cmd.slice(0, 40)}`);
    }
    const parts = cmd.slice(prefix.length, -1).split(`'\\''`);
    if (parts.some((p) => p.includes("'"))) throw new Error("not a wrapSh command: a quote outside the '\\'' escape");
    return parts.join("'");
}

function firstLineWith(script: string, needle: string): string {
    return script.split("\n").find((l) => l.includes(needle)) ?? script;
}

/** Host name as used in messages and resource names (HOST_NAME_RE from patterns.ts). */
export function assertHostName(field: string, s: unknown): string {
    if (typeof s !== "string" || !HOST_NAME_RE.test(s)) {
        throw new ShellValueError(field, s, HOST_NAME_RULE);
    }
    return s;
}

/**
 * Linux interface name: `isIfName` from patterns.ts (IFNAME_RE: 1-15 of `[A-Za-z0-9_.-]`, and
 * not `all` or `default`, RESERVED_IFNAMES: the global entries of /proc/sys/net/ipv4/conf).
 */
export function assertIfName(field: string, s: unknown): string {
    const rule = typeof s === "string" ? ifNameProblem(s) : IFNAME_RULE;
    if (rule !== undefined) throw new ShellValueError(field, s, rule);
    return s as string;
}

/** A Pulumi project or stack name as an owner id takes it: 1-100 of `[A-Za-z0-9_.-]`. */
const OWNER_PART = "[A-Za-z0-9_.-]{1,100}";
/**
 * Owner id of a host feature: `<project>/<stack>/<host>` (the host entry's name, HOST_NAME_RE).
 * Recorded on the host by every create, so a machine shared by two stacks or projects knows who
 * holds what, and only the last owner's delete undoes a feature.
 */
export const OWNER_RE = new RegExp(`^${OWNER_PART}/${OWNER_PART}/${HOST_NAME_RE.source.slice(1, -1)}$`);

export function assertOwner(field: string, s: unknown): string {
    if (typeof s !== "string" || !OWNER_RE.test(s)) {
        throw new ShellValueError(field, s, "must be <project>/<stack>/<host>: project and stack 1-100 of A-Z, a-z, 0-9, _, . and -, host a valid host name");
    }
    return s;
}

/** The owner id of a host entry of a stack (checked): `<project>/<stack>/<host>`. */
export function featureOwner(project: string, stack: string, host: string): string {
    return assertOwner("owner", `${project}/${stack}/${host}`);
}

/** 802.1Q VLAN id, an integer 1-4094. */
export function assertVlanId(field: string, n: unknown): number {
    if (!isVlanId(n)) throw new ShellValueError(field, n, VLAN_ID_RULE);
    return n;
}

/** IPv4 host address with a /32 prefix, canonical dotted quad: `198.51.100.250/32`. */
export function assertIpv4Host32(field: string, s: unknown): string {
    if (typeof s !== "string") throw new ShellValueError(field, s, "must be an IPv4 address with /32, like 198.51.100.250/32");
    const slash = s.indexOf("/");
    if (slash < 0 || !isIpv4Literal(s.slice(0, slash)) || s.slice(slash + 1) !== "32") {
        throw new ShellValueError(field, s, "must be an IPv4 address with /32, like 198.51.100.250/32");
    }
    return s;
}

/** IPv4 CIDR in canonical form with no host bits: `198.51.100.12/32`, `198.51.100.0/24` (parsed by addr.ts). */
export function assertIpv4Cidr(field: string, s: unknown): string {
    if (typeof s !== "string") throw new ShellValueError(field, s, "must be an IPv4 CIDR like 198.51.100.0/24");
    const parsed = parseCidr(s, ["ipv4"]);
    if (!parsed.ok) throw new ShellValueError(field, s, parsed.problem);
    if (parsed.value.toString() !== s) throw new ShellValueError(field, s, `must be written canonically: ${parsed.value.toString()}`);
    return s;
}

/**
 * Drift token: what the probe prints for a feature and what its script stores on the host.
 * Starts with a letter or digit (so it is never read as an option), then letters, digits and
 * `:@._,=+-`, at most 200 characters.
 */
export const TOKEN_RE = /^[A-Za-z0-9][A-Za-z0-9:@._,=+-]{0,199}$/;

export function assertToken(field: string, s: unknown): string {
    if (typeof s !== "string" || !TOKEN_RE.test(s)) throw new ShellValueError(field, s, `must match ${TOKEN_RE.source}`);
    return s;
}
