/**
 * Finding and removing the lab by name prefix and location, with or without a state file:
 * teardown (what labDown and a rebuild run) and findLeftovers (what `lab:status` and the tests of
 * labDown report).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { QEMU } from "./guest";
import { alive, cmdline, run, sleep } from "./proc";
import { holdsSession, sessionOwner } from "./session";
import { readState } from "./state";
import { LAB_DIR, LAB_PREFIX, LOCK_FILE } from "./types";

/** What labDown looks for; empty lists mean nothing of the lab is left on the machine. */
export interface LabLeftovers {
    readonly netns: string[];
    readonly links: string[];
    readonly processes: { pid: number; cmd: string }[];
    readonly mounts: string[];
    readonly cgroups: string[];
    readonly files: string[];
}

/** Everything of the lab still on the machine (for tests of labDown, and for `lab:status`). */
export async function findLeftovers(): Promise<LabLeftovers> {
    const netns = await labNetns();
    const links = await rootLinks();
    const processes = (await labProcesses(netns)).map((pid) => ({ pid, cmd: cmdline(pid) }));
    const mounts = labMounts();
    const cgroups = labCgroups();
    const files = [LAB_DIR].filter((f) => fs.existsSync(f));
    if (fs.existsSync(LOCK_FILE) && !holdsSession() && !sessionOwner()) files.push(LOCK_FILE);
    return { netns, links, processes, mounts, cgroups, files };
}

// ---------------------------------------------------------------------------------------------
// Teardown: by prefix and location, with or without a state file

export async function teardown(log: (l: string) => void): Promise<void> {
    const st = readState();
    // 1. Processes: everything in a lab netns (daemons, sshd sessions, containerd shims, QEMU
    //    guests, which run in the switch netns), containers (cgroups under /mvl-*), and any guest
    //    kernel started from the lab dir. SIGKILL: nothing of theirs needs to survive.
    for (let round = 0; round < 50; round++) {
        const pids = await labProcesses(await labNetns());
        if (pids.length === 0) break;
        if (round === 0) log(`killing ${pids.length} lab processes`);
        for (const pid of pids) {
            try {
                process.kill(pid, "SIGKILL");
            } catch {
                /* already gone */
            }
        }
        await sleep(100);
        if (round === 49) throw new Error(`lab processes survive SIGKILL: ${pids.join(" ")}`);
    }
    // 2. Cgroups the engines made for their containers.
    for (let round = 0; ; round++) {
        const left = labCgroups();
        if (left.length === 0) break;
        for (const dir of left) rmdirTree(dir);
        if (round >= 20) throw new Error(`cannot remove lab cgroups: ${labCgroups().join(" ")}`);
        await sleep(100);
    }
    // 3. Network namespaces (the switch's takes the bridge, the ports and the taps with it; veth
    //    peers go with their other end), then any lab link left in the machine's namespace.
    for (const ns of await labNetns()) await run("/usr/sbin/ip", ["netns", "del", ns], { allowFail: true });
    for (const l of await rootLinks()) await run("/usr/sbin/ip", ["link", "del", l], { allowFail: true });
    // 4. Mounts in the machine's namespace under the lab dir (none are expected: hosts mount in
    //    their own namespaces), then the files.
    for (const m of labMounts().reverse()) await run("/usr/bin/umount", ["-l", m], { allowFail: true });
    // SSH clients started while the links went away (e.g. a Docker helper of another process).
    for (const pid of await labProcesses([])) {
        try {
            process.kill(pid, "SIGKILL");
        } catch {
            /* gone */
        }
    }
    if (labMounts().length > 0) throw new Error(`lab mounts left: ${labMounts().join(" ")}`);
    fs.rmSync(LAB_DIR, { recursive: true, force: true });
    // 5. /run/netns, when the lab created it and nothing else uses it now.
    if (st && !st.runNetnsPreexisting) {
        try {
            if (fs.readdirSync("/run/netns").length === 0) {
                while (isMountPoint("/run/netns")) {
                    if ((await run("/usr/bin/umount", ["/run/netns"], { allowFail: true })).code !== 0) break;
                }
                fs.rmdirSync("/run/netns");
            }
        } catch {
            /* not there, or in use */
        }
    }
}

