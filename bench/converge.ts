/**
 * Host convergence against Ansible (issue 11 item 3): `npm run bench:converge` (needs root, the
 * lab and Debian's `ansible`; not part of `npm test`).
 *
 * Against the lab's netns hosts node1..node3 (untagged settings: promisc, ip_forward, a shim with
 * two routes each), per run and per tool:
 *   a) fresh: a host as the lab built it → the desired state;
 *   b) no-op: the same again on an unchanged host;
 *   c) drift: `ip link set dev eth0 promisc off` by hand on node1, then converge again.
 * Ours: index.ts under the test mocks with the REAL drift probe (one ssh2 session per host), then
 * exactly the registered remote commands that are new or whose text changed, one SSH session each
 * (bench/converge/engine.ts, as test/system/macvlanHost.ssh.test.ts). Ansible: the playbook
 * bench/ansible/macvlan-host.yml, with an inventory generated in a temp dir, the lab's key and
 * known_hosts (strict host key checking), counted through an `ssh` wrapper that logs each
 * invocation; twice: ControlPersist off (each session its own TCP connection) and Ansible's
 * own ssh defaults (ControlMaster=auto, ControlPersist=60s; the masters are closed after each run,
 * so every run starts cold as a CI job would).
 * Between runs each host is reset (ours: the component's own delete scripts; Ansible: a reset
 * script over the lab's ssh) and checked against its snapshot from before (test/support/hostState).
 * The QEMU guests (VLAN sub-interfaces) are left out: see the README.
 *
 * Environment: BENCH_RUNS (default 5).
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Client } from "ssh2";
import { program, Stack } from "./converge/engine";
import { countSessions, median, parseRecap, renderAnsibleCfg, renderInventory, renderSshWrapper, renderTable, type AnsibleSshMode, type InventoryHost, type Row } from "./converge/report";
import { hostChanges, labExec, labUp, releaseLab, requireRoot, type Lab, type LabHost } from "../lab/lab";
import { diffViews, exactView, snapshot, type HostSnapshot } from "../test/support/hostState";

const HOSTS = ["node1", "node2", "node3"] as const;
const DRIFT_HOST = "node1";
const SHIM = "macvlan-shim";
/** Per host: the shim address and the two pinned "containers" routed through it (outside the ipRange 198.18.0.192/27; none is made: only the host settings are applied). */
const ADDR: Readonly<Record<string, { shim: string; cts: readonly string[] }>> = {
    node1: { shim: "198.18.0.241", cts: ["198.18.0.231", "198.18.0.232"] },
    node2: { shim: "198.18.0.242", cts: ["198.18.0.233", "198.18.0.234"] },
    node3: { shim: "198.18.0.243", cts: ["198.18.0.235", "198.18.0.236"] },
};
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const PLAYBOOK = path.resolve(__dirname, "ansible/macvlan-host.yml");
const ANSIBLE_MODES: readonly AnsibleSshMode[] = [
    { name: "ansible (ControlPersist off)", control: "off" },
    { name: "ansible (ssh defaults: ControlPersist 60s)", control: "defaults" },
];
const OURS = "pulumi-macvlan";

const log = (l: string): void => void process.stdout.write(`${l}\n`);

// ---------------------------------------------------------------------------------------------
// Preconditions, said loudly

function fail(msg: string): never {
    process.stderr.write(`\nbench:converge cannot run: ${msg}\n\n`);
    process.exit(2);
}

function preconditions(): void {
    try {
        requireRoot();
    } catch (e) {
        fail(`${(e as Error).message}\nThe benchmark applies host settings to the lab's hosts: run it as root, e.g. \`sudo npm run bench:converge\`.`);
    }
    if (!fs.existsSync("/usr/bin/ansible-playbook")) {
        fail("ansible-playbook is not installed. Install Debian's Ansible 7 (with its bundled collections): `apt-get install -y ansible`.");
    }
    if (!fs.existsSync("/usr/lib/python3/dist-packages/ansible_collections/ansible/posix")) {
        fail("the ansible.posix collection is missing: install Debian's `ansible` package (not only `ansible-core`).");
    }
}

// ---------------------------------------------------------------------------------------------
// SSH sessions opened by this process (the probe and the remote commands both use ssh2)

let ourSessions = 0;
{
    const proto = Client.prototype as unknown as { connect: (...a: unknown[]) => unknown };
    const connect = proto.connect;
    proto.connect = function (this: unknown, ...a: unknown[]): unknown {
        ourSessions++;
        return connect.apply(this, a);
    };
}

// ---------------------------------------------------------------------------------------------
// The stack and the inventory

function labHostOf(lab: Lab, name: string): LabHost {
    const h = lab.hosts.find((x) => x.name === name);
    if (h === undefined) throw new Error(`the lab has no host ${name} (it has ${lab.hosts.map((x) => x.name).join(", ")})`);
    if (h.kind !== "netns") throw new Error(`${name} is not a netns host`);
    return h;
}

