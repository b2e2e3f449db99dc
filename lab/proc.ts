/**
 * Process helpers for the lab: run a program (never through a shell string), start a detached
 * daemon, poll for readiness. Every argument is an argv element; nothing here builds shell text.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";

/** The environment given to every program the lab starts: nothing inherited from npm or Node. */
export const CLEAN_ENV: Readonly<Record<string, string>> = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    LANG: "C.UTF-8",
    HOME: "/root",
};

export interface RunResult {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

export interface RunOptions {
    /** Written to the program's stdin (then closed). */
    readonly input?: string | Buffer;
    /** Kill the program (SIGKILL) after this long; the result then has code 124. Default 120 s. */
    readonly timeoutMs?: number;
    /** Resolve with a non-zero code instead of rejecting. */
    readonly allowFail?: boolean;
    readonly env?: Readonly<Record<string, string | undefined>>;
}

export class RunError extends Error {
    constructor(
        readonly argv: readonly string[],
        readonly result: RunResult,
    ) {
        super(
            `command failed (exit ${result.code}): ${argv.join(" ")}\n${tail(result.stderr || result.stdout, 2000)}`,
        );
    }
}

/** Run `cmd args…` and collect its output. Rejects on a non-zero exit unless `allowFail`. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(cmd, args, { env: { ...(opts.env ?? CLEAN_ENV) }, stdio: ["pipe", "pipe", "pipe"] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        let timedOut = false;
        const timer = setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
        }, opts.timeoutMs ?? 120_000);
        child.stdout.on("data", (b: Buffer) => out.push(b));
        child.stderr.on("data", (b: Buffer) => err.push(b));
        child.on("error", (e) => {
            clearTimeout(timer);
            reject(new Error(`cannot run ${cmd}: ${e.message}`));
        });
        child.on("close", (code, signal) => {
            clearTimeout(timer);
            const stderr = Buffer.concat(err).toString("utf8") + (timedOut ? `\n(killed after ${opts.timeoutMs ?? 120_000} ms)` : "");
            const result: RunResult = {
                code: timedOut ? 124 : (code ?? (signal ? 128 : 1)),
                stdout: Buffer.concat(out).toString("utf8"),
                stderr,
            };
            if (result.code !== 0 && !opts.allowFail) reject(new RunError([cmd, ...args], result));
            else resolve(result);
        });
        child.stdin.on("error", () => undefined); // the program may exit without reading its input
        child.stdin.end(opts.input ?? "");
    });
}

/**
 * Start a long-lived program in its own session (so it outlives this Node process and no terminal
 * signal reaches it), stdout and stderr appended to `logPath`. Returns its pid.
 */
export function spawnDetached(
    cmd: string,
    args: readonly string[],
    logPath: string,
    env: Readonly<Record<string, string>> = CLEAN_ENV,
): number {
    const fd = fs.openSync(logPath, "a", 0o600);
    try {
        const child = spawn(cmd, args, { detached: true, stdio: ["ignore", fd, fd], env: { ...env } });
        child.on("error", () => undefined); // surfaced by the caller's readiness wait and the log
        child.unref();
        if (child.pid === undefined) throw new Error(`cannot start ${cmd} (see ${logPath})`);
        return child.pid;
    } finally {
        fs.closeSync(fd);
    }
}

/**
 * `<pid> <start time>` of a process (field 22 of /proc/<pid>/stat), or undefined when there is none:
 * names one process even after its pid is reused (pid_max is often 32768, and the tests start
 * thousands of processes).
 */
export function processToken(pid: number): string | undefined {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return `${pid} ${stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]}`; // field 22: start time
    } catch {
        return undefined;
    }
}

/** True when `pid` names a live (not zombie) process. */
export function alive(pid: number | undefined): boolean {
    if (!pid) return false;
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
        return state !== "Z" && state !== "X";
    } catch {
        return false;
    }
}

/** A process's command line, arguments joined with spaces ("" when it is gone). */
export function cmdline(pid: number): string {
    try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
    } catch {
        return "";
    }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Poll `probe` until it returns a value other than undefined; throw `what` with the last detail
 * after `timeoutMs`. `probe` may throw to abort at once (e.g. the daemon died).
 */
export async function waitFor<T>(
    what: string,
    timeoutMs: number,
    probe: () => Promise<T | undefined> | T | undefined,
    intervalMs = 100,
): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = await probe();
        if (v !== undefined) return v;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await sleep(intervalMs);
    }
}

/** The last `max` characters of a text (log tails in error messages). */
export function tail(text: string, max = 1500): string {
    return text.length > max ? "…" + text.slice(text.length - max) : text;
}

export function readTail(path: string, max = 1500): string {
    try {
        return tail(fs.readFileSync(path, "utf8"), max);
    } catch {
        return "(no log)";
    }
}

/** POSIX shell single-quoting, for the few scripts the lab renders from its own constants. */
export function shq(s: string): string {
    return "'" + s.replace(/'/g, "'\\''") + "'";
}
