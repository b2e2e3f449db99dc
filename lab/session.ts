/**
 * The machine-wide session lock: one process uses the lab at a time (see labUp, labDown,
 * releaseLab in lab.ts).
 */
import * as fs from "node:fs";
import { alive, cmdline, processToken, sleep } from "./proc";
import { LOCK_FILE } from "./types";

/**
 * One process uses the lab at a time on this machine: labUp and labDown take a machine-wide
 * session lock (a file holding the owner's pid and start time) and keep it until the process
 * exits or calls releaseLab(). A second test run (another engineer's `npm test`) waits for the
 * first instead of tearing down or rebuilding the lab under it. A lock whose owner is gone is
 * taken over. Within one process, lab operations run one after another.
 */
const SESSION_WAIT_MS = Number(process.env.MVL_LAB_WAIT_MS ?? 20 * 60_000);
let sessionToken: string | undefined;
let queue: Promise<unknown> = Promise.resolve();

/** Run `fn` holding the session lock, after this process's earlier lab operations. */
export function withSession<T>(log: ((l: string) => void) | undefined, fn: () => Promise<T>): Promise<T> {
    const next = queue.then(async () => {
        await acquireSession(log);
        return fn();
    });
    queue = next.catch(() => undefined);
    return next;
}

/** Whether this process holds the session lock. */
export function holdsSession(): boolean {
    return sessionToken !== undefined;
}

/** The live process holding the lab, other than this one, if any. */
export function sessionOwner(): { pid: number; cmd: string } | undefined {
    let token: string;
    try {
        token = fs.readFileSync(LOCK_FILE, "utf8").trim();
    } catch {
        return undefined;
    }
    const pid = Number(token.split(" ")[0]);
    if (pid === process.pid || !alive(pid) || processToken(pid) !== token) return undefined;
    return { pid, cmd: cmdline(pid) };
}

async function acquireSession(log: ((l: string) => void) | undefined): Promise<void> {
    const me = processToken(process.pid) ?? `${process.pid} 0`;
    if (sessionToken === me && fs.existsSync(LOCK_FILE)) return;
    const deadline = Date.now() + SESSION_WAIT_MS;
    let announced = false;
    for (;;) {
        try {
            fs.writeFileSync(LOCK_FILE, me, { flag: "wx", mode: 0o600 });
            sessionToken = me;
            process.once("exit", releaseLab);
            return;
        } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        }
        const owner = sessionOwner();
        if (!owner) {
            fs.rmSync(LOCK_FILE, { force: true }); // its owner is gone
            continue;
        }
        if (Date.now() > deadline) {
            throw new Error(`the lab is in use by pid ${owner.pid} (${owner.cmd}); waited ${SESSION_WAIT_MS} ms (MVL_LAB_WAIT_MS)`);
        }
        if (!announced) {
            const line = `the lab is in use by pid ${owner.pid} (${owner.cmd.slice(0, 120)}): waiting for it to finish`;
            if (log) log(line);
            else process.stderr.write(`lab: ${line}\n`);
            announced = true;
        }
        await sleep(500);
    }
}

/** Let other processes use the lab (also done automatically when this process exits). */
export function releaseLab(): void {
    if (sessionToken === undefined) return;
    try {
        if (fs.readFileSync(LOCK_FILE, "utf8") === sessionToken) fs.rmSync(LOCK_FILE);
    } catch {
        /* gone */
    }
    sessionToken = undefined;
}