function stackConfig(lab: Lab): Record<string, unknown> {
    return {
        "macvlan:sshPrivateKeyPath": lab.privateKeyPath,
        "macvlan:hosts": HOSTS.map((n) => {
            const h = labHostOf(lab, n);
            return { name: n, address: h.address, port: h.port, user: h.user, hostKey: h.hostKey, parent: h.parent, promisc: true, ipForward: true, shim: { address: ADDR[n].shim } };
        }),
        "macvlan:networks": [
            {
                name: "bench_lan",
                subnet: "198.18.0.0/24",
                gateway: "198.18.0.1",
                ipRange: "198.18.0.192/27",
                sliceSize: 29,
                slices: Object.fromEntries(HOSTS.map((n, i) => [n, i])),
                hosts: [...HOSTS],
                containers: HOSTS.flatMap((n) => ADDR[n].cts.map((ip, i) => ({ name: `${n}-ct${i + 1}`, host: n, image: "local/busybox:1", ip }))),
            },
        ],
    };
}

function inventoryHosts(lab: Lab): InventoryHost[] {
    return HOSTS.map((n) => {
        const h = labHostOf(lab, n);
        return { name: n, address: h.address, port: h.port, user: h.user, parent: h.parent, shimLink: SHIM, shimAddress: `${ADDR[n].shim}/32`, routes: ADDR[n].cts.map((c) => `${c}/32`) };
    });
}

// ---------------------------------------------------------------------------------------------
// Host state