/** The lab's network namespaces (the switch's and the netns hosts'). */
export async function labNetns(): Promise<string[]> {
    const r = await run("/usr/sbin/ip", ["netns", "list"], { allowFail: true });
    return r.stdout
        .split("\n")
        .map((l) => l.trim().split(/\s+/)[0] ?? "")
        .filter((n) => n.startsWith(`${LAB_PREFIX}-`));
}

/** Lab links in the machine's own network namespace (the router link). */
async function rootLinks(): Promise<string[]> {
    const r = await run("/usr/sbin/ip", ["-j", "link", "show"]);
    return (JSON.parse(r.stdout) as { ifname: string }[]).map((l) => l.ifname).filter((n) => n.startsWith(LAB_PREFIX));
}

/** Guest kernels of the lab, and SSH clients using its config (useless once the hosts are gone). */
const LAB_EXES = new Set([QEMU, "/usr/bin/ssh"]);

/** Live processes of the lab: in a lab netns, in a lab cgroup, a guest kernel or an SSH client of the lab. */
async function labProcesses(netns: readonly string[]): Promise<number[]> {
    const found = new Set<number>();
    for (const ns of netns) {
        const r = await run("/usr/sbin/ip", ["netns", "pids", ns], { allowFail: true });
        for (const t of r.stdout.split(/\s+/)) if (/^\d+$/.test(t)) found.add(Number(t));
    }
    for (const d of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(d)) continue;
        const pid = Number(d);
        try {
            const cg = fs.readFileSync(`/proc/${d}/cgroup`, "utf8");
            if (new RegExp(`:/${LAB_PREFIX}-[^/\\n]*(/|$)`, "m").test(cg)) found.add(pid);
            else if (LAB_EXES.has(fs.readlinkSync(`/proc/${d}/exe`)) && cmdline(pid).includes(`${LAB_DIR}/`)) found.add(pid);
        } catch {
            /* gone, or a kernel thread */
        }
    }
    found.delete(process.pid);
    return [...found].filter((pid) => alive(pid)).sort((a, b) => a - b);
}

/** Mount points in the machine's namespace (ours) that belong to the lab. */
function labMounts(): string[] {
    return fs
        .readFileSync("/proc/self/mountinfo", "utf8")
        .split("\n")
        .map((l) => (l.split(" ")[4] ?? "").replace(/\\040/g, " "))
        .filter((m) => m === LAB_DIR || m.startsWith(LAB_DIR + "/") || m.startsWith(`/run/netns/${LAB_PREFIX}-`));
}

function isMountPoint(dir: string): boolean {
    return fs
        .readFileSync("/proc/self/mountinfo", "utf8")
        .split("\n")
        .some((l) => l.split(" ")[4] === dir);
}

/** Top-level cgroup directories named mvl-* in every mounted cgroup hierarchy. */
function labCgroups(): string[] {
    const roots = new Set(
        fs
            .readFileSync("/proc/self/mountinfo", "utf8")
            .split("\n")
            .filter((l) => / - cgroup2? /.test(l))
            .map((l) => l.split(" ")[4] ?? ""),
    );
    const out: string[] = [];
    for (const r of roots) {
        try {
            for (const e of fs.readdirSync(r, { withFileTypes: true })) {
                if (e.isDirectory() && e.name.startsWith(`${LAB_PREFIX}-`)) out.push(path.join(r, e.name));
            }
        } catch {
            /* unreadable hierarchy */
        }
    }
    return out;
}

/** rmdir a cgroup directory and its child cgroups (their files are not removable, nor need be). */
function rmdirTree(dir: string): void {
    try {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmdirTree(path.join(dir, e.name));
        fs.rmdirSync(dir);
    } catch {
        /* busy: retried */
    }
}