async function sh(host: string, script: string): Promise<string> {
    const r = await labExec(host, script, { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`${host}: exit ${r.code} from ${JSON.stringify(script.slice(0, 200))}\n${r.stderr}`);
    return r.stdout;
}

async function snapshots(): Promise<Record<string, HostSnapshot>> {
    const list = await Promise.all(HOSTS.map((h) => snapshot(h)));
    return Object.fromEntries(list.map((s) => [s.host, s]));
}

/** Every host exactly as in `before` (hostState's exactView) and as the lab built it (hostChanges). */
async function assertBack(before: Record<string, HostSnapshot>, after: string): Promise<void> {
    const now = await snapshots();
    const problems: string[] = [];
    for (const h of HOSTS) {
        const d = diffViews(exactView(before[h]), exactView(now[h]));
        if (d.length > 0) problems.push(`${h} after ${after} differs from before (- before, + now):\n${d.slice(0, 20).join("\n")}`);
        const c = await hostChanges(h);
        if (c.length > 0) problems.push(`${h} after ${after} is not as the lab built it:\n${c.slice(0, 20).join("\n")}`);
    }
    if (problems.length > 0) throw new Error(problems.join("\n"));
}

/** Undoes what the playbook did (not measured): routes, shim, promisc, forwarding, its files. */
function ansibleResetScript(h: InventoryHost): string {
    return [
        ...h.routes.map((r) => `ip route del ${r} dev ${h.shimLink} 2>/dev/null`),
        `ip link del ${h.shimLink} 2>/dev/null`,
        `ip link set dev ${h.parent} promisc off`,
        "echo 0 > /proc/sys/net/ipv4/ip_forward",
        "rm -f /etc/sysctl.d/90-macvlan-bench.conf /etc/systemd/system/multi-user.target.wants/macvlan-bench.service /etc/systemd/system/macvlan-bench.service",
        "rm -rf /etc/macvlan-bench",
        "rmdir /etc/systemd/system/multi-user.target.wants 2>/dev/null",
        "true",
    ].join("; ");
}

// ---------------------------------------------------------------------------------------------
// Ansible

interface AnsibleEnv {
    readonly dir: string;
    readonly cfg: (m: AnsibleSshMode) => string;
    readonly sshLog: string;
    readonly controlDir: string;
}

function ansibleEnv(lab: Lab): AnsibleEnv {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pm-bench-ansible-"));
    const inventory = path.join(dir, "inventory.yml");
    fs.writeFileSync(inventory, renderInventory(inventoryHosts(lab), lab.privateKeyPath));
    const sshLog = path.join(dir, "ssh.log");
    const wrapper = path.join(dir, "bin", "ssh");
    fs.mkdirSync(path.dirname(wrapper));
    fs.writeFileSync(wrapper, renderSshWrapper("/usr/bin/ssh", sshLog), { mode: 0o755 });
    const controlDir = path.join(dir, "cp");
    fs.mkdirSync(controlDir, { mode: 0o700 });
    const knownHosts = path.join(path.dirname(lab.privateKeyPath), "known_hosts");
    return {
        dir,
        sshLog,
        controlDir,
        cfg: (mode) => {
            const p = path.join(dir, `ansible-${mode.control}.cfg`);
            fs.writeFileSync(p, renderAnsibleCfg({ inventory, sshExecutable: wrapper, knownHosts, controlDir, mode, remoteTmp: "/tmp/.ansible-bench", localTmp: path.join(dir, "local-tmp") }));
            return p;
        },
    };
}

interface AnsibleRun {
    readonly ms: number;
    readonly sessions: number;
    readonly changed: number;
}

function runPlaybook(env: AnsibleEnv, mode: AnsibleSshMode): Promise<AnsibleRun> {
    fs.writeFileSync(env.sshLog, "");
    const cfg = env.cfg(mode);
    return new Promise((resolve, reject) => {
        const t0 = Date.now();
        const p = spawn("ansible-playbook", [PLAYBOOK], {
            // HOME: Ansible makes ~/.ansible even with local_tmp elsewhere; keep it in the run's temp dir.
            env: { ...process.env, HOME: env.dir, ANSIBLE_CONFIG: cfg, ANSIBLE_FORCE_COLOR: "0", ANSIBLE_NOCOLOR: "1" },
            stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        let err = "";
        p.stdout.on("data", (d: Buffer) => (out += d.toString()));
        p.stderr.on("data", (d: Buffer) => (err += d.toString()));
        p.on("close", (code) => {
            const ms = Date.now() - t0;
            const sessions = countSessions(fs.readFileSync(env.sshLog, "utf8"));
            closeMasters(env);
            const recap = parseRecap(out);
            const bad = HOSTS.filter((h) => recap[h] === undefined || recap[h].failed !== 0 || recap[h].unreachable !== 0);
            if (code !== 0 || bad.length > 0) return reject(new Error(`ansible-playbook (${mode.name}) exited ${code}:\n${out.slice(-3000)}\n${err.slice(-2000)}`));
            resolve({ ms, sessions, changed: HOSTS.reduce((n, h) => n + recap[h].changed, 0) });
        });
    });
}

/** Ends the ControlPersist masters of a run (not counted: a control request opens no session). */
function closeMasters(env: AnsibleEnv): void {
    for (const f of fs.readdirSync(env.controlDir)) {
        try {
            execFileSync("/usr/bin/ssh", ["-o", `ControlPath=${path.join(env.controlDir, f)}`, "-O", "exit", "lab"], { stdio: "ignore" });
        } catch {
            /* already gone */
        }
    }
}

// ---------------------------------------------------------------------------------------------

interface Samples {
    ms: number[];
    sessions: number[];
    commands: number[];
}
const samples = new Map<string, Samples>();
function record(tool: string, kase: string, ms: number, sessions: number, commands: number): void {
    const k = `${kase}\u0000${tool}`;
    const s = samples.get(k) ?? { ms: [], sessions: [], commands: [] };
    s.ms.push(ms);
    s.sessions.push(sessions);
    s.commands.push(commands);
    samples.set(k, s);
}
const extra: string[] = [];

async function oursOnce(config: Record<string, unknown>, before: Record<string, HostSnapshot>, run: number): Promise<void> {
    const stack = new Stack();
    try {
        // a) fresh
        let s0 = ourSessions;
        let t0 = Date.now();
        let p = await program(config);
        const ranFresh = await stack.up(p.plan);
        record(OURS, "a) fresh", Date.now() - t0, ourSessions - s0, ranFresh.length);
        extra.push(`run ${run} ours fresh: program ${p.ms} ms (probe span ${p.probeMs} ms, ${p.probes} probes), ${ranFresh.length} commands`);

        // b) no-op: the probe, then nothing to run (every registered text is the one applied)
        s0 = ourSessions;
        t0 = Date.now();
        p = await program(config);
        const changedNoop = stack.changed(p.plan);
        const ranNoop = await stack.up(p.plan);
        record(OURS, "b) no-op", Date.now() - t0, ourSessions - s0, ranNoop.length);
        if (changedNoop.length > 0) throw new Error(`no-op: the probe changed the text of ${changedNoop.join(", ")}`);
        extra.push(`run ${run} ours no-op: program ${p.ms} ms (probe span ${p.probeMs} ms, ${p.probes} probes), changed commands: none`);

        // c) drift: promisc off by hand on one host (not measured), then probe + the one update
        await sh(DRIFT_HOST, "ip link set dev eth0 promisc off");
        s0 = ourSessions;
        t0 = Date.now();
        p = await program(config);
        const changedDrift = stack.changed(p.plan);
        const ranDrift = await stack.up(p.plan);
        record(OURS, "c) repair one drift", Date.now() - t0, ourSessions - s0, ranDrift.length);
        if (changedDrift.join() !== `${DRIFT_HOST}-promisc`) throw new Error(`drift: expected only ${DRIFT_HOST}-promisc to change, got ${changedDrift.join(", ")}`);
        const flags = await sh(DRIFT_HOST, "ip -o link show dev eth0");
        if (!flags.includes("PROMISC")) throw new Error(`drift: ${DRIFT_HOST} eth0 is not promiscuous after the update`);
    } finally {
        await stack.destroy();
    }
    await assertBack(before, `ours run ${run} and its destroy`);
}

async function ansibleOnce(env: AnsibleEnv, mode: AnsibleSshMode, inv: readonly InventoryHost[], before: Record<string, HostSnapshot>, run: number): Promise<void> {
    try {
        const fresh = await runPlaybook(env, mode);
        record(mode.name, "a) fresh", fresh.ms, fresh.sessions, fresh.changed);
        const noop = await runPlaybook(env, mode);
        record(mode.name, "b) no-op", noop.ms, noop.sessions, noop.changed);
        if (noop.changed !== 0) throw new Error(`${mode.name} no-op reported changed=${noop.changed}`);
        await sh(DRIFT_HOST, "ip link set dev eth0 promisc off");
        const drift = await runPlaybook(env, mode);
        record(mode.name, "c) repair one drift", drift.ms, drift.sessions, drift.changed);
        if (drift.changed !== 1) throw new Error(`${mode.name} drift reported changed=${drift.changed}, expected 1`);
    } finally {
        await Promise.all(inv.map((h) => sh(h.name, ansibleResetScript(h))));
    }
    await assertBack(before, `${mode.name} run ${run} and its reset`);
}

async function main(): Promise<void> {
    preconditions();
    log("bench:converge: waiting for the lab (labUp; another run may hold it for minutes: waiting is normal)…");
    const lab = await labUp({ log: (l) => log(`  lab: ${l}`) });
    let tmp: string | undefined;
    try {
        const config = stackConfig(lab);
        const inv = inventoryHosts(lab);
        for (const h of HOSTS) {
            const c = await hostChanges(h);
            if (c.length > 0) throw new Error(`${h} is not as the lab built it before the benchmark:\n${c.join("\n")}`);
        }
        const before = await snapshots();
        const env = ansibleEnv(lab);
        tmp = env.dir;

        // Cold start of the program (module loading, TypeScript compile by tsx), measured once, probe off.
        const tCold = Date.now();
        await program({ ...config, "macvlan:probe": "false" });
        const coldMs = Date.now() - tCold;
        const ansVer = execFileSync("ansible", ["--version"], { encoding: "utf8", env: { ...process.env, HOME: env.dir } }).split("\n")[0];

        for (let run = 1; run <= RUNS; run++) {
            log(`run ${run}/${RUNS}: ours`);
            await oursOnce(config, before, run);
            for (const mode of ANSIBLE_MODES) {
                log(`run ${run}/${RUNS}: ${mode.name}`);
                await ansibleOnce(env, mode, inv, before, run);
            }
        }

        const rows: Row[] = [];
        for (const kase of ["a) fresh", "b) no-op", "c) repair one drift"]) {
            for (const tool of [OURS, ...ANSIBLE_MODES.map((m) => m.name)]) {
                const s = samples.get(`${kase}\u0000${tool}`);
                if (s !== undefined) rows.push({ tool, kase, ...s });
            }
        }
        log("");
        log(`Host convergence, ${HOSTS.length} lab netns hosts (${HOSTS.join(", ")}) in parallel; ${RUNS} runs each; ${new Date().toISOString()}`);
        log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? "?"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${ansVer}`);
        log(`ours: program cold start (first evaluation in a new process, probe off): ${coldMs} ms, not in the figures below`);
        log("sessions: SSH sessions opened, all hosts together; commands/changed: ours = registered commands run, Ansible = tasks reporting changed");
        log(renderTable(rows, OURS));
        const goal = (kase: string, tool: string): string => {
            const o = median(samples.get(`${kase}\u0000${OURS}`)?.ms ?? []);
            const a = median(samples.get(`${kase}\u0000${tool}`)?.ms ?? []);
            return `${kase} vs ${tool}: ${(a / o).toFixed(1)}x ${a / o >= 5 ? "(goal 5x met)" : "(goal 5x NOT met)"}`;
        };
        for (const m of ANSIBLE_MODES) for (const k of ["a) fresh", "b) no-op"]) log(goal(k, m.name));
        const noopSessions = samples.get(`b) no-op\u0000${OURS}`)?.sessions ?? [];
        log(`no-op sessions per host (ours): ${noopSessions.map((n) => n / HOSTS.length).join(", ")} (goal: 1, the probe, and no command)`);
        if (process.env.BENCH_VERBOSE === "1") for (const l of extra) log(l);
    } finally {
        if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
        releaseLab();
    }
}

main().then(
    () => process.exit(0),
    (e: unknown) => {
        process.stderr.write(`bench:converge failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
        releaseLab();
        process.exit(1);
    },
);
