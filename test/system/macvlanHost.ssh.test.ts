/**
 * MacvlanHost proven over REAL SSH on REAL kernels.
 *
 * index.ts runs under the Pulumi mocks (test/support/program.ts `runProgram`) with a stack config built from
 * the running lab (lab/) and the REAL drift probe (`sshProber`: ssh2 to every host). Every
 * `command:remote:Command` it registers is taken from the records — its `create`/`update`/`delete`
 * text and its `connection` exactly as registered — and run over SSH by test/support/engine/command.ts
 * (`runRemote`: ssh2, host key pinned, the text as the exec command) the way the engine would:
 * in dependency order (preflight, then promisc/ipforward/VLANs, then the shim, then its routes;
 * deletes in reverse), a failed command stopping what depends on it, an unchanged command not run
 * at all (`Stack` below is that much of the engine). The hosts' real state is then read over SSH
 * (test/system/hostState.ts: `ip -d -j link`, `ip -j addr`, `ip -j route`, /proc/sys/net, the
 * files with their sha256).
 *
 * Hosts (lab): node1 (netns host, parent eth0: promisc, ip_forward, a shim 198.18.0.250 with a
 * route to the container 198.18.0.201), node2 (netns host whose promisc and ip_forward are ALREADY
 * ON before the first apply, set by hand), vlan1 (QEMU guest with a Debian kernel, parent eth0: promisc,
 * ip_forward, VLANs 50 and 60, a shim 198.18.50.250 on eth0.50 with a route to the container
 * 198.18.50.201), node3 (preflight failures; this machine's kernel has no 802.1Q). A "container"
 * is a bridge-mode macvlan child of the parent (or of eth0.50) in a network namespace made inside
 * the host — what Docker's macvlan driver builds.
 *
 * Cases: 1 fresh apply, 2 the same apply again, 3 drift by hand (probe → the changed command
 * text → update → clean probe), 4 reboot (runtime flushed, the unit's ExecStart alone restores),
 * 5 destroy (byte-for-byte back, the already-on host keeps its settings), 6 a session killed and
 * a connection dropped in the middle of apply scripts, then a re-run, 7 preflight (missing parent
 * NIC, no 802.1Q) changes nothing. The cases build on each other (1-6) and run in order.
 *
 * Needs root and the lab (its Debian packages); fails, never skips, without them. Every host is
 * put back as the lab built it (`after`), also when a case failed; leftovers of a killed run are
 * removed first (labUp rebuilds a lab whose hosts changed; `cleanTestLeftovers` handles what it
 * does not look at). Traffic stays inside the lab (198.18.0.0/15).
 */
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
// The mocks first (importing them sets them), then the code under test.
import "../support/mocks";
import { runProgram } from "../support/program";
import { commandPlan, waves, type Cmd, type Plan } from "../support/commandPlan";
import { isSecretValue } from "../support/records";
import {
    BOOT_RUNNER_TEXT,
    BOOT_UNIT_TEXT,
    bootFragmentPath,
    featureKey,
    featureOwner,
    HOST_PATHS,
    renderBootFragment,
    renderFeature,
    type HostFeature,
} from "../../components/host/scripts";
import { sshProber } from "../../components/stack/probe";
import { unwrapStdin } from "../../components/host/shell";
import { runRemote, type CommandConnection } from "../support/engine/command";
import { hostChanges, labExec, labUp, releaseLab, type Lab, type LabHost } from "../../lab/lab";
import {
    diffViews,
    exactView,
    filesView,
    linkByName,
    LOCK_FILE,
    runtimeView,
    snapshot,
    type HostSnapshot,
} from "../support/hostState";

const log = (l: string): void => void process.stdout.write(`      ssh: ${l}\n`);

// ---------------------------------------------------------------------------------------------
// The hosts, the config and what the component must register

const NODE = "node1";
const PRIOR_ON = "node2";
const GUEST = "vlan1";
const PRE = "node3";
const HOSTS = [NODE, PRIOR_ON, GUEST] as const;
const SHIM = "macvlan-shim";
const IMAGE = "local/busybox:1";

/** The "container" of a host: a bridge-mode macvlan in a network namespace made on the host. */
const CONTAINERS: Readonly<Record<string, { lower: string; ip: string; shim: string }>> = {
    [NODE]: { lower: "eth0", ip: "198.18.0.201", shim: "198.18.0.250" },
    [GUEST]: { lower: "eth0.50", ip: "198.18.50.201", shim: "198.18.50.250" },
};
const CT_NETNS = "pm-ssh-ct";
const CT_LINK = "pmct0";
/** Where case 6 puts its `ip` wrapper on a host. */
const CUT_DIR = "/tmp/pm-ssh-cut";

const NODE_ROUTE = `${NODE}-shim-route-198-18-0-201-32`;
const GUEST_ROUTE = `${GUEST}-shim-route-198-18-50-201-32`;

/** The features each host must get, by command name (hand-written: the expectation, not the code's plan). */
const FEATURES: Readonly<Record<string, Readonly<Record<string, HostFeature>>>> = {
    [NODE]: {
        [`${NODE}-promisc`]: { kind: "promisc", parent: "eth0" },
        [`${NODE}-ipforward`]: { kind: "ipforward" },
        [`${NODE}-shim`]: { kind: "shim", lower: "eth0", link: SHIM, address: "198.18.0.250/32" },
        [NODE_ROUTE]: { kind: "route", link: SHIM, cidr: "198.18.0.201/32" },
    },
    [PRIOR_ON]: {
        [`${PRIOR_ON}-promisc`]: { kind: "promisc", parent: "eth0" },
        [`${PRIOR_ON}-ipforward`]: { kind: "ipforward" },
    },
    [GUEST]: {
        [`${GUEST}-promisc`]: { kind: "promisc", parent: "eth0" },
        [`${GUEST}-ipforward`]: { kind: "ipforward" },
        [`${GUEST}-vlan50`]: { kind: "vlan", parent: "eth0", id: 50 },
        [`${GUEST}-vlan60`]: { kind: "vlan", parent: "eth0", id: 60 },
        [`${GUEST}-shim`]: { kind: "shim", lower: "eth0.50", link: SHIM, address: "198.18.50.250/32" },
        [GUEST_ROUTE]: { kind: "route", link: SHIM, cidr: "198.18.50.201/32" },
    },
};

function labHostOf(lab: Lab, name: string): LabHost {
    const h = lab.hosts.find((x) => x.name === name);
    if (h === undefined) throw new Error(`the lab has no host ${name} (it has ${lab.hosts.map((x) => x.name).join(", ")})`);
    return h;
}

function hostEntry(lab: Lab, name: string, extra: Record<string, unknown>): Record<string, unknown> {
    const h = labHostOf(lab, name);
    return { name, address: h.address, port: h.port, user: h.user, hostKey: h.hostKey, parent: h.parent, ...extra };
}

/** The stack of cases 1-6. */
function mainConfig(lab: Lab): Record<string, unknown> {
    return {
        "macvlan:sshPrivateKeyPath": lab.privateKeyPath,
        "macvlan:hosts": [
            hostEntry(lab, NODE, { promisc: true, ipForward: true, shim: { address: CONTAINERS[NODE].shim } }),
            hostEntry(lab, PRIOR_ON, { promisc: true, ipForward: true }),
            hostEntry(lab, GUEST, { promisc: true, ipForward: true, vlans: [50, 60], shim: { address: CONTAINERS[GUEST].shim, vlan: 50 } }),
        ],
        "macvlan:networks": [
            {
                name: "ssh_lan",
                subnet: "198.18.0.0/24",
                gateway: "198.18.0.1",
                ipRange: "198.18.0.192/27",
                hosts: [NODE],
                containers: [{ name: "ct1", host: NODE, image: IMAGE, ip: CONTAINERS[NODE].ip }],
            },
            {
                name: "ssh_v50",
                vlan: 50,
                subnet: "198.18.50.0/24",
                gateway: "198.18.50.1",
                ipRange: "198.18.50.192/27",
                hosts: [GUEST],
                containers: [{ name: "ct2", host: GUEST, image: IMAGE, ip: CONTAINERS[GUEST].ip }],
            },
        ],
    };
}

/** A one-host stack for the preflight cases. */
/**
 * The stack of case 7, with the probe off: with it on, the program itself refuses a parent the
 * probe does not find before anything registers (case 7 checks that too); here the scripts' own
 * preflight is what is tested.
 */
function preflightConfig(lab: Lab, extra: Record<string, unknown>): Record<string, unknown> {
    return {
        "macvlan:probe": "false",
        "macvlan:sshPrivateKeyPath": lab.privateKeyPath,
        "macvlan:hosts": [hostEntry(lab, PRE, { promisc: true, ipForward: true, ...extra })],
        "macvlan:networks": [],
    };
}

// ---------------------------------------------------------------------------------------------
// The registered commands, and the part of the engine that runs them

/** Where the time goes (printed at the end). */
const cost = { programs: 0, programMs: 0, scripts: 0, scriptMs: 0 };

/** Runs index.ts under the mocks with the REAL probe and returns the remote commands it registered. */
async function program(config: Record<string, unknown>): Promise<Plan> {
    const t = Date.now();
    const { resources } = await runProgram(config, { prober: sshProber(), secretKeys: [] });
    cost.programs++;
    cost.programMs += Date.now() - t;
    for (const r of resources) {
        // The key never leaves the secret (the connection holding it is a secret as a whole).
        if (r.type === "command:remote:Command") assert.ok(isSecretValue(r.inputs["connection"]), `${r.name}: the connection is not a secret`);
    }
    return commandPlan(resources);
}

function hostCmds(plan: Plan, host: string): Cmd[] {
    return [...plan.values()].filter((c) => c.host === host);
}

/** The TOKEN a feature command carries (its drift token from the probe). */
function tokenOf(c: Cmd): string {
    const t = c.stdin === undefined ? undefined : /^TOKEN='([^']*)'$/m.exec(unwrapStdin(c.stdin))?.[1];
    if (t === undefined) throw new Error(`${c.name}: no TOKEN in its script`);
    return t;
}

/** The drift codes of a feature's token (`drift:<codes>@n`), empty for a clean token. */
function driftCodes(c: Cmd): string[] {
    const m = /^drift:([^@]*)@/.exec(tokenOf(c));
    return m === null ? [] : m[1].split(",");
}

/** Names of `host`'s commands whose registered text differs between two plans (or that one lacks). */
function changed(a: Plan, b: Plan, host: string): string[] {
    const names = new Set([...hostCmds(a, host), ...hostCmds(b, host)].map((c) => c.name));
    return [...names]
        .filter((n) => {
            const x = a.get(n);
            const y = b.get(n);
            return x === undefined || y === undefined || x.create !== y.create || x.update !== y.update || x.delete !== y.delete || x.stdin !== y.stdin;
        })
        .sort();
}

type Action = "create" | "update" | "same" | "delete";

interface Outcome {
    readonly name: string;
    readonly action: Action;
    /** True when it ran and exited 0, or did not need to run. */
    readonly ok: boolean;
    /** Not run because something it depends on failed. */
    readonly skipped: boolean;
    readonly stdout: string;
    readonly error?: string;
}

interface RunOpts {
    /** Rewrites the text actually sent (case 6 puts a PATH in front of it). */
    readonly wrap?: (c: Cmd, text: string) => string;
    /** Per-command client timeout (case 6 drops the connection). */
    readonly timeoutMs?: (c: Cmd) => number | undefined;
    /** Called when a command has finished, before the engine goes on with what depends on it. */
    readonly onDone?: (c: Cmd, o: Outcome) => Promise<void>;
}

async function runOne(c: Cmd, action: "create" | "update" | "delete", opts: RunOpts): Promise<Outcome> {
    const text = action === "create" ? c.create : action === "update" ? c.update : c.delete;
    if (text === undefined) return { name: c.name, action, ok: true, skipped: false, stdout: "" };
    const sent = opts.wrap ? opts.wrap(c, text) : text;
    const t = Date.now();
    let o: Outcome;
    try {
        const r = await runRemote(c.connection, sent, `${c.name} ${action}`, opts.timeoutMs?.(c), c.stdin);
        o = { name: c.name, action, ok: true, skipped: false, stdout: r.stdout };
    } catch (e) {
        o = { name: c.name, action, ok: false, skipped: false, stdout: "", error: e instanceof Error ? e.message : String(e) };
    }
    cost.scripts++;
    cost.scriptMs += Date.now() - t;
    await opts.onDone?.(c, o);
    return o;
}

/**
 * What the engine does with remote.Commands: remembers what it applied; on `up`, creates what it
 * has not got, updates (runs the new `update` text) what changed, leaves alone what did not,
 * in dependency order, each host in parallel, each wave of a host in parallel, skipping whatever
 * depends on a failure; on `destroy`, runs the stored `delete` texts in reverse order.
 */
class Stack {
    readonly state = new Map<string, Cmd>();

    async up(plan: Plan, hosts: readonly string[], opts: RunOpts = {}): Promise<Map<string, Outcome>> {
        const out = new Map<string, Outcome>();
        await Promise.all(
            hosts.map(async (host) => {
                for (const wave of waves(hostCmds(plan, host))) {
                    await Promise.all(
                        wave.map(async (c) => {
                            if (c.after.some((n) => !(out.get(n)?.ok ?? true))) {
                                out.set(c.name, { name: c.name, action: "same", ok: false, skipped: true, stdout: "" });
                                return;
                            }
                            const old = this.state.get(c.name);
                            if (old !== undefined && old.create === c.create && old.update === c.update && old.delete === c.delete && old.stdin === c.stdin) {
                                out.set(c.name, { name: c.name, action: "same", ok: true, skipped: false, stdout: "" });
                                return;
                            }
                            const o = await runOne(c, old === undefined ? "create" : "update", opts);
                            if (o.ok) this.state.set(c.name, c);
                            out.set(c.name, o);
                        }),
                    );
                }
            }),
        );
        return out;
    }

    async destroy(hosts: readonly string[]): Promise<Map<string, Outcome>> {
        const out = new Map<string, Outcome>();
        await Promise.all(
            hosts.map(async (host) => {
                const cmds = [...this.state.values()].filter((c) => c.host === host);
                for (const wave of waves(cmds).reverse()) {
                    await Promise.all(
                        wave.map(async (c) => {
                            const o = await runOne(c, "delete", {});
                            if (o.ok) this.state.delete(c.name);
                            out.set(c.name, o);
                        }),
                    );
                    if (wave.some((c) => !(out.get(c.name)?.ok ?? false))) break;
                }
            }),
        );
        return out;
    }
}

/** Fails with every failed or skipped command, with its output. */
function assertAllOk(outcomes: ReadonlyMap<string, Outcome>, what: string): void {
    const bad = [...outcomes.values()].filter((o) => !o.ok);
    assert.ok(bad.length === 0, `${what}: ${bad.map((o) => `${o.name} ${o.skipped ? "skipped" : `failed: ${o.error}`}`).join("\n")}`);
}

/** `{ name: action }` of the outcomes of some hosts' commands, sorted. */
function actions(outcomes: ReadonlyMap<string, Outcome>, names?: readonly string[]): Record<string, Action> {
    const pick = [...outcomes.values()].filter((o) => names === undefined || names.includes(o.name));
    return Object.fromEntries(pick.map((o) => [o.name, o.action] as const).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** The line a feature command prints at its end: `pulumi-macvlan <host> <key>: changed (...)` or `...: unchanged`. */
function summaryLine(c: Cmd, stdout: string): string {
    const prefix = `pulumi-macvlan ${c.host} ${c.key}: `;
    const line = stdout.split("\n").find((l) => l.startsWith(prefix));
    if (line === undefined) throw new Error(`${c.name}: no "${prefix}" line in its output: ${JSON.stringify(stdout)}`);
    return line.slice(prefix.length);
}

// ---------------------------------------------------------------------------------------------
// Doing things on the hosts by hand

async function sh(host: string, script: string, timeoutMs = 60_000): Promise<string> {
    const r = await labExec(host, script, { timeoutMs });
    if (r.code !== 0) throw new Error(`${host}: exit ${r.code} from ${JSON.stringify(script.slice(0, 300))}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r.stdout;
}

/** Makes (idempotently) the host's "container": a bridge-mode macvlan of its lower link in a netns of its own. */
async function ensureContainer(host: string): Promise<void> {
    const c = CONTAINERS[host];
    await sh(
        host,
        [
            `[ -e /run/netns/${CT_NETNS} ] || ip netns add ${CT_NETNS}`,
            `if ! ip -n ${CT_NETNS} link show ${CT_LINK} >/dev/null 2>&1; then`,
            `  ip link del ${CT_LINK} 2>/dev/null || :`,
            `  ip link add ${CT_LINK} link ${c.lower} type macvlan mode bridge`,
            `  ip link set ${CT_LINK} netns ${CT_NETNS}`,
            `  ip -n ${CT_NETNS} addr add ${c.ip}/24 dev ${CT_LINK}`,
            `  ip -n ${CT_NETNS} link set lo up`,
            `  ip -n ${CT_NETNS} link set ${CT_LINK} up`,
            "fi",
        ].join("\n"),
    );
}

const REMOVE_CONTAINER = `ip -n ${CT_NETNS} link del ${CT_LINK} 2>/dev/null; ip link del ${CT_LINK} 2>/dev/null; ip netns del ${CT_NETNS} 2>/dev/null; true`;

async function removeContainer(host: string): Promise<void> {
    await sh(host, REMOVE_CONTAINER);
}

/** Whether the host answers a ping to its container (busybox ping: the lab has no iputils). */
async function pings(host: string, expected: boolean): Promise<boolean> {
    const ip = CONTAINERS[host].ip;
    const r = await labExec(host, `busybox ping -c 1 -W ${expected ? 3 : 1} ${ip}`, { timeoutMs: 30_000 });
    if (r.code === 255) throw new Error(`${host}: ssh failed: ${r.stderr}`);
    return r.code === 0;
}

async function assertPing(host: string, expected: boolean, why: string): Promise<void> {
    const ok = await pings(host, expected);
    assert.equal(ok, expected, `${host} -> ${CONTAINERS[host].ip} ${why}: ping ${ok ? "works" : "fails"}`);
}

/** Kills case 6's blocked wrappers and removes them (also leftovers of a killed run). */
const REMOVE_CUT = `if [ -f ${CUT_DIR}/pid ]; then kill -KILL "$(cat ${CUT_DIR}/pid)" 2>/dev/null || :; fi; rm -rf ${CUT_DIR}`;

/**
 * What a run may leave on a host besides the product's own state (which labUp sees and rebuilds
 * the lab for): the container, case 6's wrapper and its blocked `ip`, and a host lock file that a
 * killed run's scripts left in /run (nobody holds it: this process holds the lab).
 */
async function cleanTestLeftovers(host: string): Promise<void> {
    await sh(host, `${REMOVE_CUT}; ${REMOVE_CONTAINER}; rm -f ${LOCK_FILE}`);
}

// ---------------------------------------------------------------------------------------------
// State checks

function sysctl(s: HostSnapshot, path: string): string | undefined {
    return s.sysctls[path];
}

function flags(s: HostSnapshot, link: string): string[] {
    const l = linkByName(s, link);
    assert.ok(l !== undefined, `${s.host}: no link ${link}`);
    return l["flags"] as string[];
}

function linkinfo(s: HostSnapshot, link: string): { kind?: string; data?: Record<string, unknown> } {
    const l = linkByName(s, link);
    assert.ok(l !== undefined, `${s.host}: no link ${link}`);
    const li = l["linkinfo"] as { info_kind?: string; info_data?: Record<string, unknown> } | undefined;
    return { kind: li?.info_kind, data: li?.info_data };
}

function ipv4(s: HostSnapshot, link: string): string[] {
    const a = s.addresses.find((x) => x["ifname"] === link);
    return ((a?.["addr_info"] as { family: string; local: string; prefixlen: number }[] | undefined) ?? [])
        .filter((i) => i.family === "inet")
        .map((i) => `${i.local}/${i.prefixlen}`);
}

function mainRoutes(s: HostSnapshot): string[] {
    return s.routes
        .filter((r) => r["table"] === undefined && !String(r["dst"]).includes(":"))
        .map((r) => `${String(r["dst"])} dev ${String(r["dev"])}${typeof r["gateway"] === "string" ? ` via ${r["gateway"]}` : ""}`)
        .sort();
}

/** The files view without the drift tokens (they change with every repaired drift, by design). */
function filesNoTokens(s: HostSnapshot): string[] {
    return filesView(s).filter((l) => !/^\/var\/lib\/pulumi-macvlan\/[^/ ]+\/token /.test(l));
}

/**
 * The files view of another apply of the same stack: without tokens, and without the size and
 * checksum of the recorded prior states, which depend on what the host had when each feature
 * first ran (ipforward records the forwarding of every link, the shim's too when the shim's
 * create won the host lock first: a race between commands Pulumi runs in parallel).
 */
function filesOfAnApply(s: HostSnapshot): string[] {
    return filesNoTokens(s)
        .filter((l) => !/^\/var\/lib\/pulumi-macvlan\/[^/ ]+\/prior sha256=/.test(l))
        .map((l) => l.replace(/^(\/var\/lib\/pulumi-macvlan\/[^/ ]+\/prior f [0-7]+ [0-9]+:[0-9]+) [0-9]+ $/, "$1 <size> "));
}

function sha256(text: string): string {
    return createHash("sha256").update(text).digest("hex");
}

function assertSame(what: string, a: Record<string, unknown>, b: Record<string, unknown>): void {
    const d = diffViews(a, b);
    assert.deepEqual(d, [], `${what} (- expected, + actual):\n${d.join("\n")}`);
}

/** What case 1 checks on a host after an apply (also after the reboot and the cut re-run). */
function assertApplied(s: HostSnapshot): void {
    const h = s.host;
    const parent = "eth0";
    assert.ok(flags(s, parent).includes("PROMISC"), `${h}: ${parent} is not promiscuous: ${flags(s, parent).join(",")}`);
    assert.equal(sysctl(s, "ipv4/ip_forward"), "1", `${h}: ip_forward`);
    if (h === GUEST) {
        for (const id of [50, 60]) {
            const li = linkinfo(s, `eth0.${id}`);
            assert.deepEqual([li.kind, li.data?.["protocol"], li.data?.["id"]], ["vlan", "802.1Q", id], `${h}: eth0.${id}`);
            assert.equal(linkByName(s, `eth0.${id}`)?.["link"], "eth0", `${h}: eth0.${id} sits on eth0`);
            assert.ok(flags(s, `eth0.${id}`).includes("UP"), `${h}: eth0.${id} is not up`);
        }
    }
    if (h === NODE || h === GUEST) {
        const c = CONTAINERS[h];
        const li = linkinfo(s, SHIM);
        assert.deepEqual([li.kind, li.data?.["mode"]], ["macvlan", "bridge"], `${h}: ${SHIM} is a bridge-mode macvlan`);
        assert.equal(linkByName(s, SHIM)?.["link"], c.lower, `${h}: ${SHIM} sits on ${c.lower}`);
        assert.ok(flags(s, SHIM).includes("UP"), `${h}: ${SHIM} is not up`);
        assert.deepEqual(ipv4(s, SHIM), [`${c.shim}/32`], `${h}: ${SHIM} addresses`);
        for (const [k, v] of [["rp_filter", "2"], ["arp_ignore", "1"], ["arp_announce", "2"]]) {
            assert.equal(sysctl(s, `ipv4/conf/${SHIM}/${k}`), v, `${h}: ${SHIM} ${k}`);
        }
        assert.ok(mainRoutes(s).includes(`${c.ip} dev ${SHIM}`), `${h}: no route ${c.ip} dev ${SHIM}: ${mainRoutes(s).join("; ")}`);
    }
}

/** The boot-time config on a host is exactly the runner, the unit, its enabling link and one fragment per feature. */
function assertBootFiles(host: string, s: HostSnapshot, prior: Readonly<Record<string, HostSnapshot>>): void {
    const features = Object.values(FEATURES[host]);
    const expected: Record<string, string> = {
        [HOST_PATHS.runner]: sha256(BOOT_RUNNER_TEXT),
        [HOST_PATHS.unit]: sha256(BOOT_UNIT_TEXT),
    };
    for (const f of features) expected[bootFragmentPath(f)] = sha256(renderBootFragment(host, f));
    // A directory the scripts had to create carries their (empty) marker, so the last delete removes it again.
    for (const dir of [HOST_PATHS.wantsDir, HOST_PATHS.bootRoot]) {
        if (!prior[host].files.some((l) => l.startsWith(`${dir} d `))) expected[`${dir}/${HOST_PATHS.createdMarker}`] = sha256("");
    }
    const actual = Object.fromEntries(
        Object.entries(s.contents).filter(([p]) => p.startsWith(`${HOST_PATHS.bootRoot}/`) || p.startsWith("/etc/systemd/system/")),
    );
    assert.deepEqual(actual, expected, `${host}: boot-time files`);
    assert.ok(
        s.files.includes(`${HOST_PATHS.wantsLink} l 777 0:0 ${HOST_PATHS.unit.length} ${HOST_PATHS.unit}`),
        `${host}: ${HOST_PATHS.wantsLink} -> ${HOST_PATHS.unit} missing:\n${s.files.join("\n")}`,
    );
    for (const f of features) {
        const dir = `${HOST_PATHS.stateRoot}/${featureKey(f)}`;
        assert.ok(s.contents[`${dir}/prior`] !== undefined && s.contents[`${dir}/token`] !== undefined, `${host}: ${dir}/prior and token`);
    }
}

async function snapshots(hosts: readonly string[]): Promise<Record<string, HostSnapshot>> {
    const list = await Promise.all(hosts.map((h) => snapshot(h)));
    return Object.fromEntries(list.map((s) => [s.host, s]));
}

// ---------------------------------------------------------------------------------------------

describe("MacvlanHost over real SSH on real kernels", function () {
    this.timeout(15 * 60_000);

    let lab: Lab;
    let cfg: Record<string, unknown>;
    const stack = new Stack();
    /** Each host before the first apply (node2: after promisc and forwarding were switched on by hand). */
    const prior: Record<string, HostSnapshot> = {};
    /** Each host right after case 1 (with its container). */
    let applied: Record<string, HostSnapshot> = {};
    /** The plan last applied (what a clean probe must give again). */
    let current: Plan | undefined;
    let priorOnSet = false;
    let anyFailed = false;
    /** labUp succeeded: this process holds the lab (never clean up a lab another process is using). */
    let labOwned = false;
    const timings: string[] = [];
    let t0 = 0;

    before(async function () {
        const t = Date.now();
        lab = await labUp({ log: (l) => log(`lab: ${l}`) });
        labOwned = true;
        for (const h of [...HOSTS, PRE]) labHostOf(lab, h);
        assert.ok(labHostOf(lab, GUEST).vlanCapable, `${GUEST} must have 802.1Q`);
        assert.ok(!labHostOf(lab, PRE).vlanCapable, `${PRE} must NOT have 802.1Q (this machine's kernel has none): case 7 relies on it`);
        await Promise.all([...HOSTS, PRE].map((h) => cleanTestLeftovers(h)));
        cfg = mainConfig(lab);
        const clean = await Promise.all([...HOSTS, PRE].map(async (h) => [h, await hostChanges(h)] as const));
        for (const [h, d] of clean) assert.deepEqual(d, [], `${h} differs from the lab's fresh state before the test`);
        // node2: promisc and forwarding already on before the first apply.
        await sh(PRIOR_ON, "ip link set dev eth0 promisc on && echo 1 > /proc/sys/net/ipv4/ip_forward");
        priorOnSet = true;
        Object.assign(prior, await snapshots([...HOSTS, PRE]));
        assert.ok(flags(prior[PRIOR_ON], "eth0").includes("PROMISC") && sysctl(prior[PRIOR_ON], "ipv4/ip_forward") === "1");
        log(`lab ready in ${Date.now() - t} ms`);
    });

    beforeEach(() => {
        t0 = Date.now();
    });
    afterEach(function () {
        timings.push(`${this.currentTest?.title.slice(0, 60) ?? "?"}: ${Date.now() - t0} ms`);
        if (this.currentTest?.state !== "passed") anyFailed = true;
    });

    after(async function () {
        const t = Date.now();
        const problems: string[] = [];
        if (!labOwned) {
            releaseLab();
            return; // labUp failed (not root, lab in use, cannot build): before() already failed loudly
        }
        const hosts = [...HOSTS, PRE];
        await Promise.all(hosts.map((h) => cleanTestLeftovers(h).catch((e: Error) => problems.push(e.message))));
        // Every delete of the stack, applied or not (a delete with no recorded prior state only
        // removes boot config and state): also cleans up after a failed case.
        if (anyFailed) {
            let plan: Plan | undefined = current;
            if (plan === undefined && cfg !== undefined) plan = await program(cfg).catch(() => undefined);
            for (const c of plan?.values() ?? []) if (!stack.state.has(c.name)) stack.state.set(c.name, c);
        }
        const out = await stack.destroy(HOSTS);
        for (const o of out.values()) if (!o.ok) problems.push(`${o.name} delete: ${o.error}`);
        if (priorOnSet) {
            await sh(PRIOR_ON, "ip link set dev eth0 promisc off && echo 0 > /proc/sys/net/ipv4/ip_forward").catch((e: Error) =>
                problems.push(e.message),
            );
        }
        for (const h of hosts) {
            const d = await hostChanges(h);
            if (d.length > 0) problems.push(`${h} is not back to the lab's fresh state:\n${d.join("\n")}`);
        }
        releaseLab();
        log(`cleanup ${Date.now() - t} ms`);
        for (const l of timings) log(l);
        log(`${cost.programs} program runs with the real probe: ${cost.programMs} ms; ${cost.scripts} registered scripts run: ${cost.scriptMs} ms (summed over parallel runs)`);
        if (problems.length > 0) throw new Error(`cleanup:\n${problems.join("\n")}`);
    });

    it("1. fresh apply: promisc, forwarding, VLANs 50/60 (guest), shim and routes up; the container is reachable through the shim and not without it", async () => {
        await ensureContainer(NODE);
        await assertPing(NODE, false, "before the shim (macvlan children are cut off from their parent)");

        const plan = await program(cfg);
        const expectedNames = (h: string): string[] => [`${h}-preflight`, ...Object.keys(FEATURES[h])].sort();
        for (const h of HOSTS) {
            assert.deepEqual(hostCmds(plan, h).map((c) => c.name).sort(), expectedNames(h), `${h}: registered commands`);
            const lh = labHostOf(lab, h);
            for (const c of hostCmds(plan, h)) {
                assert.equal(c.connection.host, lh.address);
                assert.equal(c.connection.hostKey, lh.hostKey, `${c.name}: host key pinned`);
                assert.ok(!c.create.includes("PRIVATE KEY") && !(c.delete ?? "").includes("PRIVATE KEY"), `${c.name}: no key in the text`);
                if (c.key !== undefined) {
                    assert.equal(c.key, featureKey(FEATURES[h][c.name]), `${c.name}: feature key`);
                    assert.ok(tokenOf(c).startsWith("drift:new"), `${c.name}: a fresh host probes as new, got ${tokenOf(c)}`);
                    assert.equal(c.update, c.create);
                }
            }
        }
        // Dependency order as registered: everything after the preflight, the guest's shim after its VLAN, routes after the shim.
        assert.deepEqual([...(plan.get(`${GUEST}-shim`)?.after ?? [])].sort(), [`${GUEST}-preflight`, `${GUEST}-vlan50`]);
        assert.deepEqual([...(plan.get(NODE_ROUTE)?.after ?? [])].sort(), [`${NODE}-preflight`, `${NODE}-shim`]);

        const out = await stack.up(plan, HOSTS);
        assertAllOk(out, "first apply");
        for (const o of out.values()) {
            const c = plan.get(o.name) as Cmd;
            assert.equal(o.action, "create", o.name);
            if (c.key === undefined) {
                assert.match(o.stdout, new RegExp(`^pulumi-macvlan ${c.host}: preflight ok \\(Linux [^,]+, parent NIC eth0`, "m"));
                if (c.host === GUEST) assert.match(o.stdout, /802\.1Q/);
            } else assert.match(summaryLine(c, o.stdout), /^changed \(prior state recorded, .*token drift:new[^ ]* stored, owned by macvlan\/test\/[a-z0-9]+\)$/, o.name);
        }
        current = plan;

        const s = await snapshots(HOSTS);
        for (const h of HOSTS) {
            assertApplied(s[h]);
            assertBootFiles(h, s[h], prior);
        }
        await ensureContainer(GUEST);
        await Promise.all([assertPing(NODE, true, "through the shim"), assertPing(GUEST, true, "through the shim on eth0.50")]);
        applied = await snapshots(HOSTS);
    });

    it("2. the same apply again: the probe gives the same command text (nothing to run), and running it anyway changes nothing and says unchanged", async () => {
        assert.ok(current !== undefined, "case 1 did not apply");
        const plan = await program(cfg);
        for (const h of HOSTS) assert.deepEqual(changed(current, plan, h), [], `${h}: command text changed without drift`);
        const out = await stack.up(plan, HOSTS);
        assertAllOk(out, "second apply");
        assert.ok([...out.values()].every((o) => o.action === "same"), `the engine would run something: ${JSON.stringify(actions(out))}`);

        // Forced: every create/update text again, in order.
        const forced = new Stack();
        const again = await forced.up(plan, HOSTS);
        assertAllOk(again, "the same scripts again");
        for (const o of again.values()) {
            const c = plan.get(o.name) as Cmd;
            if (c.key !== undefined) assert.equal(summaryLine(c, o.stdout), "unchanged", `${o.name}: ${o.stdout}`);
        }
        const s = await snapshots(HOSTS);
        for (const h of HOSTS) assertSame(`${h} after the same apply again`, exactView(applied[h]), exactView(s[h]));
    });

    it("3. drift: each setting undone by hand is seen by the real probe as a change of exactly that feature's command, and its update repairs it", async () => {
        assert.ok(current !== undefined, "case 1 did not apply");
        interface Drift {
            readonly what: string;
            readonly script: string;
            /** Command name → drift codes its token must carry. */
            readonly expect: Readonly<Record<string, readonly string[]>>;
            /** The container cannot be pinged while drifted. */
            readonly noPing?: boolean;
        }
        const allNode1 = (codes: string[]): Record<string, string[]> =>
            Object.fromEntries(Object.keys(FEATURES[NODE]).map((n) => [n, codes]));
        const rounds: Readonly<Record<string, Drift>>[] = [
            {
                [NODE]: { what: "promisc off", script: "ip link set dev eth0 promisc off", expect: { [`${NODE}-promisc`]: ["promisc-off"] } },
                [GUEST]: { what: "VLAN 60 deleted", script: "ip link del eth0.60", expect: { [`${GUEST}-vlan60`]: ["vlan-missing"] } },
            },
            {
                [NODE]: { what: "ip_forward 0", script: "sysctl -q -w net.ipv4.ip_forward=0", expect: { [`${NODE}-ipforward`]: ["forward-off"] } },
                [PRIOR_ON]: { what: "ip_forward 0 (was on before)", script: "echo 0 > /proc/sys/net/ipv4/ip_forward", expect: { [`${PRIOR_ON}-ipforward`]: ["forward-off"] } },
                [GUEST]: { what: "promisc off", script: "ip link set dev eth0 promisc off", expect: { [`${GUEST}-promisc`]: ["promisc-off"] } },
            },
            {
                [NODE]: {
                    what: "shim deleted",
                    script: `ip link del ${SHIM}`,
                    expect: { [`${NODE}-shim`]: ["shim-missing"], [NODE_ROUTE]: ["route-missing"] },
                    noPing: true,
                },
                [GUEST]: { what: "ip_forward 0", script: "echo 0 > /proc/sys/net/ipv4/ip_forward", expect: { [`${GUEST}-ipforward`]: ["forward-off"] } },
            },
            {
                [NODE]: { what: "route deleted", script: `ip route del ${CONTAINERS[NODE].ip}/32 dev ${SHIM}`, expect: { [NODE_ROUTE]: ["route-missing"] }, noPing: true },
                [GUEST]: { what: "route deleted", script: `ip route del ${CONTAINERS[GUEST].ip}/32 dev ${SHIM}`, expect: { [GUEST_ROUTE]: ["route-missing"] }, noPing: true },
            },
            {
                [NODE]: {
                    what: "boot config removed (runner, unit, its link, fragments)",
                    script: `rm -rf ${HOST_PATHS.bootRoot}/boot ${HOST_PATHS.bootDir} ${HOST_PATHS.unit} ${HOST_PATHS.wantsLink}`,
                    expect: allNode1(["boot", "unit"]),
                },
                [PRIOR_ON]: { what: "promisc off (was on before)", script: "ip link set dev eth0 promisc off", expect: { [`${PRIOR_ON}-promisc`]: ["promisc-off"] } },
                [GUEST]: {
                    what: "VLAN 50's boot fragment removed",
                    script: `rm ${bootFragmentPath(FEATURES[GUEST][`${GUEST}-vlan50`])}`,
                    expect: { [`${GUEST}-vlan50`]: ["boot"] },
                },
            },
            {
                [NODE]: {
                    what: "shim sysctls changed",
                    script: `echo 0 > /proc/sys/net/ipv4/conf/${SHIM}/rp_filter; echo 0 > /proc/sys/net/ipv4/conf/${SHIM}/arp_ignore`,
                    expect: { [`${NODE}-shim`]: ["rp_filter", "arp_ignore"] },
                },
                [GUEST]: {
                    what: "VLAN 50 deleted (with the shim, its route and the container on it)",
                    script: "ip link del eth0.50",
                    expect: { [`${GUEST}-vlan50`]: ["vlan-missing"], [`${GUEST}-shim`]: ["shim-missing"], [GUEST_ROUTE]: ["route-missing"] },
                    noPing: true,
                },
            },
        ];
        for (const [i, round] of rounds.entries()) {
            const label = (h: string): string => `round ${i + 1}, ${h}: ${round[h]?.what ?? "no drift"}`;
            await Promise.all(Object.entries(round).map(([h, d]) => sh(h, d.script)));
            await Promise.all(Object.entries(round).filter(([, d]) => d.noPing).map(([h]) => assertPing(h, false, `while drifted (${round[h].what})`)));

            const drifted = await program(cfg);
            for (const h of HOSTS) {
                const expect = round[h]?.expect ?? {};
                assert.deepEqual(
                    changed(current, drifted, h),
                    Object.keys(expect).sort(),
                    `${label(h)}: changed commands${i > 0 ? ` (an extra one is a spurious diff left by the repair of round ${i})` : ""}`,
                );
                for (const [name, codes] of Object.entries(expect)) {
                    const c = drifted.get(name) as Cmd;
                    const got = driftCodes(c);
                    for (const code of codes) assert.ok(got.includes(code), `${label(h)}: ${name} token ${tokenOf(c)} lacks ${code}`);
                    assert.equal(c.delete, current.get(name)?.delete, `${name}: the delete text does not depend on drift`);
                }
            }
            const out = await stack.up(drifted, HOSTS);
            assertAllOk(out, `round ${i + 1} repair`);
            const ran = [...out.values()].filter((o) => o.action !== "same").map((o) => o.name).sort();
            assert.deepEqual(ran, Object.values(round).flatMap((d) => Object.keys(d.expect)).sort(), `round ${i + 1}: what the engine runs`);
            for (const name of ran) {
                const o = out.get(name) as Outcome;
                assert.equal(o.action, "update", name);
                assert.match(summaryLine(drifted.get(name) as Cmd, o.stdout), /^changed \(/, `${name} repaired`);
            }
            await Promise.all([ensureContainer(NODE), ensureContainer(GUEST)]); // a container dies with its VLAN; Docker would start it again

            // No spurious diff after the repair: the next round's probe (or, after the last round,
            // one more) must give exactly this text again for everything it did not drift.
            current = drifted;
            const s = await snapshots(HOSTS);
            for (const h of HOSTS) {
                assertSame(`${label(h)}: live state after the repair`, runtimeView(applied[h]), runtimeView(s[h]));
                assert.deepEqual(filesNoTokens(s[h]), filesNoTokens(applied[h]), `${label(h)}: files after the repair`);
            }
            await Promise.all(Object.entries(round).filter(([, d]) => d.noPing).map(([h]) => assertPing(h, true, `after the repair of ${round[h].what}`)));
            log(`drift round ${i + 1} (${Object.entries(round).map(([h, d]) => `${h}: ${d.what}`).join("; ")}): detected and repaired`);
        }
        const clean = await program(cfg);
        for (const h of HOSTS) assert.deepEqual(changed(current, clean, h), [], `${h}: diff after the last repair (spurious)`);
        current = clean;
    });

    it("4. reboot: runtime state flushed as a reboot would, then the boot-time config alone (the unit's ExecStart) restores it", async () => {
        // What a reboot keeps: the files, but not /run (a tmpfs), where the host lock lives.
        const persistentFiles = (s: HostSnapshot): string[] => filesView(s).filter((l) => !l.startsWith(`${LOCK_FILE} `));
        assert.ok(current !== undefined, "case 1 did not apply");
        const before = await snapshots(HOSTS);
        const flush: Record<string, string> = {
            [NODE]: `ip link del ${SHIM}; ip link set dev eth0 promisc off; echo 0 > /proc/sys/net/ipv4/ip_forward; rm -f ${LOCK_FILE}`,
            [PRIOR_ON]: `ip link set dev eth0 promisc off; echo 0 > /proc/sys/net/ipv4/ip_forward; rm -f ${LOCK_FILE}`,
            [GUEST]: `ip link del eth0.50; ip link del eth0.60; ip link set dev eth0 promisc off; echo 0 > /proc/sys/net/ipv4/ip_forward; rm -f ${LOCK_FILE}`,
        };
        // The containers go too (Docker starts them again after the unit: Before=docker.service).
        await Promise.all([removeContainer(NODE), removeContainer(GUEST)]);
        await Promise.all(HOSTS.map((h) => sh(h, flush[h])));
        const flushed = await snapshots(HOSTS);
        for (const h of HOSTS) {
            const p = "eth0";
            assert.ok(!flags(flushed[h], p).includes("PROMISC"), `${h}: flushed promisc`);
            assert.equal(sysctl(flushed[h], "ipv4/ip_forward"), "0");
            assert.deepEqual(linkByName(flushed[h], SHIM), undefined);
            assert.deepEqual(mainRoutes(flushed[h]).filter((r) => r.includes(SHIM)), []);
            assert.deepEqual(persistentFiles(flushed[h]), persistentFiles(before[h]), `${h}: the flush must not touch files`);
        }
        assert.equal(linkByName(flushed[GUEST], "eth0.50"), undefined);

        // The unit as installed, and what systemd would run.
        await Promise.all(
            HOSTS.map(async (h) => {
                const unit = await sh(h, `cat ${HOST_PATHS.unit}; echo; readlink ${HOST_PATHS.wantsLink}`);
                assert.equal(unit, `${BOOT_UNIT_TEXT}\n${HOST_PATHS.unit}\n`, `${h}: the installed unit and its link`);
                const exec = /^ExecStart=(.+)$/m.exec(unit)?.[1];
                const env = [...unit.matchAll(/^Environment=(\S+)$/gm)].map((m) => m[1]);
                assert.ok(exec !== undefined && /^[A-Za-z0-9_/. -]+$/.test(exec), `${h}: ExecStart ${exec}`);
                assert.ok(env.every((e) => /^[A-Za-z_]+=[A-Za-z0-9_.:/-]*$/.test(e)), `${h}: Environment ${env.join(" ")}`);
                // systemd's default PATH for services, the unit's Environment, nothing else.
                const r = await labExec(h, `env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin ${env.join(" ")} ${exec}`, {
                    timeoutMs: 120_000,
                });
                assert.equal(r.code, 0, `${h}: the boot runner failed (exit ${r.code}): ${r.stderr}`);
                assert.equal(r.stderr, "", `${h}: the boot runner complained`);
            }),
        );
        await Promise.all([ensureContainer(NODE), ensureContainer(GUEST)]);
        const booted = await snapshots(HOSTS);
        for (const h of HOSTS) {
            assertApplied(booted[h]);
            assertSame(`${h} after the boot runner`, runtimeView(before[h]), runtimeView(booted[h]));
            assert.deepEqual(persistentFiles(booted[h]), persistentFiles(before[h]), `${h}: files after the boot`);
        }
        const plan = await program(cfg);
        for (const h of HOSTS) assert.deepEqual(changed(current, plan, h), [], `${h}: the probe sees drift after the boot`);
        await Promise.all([assertPing(NODE, true, "after the reboot"), assertPing(GUEST, true, "after the reboot")]);
    });

    it("5. destroy: every host byte-for-byte back to its prior state, promisc and forwarding kept on where they were on before", async () => {
        assert.ok(current !== undefined, "case 1 did not apply");
        await Promise.all([removeContainer(NODE), removeContainer(GUEST)]);
        const stored = new Map(stack.state);
        const out = await stack.destroy(HOSTS);
        assertAllOk(out, "destroy");
        assert.deepEqual(
            [...out.keys()].sort(),
            [...stored.keys()].sort(),
            "every applied command was deleted",
        );
        for (const o of out.values()) {
            const c = stored.get(o.name) as Cmd;
            if (c.key !== undefined) assert.match(summaryLine(c, o.stdout), /^changed \(/, o.name);
        }
        const s = await snapshots([...HOSTS]);
        for (const h of HOSTS) assertSame(`${h} after destroy`, exactView(prior[h]), exactView(s[h]));
        assert.ok(flags(s[PRIOR_ON], "eth0").includes("PROMISC"), `${PRIOR_ON}: promisc was on before and must stay on`);
        assert.equal(sysctl(s[PRIOR_ON], "ipv4/ip_forward"), "1", `${PRIOR_ON}: forwarding was on before and must stay on`);
        // A delete run again changes nothing.
        const again = await runOne(stored.get(`${NODE}-shim`) as Cmd, "delete", {});
        assert.ok(again.ok, again.error);
        assert.equal(summaryLine(stored.get(`${NODE}-shim`) as Cmd, again.stdout), "unchanged");
        await ensureContainer(NODE);
        await assertPing(NODE, false, "after destroy (no shim)");
        await removeContainer(NODE);
        current = undefined;
    });

    it("6. a session killed and a connection dropped in the middle of apply scripts, then a re-run: correct final state", async () => {
        assert.equal(stack.state.size, 0, "case 5 did not destroy everything");
        // An `ip` first on PATH that runs the real one, then, at the chosen call, blocks (the
        // change made, the rest of the script not run) and records its pid.
        const wrapper = (real: string, match: string): string =>
            [
                "#!/bin/sh",
                `"${real}" "$@" || exit $?`,
                'case " $* " in',
                `    *" ${match} "*)`,
                `        if mkdir ${CUT_DIR}/hit 2>/dev/null; then`,
                `            echo "$*" > ${CUT_DIR}/args`,
                `            echo $$ > ${CUT_DIR}/pid`,
                "            exec sleep 600",
                "        fi",
                "        ;;",
                "esac",
                "",
            ].join("\n");
        const cutAt: Record<string, string> = { [NODE]: "addr add", [GUEST]: "type vlan" };
        await Promise.all(
            [NODE, GUEST].map(async (h) => {
                const real = (await sh(h, "command -v ip")).trim();
                assert.match(real, /^\/[a-z/]+\/ip$/);
                const r = await labExec(h, `mkdir -p ${CUT_DIR} && cat > ${CUT_DIR}/ip && chmod 755 ${CUT_DIR}/ip`, { stdin: wrapper(real, cutAt[h]) });
                assert.equal(r.code, 0, r.stderr);
            }),
        );
        const waitHit = async (h: string): Promise<{ pid: number; args: string }> => {
            const deadline = Date.now() + 120_000;
            for (;;) {
                const r = await labExec(h, `cat ${CUT_DIR}/pid ${CUT_DIR}/args 2>/dev/null`);
                const [pid, args] = r.stdout.split("\n");
                if (/^[0-9]+$/.test(pid ?? "") && args) return { pid: Number(pid), args };
                if (Date.now() > deadline) throw new Error(`${h}: the apply never reached "${cutAt[h]}"`);
                await new Promise((res) => setTimeout(res, 300));
            }
        };
        await ensureContainer(NODE);
        const plan = await program(cfg);
        const wrapped = new Set<string>([NODE, GUEST]);
        const run = stack.up(plan, [NODE, GUEST], {
            wrap: (c, text) => (wrapped.has(c.host) ? `PATH=${CUT_DIR}:$PATH; export PATH; ${text}` : text),
            // node1: the client gives up on the shim's session (the connection is dropped) while
            // the script is blocked; the script then dies at that point (its blocked `ip` killed).
            // Until then it holds the host lock, so node1's other scripts wait, as they would.
            timeoutMs: (c) => (c.name === `${NODE}-shim` ? 5_000 : undefined),
            onDone: async (c) => {
                if (c.name !== `${NODE}-shim`) return;
                const hit = await waitHit(NODE);
                await sh(NODE, `kill -KILL ${hit.pid}`);
                await sh(NODE, `flock -w 30 ${LOCK_FILE} true`); // the lock is free once the cut script is gone
            },
        });
        // vlan1: kill the whole session (the login shell, the script and the blocked `ip`) mid-way.
        const guestCut = (async () => {
            const hit = await waitHit(GUEST);
            const pg = (await sh(GUEST, `ps -o pgid= -p ${hit.pid}`)).trim();
            const leader = (await sh(GUEST, `cat /proc/${pg}/comm`)).trim();
            assert.ok(/^(bash|sh|dash)$/.test(leader), `${GUEST}: the session's process group leader is ${leader}, not the login shell`);
            await sh(GUEST, `kill -KILL -- -${pg}`);
            return hit;
        })();
        const [out, guestHit] = await Promise.all([run, guestCut]);
        const nodeHit = await waitHit(NODE);

        const cutVlan = /name eth0\.(50|60) /.exec(guestHit.args)?.[1];
        assert.ok(cutVlan !== undefined, `${GUEST}: cut at ${guestHit.args}`);
        assert.match(nodeHit.args, new RegExp(`^addr add ${CONTAINERS[NODE].shim}/32 dev ${SHIM}$`));
        const failed = [...out.values()].filter((o) => !o.ok && !o.skipped).map((o) => o.name).sort();
        assert.deepEqual(failed, [`${NODE}-shim`, `${GUEST}-vlan${cutVlan}`].sort(), `the cut commands: ${JSON.stringify([...out.values()])}`);
        assert.match(out.get(`${NODE}-shim`)?.error ?? "", /no exit within 5000 ms/);
        assert.match(out.get(`${GUEST}-vlan${cutVlan}`)?.error ?? "", /killed|exited with status/);
        const skipped = [...out.values()].filter((o) => o.skipped).map((o) => o.name).sort();
        assert.deepEqual(skipped, [NODE_ROUTE, `${GUEST}-shim`, GUEST_ROUTE].filter((n) => cutVlan === "50" || n.startsWith(NODE)).sort());

        // node1: the shim script's command failed (killed), so the script undid its own work before
        // it exited: no shim link, no state, no fragment. vlan1: the session was killed outright
        // (no trap runs), leaving an unfinished create: mid-way (the link made, not up, its undo
        // script saved, not committed) unless a later command of the same run on that host (they
        // wait on the host lock) undid it first thing, which its output then says.
        const cut = await snapshots([NODE, GUEST]);
        const shimFeature = FEATURES[NODE][`${NODE}-shim`];
        const vlanFeature = FEATURES[GUEST][`${GUEST}-vlan${cutVlan}`];
        const vlanState = `${HOST_PATHS.stateRoot}/${featureKey(vlanFeature)}`;
        assert.equal(linkByName(cut[NODE], SHIM), undefined, `${NODE}: the failed shim create left its link`);
        assert.equal(cut[NODE].contents[`${HOST_PATHS.stateRoot}/${featureKey(shimFeature)}/prior`], undefined, `${NODE}: the failed shim create left its state`);
        assert.equal(cut[NODE].contents[bootFragmentPath(shimFeature)], undefined, `${NODE}: shim fragment written after the cut point`);
        assert.equal(cut[GUEST].contents[bootFragmentPath(vlanFeature)], undefined);
        const sweptBy = [...out.values()].filter((o) => o.name.startsWith(`${GUEST}-`) && o.stdout.includes(`unfinished create ${featureKey(vlanFeature)} undone`)).map((o) => o.name);
        assert.ok(sweptBy.length <= 1, `${GUEST}: undone more than once: ${sweptBy.join(", ")}`);
        if (sweptBy.length === 1) {
            assert.equal(linkByName(cut[GUEST], `eth0.${cutVlan}`), undefined, `${GUEST}: ${sweptBy[0]} undid the cut VLAN but its link is left`);
            assert.equal(cut[GUEST].contents[`${vlanState}/undo`], undefined, `${GUEST}: the cut VLAN's state is left`);
        } else {
            assert.ok(linkByName(cut[GUEST], `eth0.${cutVlan}`) !== undefined && !flags(cut[GUEST], `eth0.${cutVlan}`).includes("UP"), `${GUEST}: the cut VLAN is not mid-way`);
            assert.notEqual(cut[GUEST].contents[`${vlanState}/undo`], undefined, `${GUEST}: the unfinished create saved its undo script first`);
            assert.equal(cut[GUEST].contents[`${vlanState}/owners`], undefined, `${GUEST}: the unfinished create is committed`);
        }
        log(`${GUEST}: the cut VLAN ${cutVlan} create was ${sweptBy.length === 1 ? `undone by ${sweptBy[0]} in the same run` : "left unfinished for the re-run"}`);
        await Promise.all([NODE, GUEST].map((h) => sh(h, REMOVE_CUT)));
        log(`cut ${NODE} at "${nodeHit.args}" (connection dropped), ${GUEST} at "${guestHit.args}" (session killed)`);

        // The next `pulumi up`: probe, then create what failed or never ran; the rest is unchanged.
        const rerunPlan = await program(cfg);
        const rerun = await stack.up(rerunPlan, HOSTS);
        assertAllOk(rerun, "re-run after the cut");
        const ranNow = Object.entries(actions(rerun)).filter(([, a]) => a !== "same").map(([n]) => n).sort();
        assert.deepEqual(ranNow, [...failed, ...skipped, ...[PRIOR_ON].flatMap((h) => hostCmds(rerunPlan, h).map((c) => c.name))].sort());
        await ensureContainer(GUEST);
        const s = await snapshots(HOSTS);
        for (const h of [NODE, GUEST]) {
            assertApplied(s[h]);
            assertBootFiles(h, s[h], prior);
            assertSame(`${h} after the re-run`, runtimeView(applied[h]), runtimeView(s[h]));
            assert.deepEqual(filesOfAnApply(s[h]), filesOfAnApply(applied[h]), `${h}: files after the re-run`);
        }
        const clean = await program(cfg);
        for (const h of HOSTS) assert.deepEqual(changed(rerunPlan, clean, h), [], `${h}: drift after the re-run`);
        current = clean;
        await Promise.all([assertPing(NODE, true, "after the re-run"), assertPing(GUEST, true, "after the re-run")]);

        // And the destroy still puts back what was there before the cut run.
        await Promise.all([removeContainer(NODE), removeContainer(GUEST)]);
        assertAllOk(await stack.destroy(HOSTS), "destroy after the cut");
        const back = await snapshots(HOSTS);
        for (const h of HOSTS) assertSame(`${h} destroyed after the cut`, exactView(prior[h]), exactView(back[h]));
        current = undefined;
    });

    it("7. preflight: a missing parent NIC and a kernel without 802.1Q fail with clear messages naming the host and change nothing", async () => {
        const before = await snapshot(PRE);
        assertSame(`${PRE} before`, exactView(prior[PRE]), exactView(before));
        const cases = [
            {
                what: "missing parent NIC",
                extra: { parent: "eth9" },
                preflight: `pulumi-macvlan ${PRE}: preflight failed: parent NIC eth9 does not exist; nothing was changed`,
                feature: `${PRE}-promisc`,
                featureMessage: `pulumi-macvlan ${PRE} promisc-eth9: preflight failed: parent NIC eth9 does not exist; nothing was changed`,
            },
            {
                what: "no 802.1Q in the kernel",
                extra: { vlans: [50] },
                preflight: `pulumi-macvlan ${PRE}: preflight failed: this kernel has no 802.1Q VLAN support (no /proc/net/vlan, and modprobe 8021q failed); nothing was changed`,
                feature: `${PRE}-vlan50`,
                featureMessage: `pulumi-macvlan ${PRE} vlan-eth0.50: preflight failed: this kernel has no 802.1Q VLAN support (no /proc/net/vlan, and modprobe 8021q failed); nothing was changed`,
            },
        ];
        for (const k of cases) {
            const plan = await program(preflightConfig(lab, k.extra));
            const s7 = new Stack();
            const out = await s7.up(plan, [PRE]);
            const pre = out.get(`${PRE}-preflight`) as Outcome;
            assert.equal(pre.ok, false, `${k.what}: the preflight passed`);
            assert.match(pre.error ?? "", /Process exited with status 2\n/, k.what);
            assert.equal(/\nstderr: (.*)$/s.exec(pre.error ?? "")?.[1], k.preflight, k.what);
            const others = [...out.values()].filter((o) => o.name !== `${PRE}-preflight`);
            assert.ok(others.length > 0 && others.every((o) => o.skipped), `${k.what}: nothing runs after a failed preflight`);
            assert.equal(s7.state.size, 0);
            // The feature's own script refuses as well (it runs the same checks first).
            const f = await runOne(plan.get(k.feature) as Cmd, "create", {});
            assert.equal(f.ok, false, `${k.what}: ${k.feature} passed`);
            assert.match(f.error ?? "", /Process exited with status 2\n/);
            assert.equal(/\nstderr: (.*)$/s.exec(f.error ?? "")?.[1], k.featureMessage, k.what);
            const after = await snapshot(PRE);
            assertSame(`${PRE} after the failed preflight (${k.what})`, exactView(before), exactView(after));
        }
        const lock = await labExec(PRE, `test -e ${LOCK_FILE}`);
        assert.equal(lock.code, 1, `${PRE}: a failed preflight must not even create the lock file`);
        // With the probe on, the missing parent is refused by the program, before anything registers.
        const probed = { ...preflightConfig(lab, { parent: "eth9" }), "macvlan:probe": "true" };
        await assert.rejects(program(probed), /hosts\[0\]\.parent eth9 does not exist on host node3/);
        assertSame(`${PRE} after the refused program`, exactView(before), exactView(await snapshot(PRE)));
    });

    it("8. two stacks on one host: each records its owner (project/stack/host); the first destroy keeps what the other still holds, the last restores; another stack's different values are refused; an older release's owner entry is taken over", async () => {
        const g = labHostOf(lab, GUEST);
        const conn: CommandConnection = { host: g.address, port: g.port, user: g.user, hostKey: g.hostKey, privateKey: readFileSync(lab.privateKeyPath, "utf8") };
        const before = await snapshot(GUEST);
        assertSame(`${GUEST} before`, exactView(prior[GUEST]), exactView(before));
        const features: HostFeature[] = [
            { kind: "promisc", parent: "eth0" },
            { kind: "ipforward" },
            { kind: "vlan", parent: "eth0", id: 50 },
            { kind: "shim", lower: "eth0.50", link: SHIM, address: "198.18.50.250/32" },
        ];
        const owner = (stackName: string) => featureOwner("pulumi-macvlan", stackName, GUEST);
        const run = async (stackName: string, f: HostFeature, action: "create" | "delete") => {
            const r = renderFeature({ host: GUEST, owner: owner(stackName) }, f, "tok-8");
            return runRemote(conn, r[action], `${stackName} ${featureKey(f)} ${action}`, undefined, r.stdin);
        };
        const owners = (f: HostFeature) => sh(GUEST, `cat ${HOST_PATHS.stateRoot}/${featureKey(f)}/owners`);
        for (const f of features) await run("alpha", f, "create");
        const applied = await snapshot(GUEST);
        for (const f of features) {
            const out = await run("beta", f, "create");
            assert.match(out.stdout, new RegExp(`owned by pulumi-macvlan/beta/${GUEST}`), featureKey(f));
            assert.equal(await owners(f), `${owner("alpha")}\n${owner("beta")}\n`, featureKey(f));
        }
        assertSame(`${GUEST} with both stacks`, runtimeView(applied), runtimeView(await snapshot(GUEST)));
        // Stack gamma wants the same shim link with another address: refused, nothing changed.
        const refused = await run("gamma", { kind: "shim", lower: "eth0.50", link: SHIM, address: "198.18.50.251/32" }, "create").then(
            () => undefined,
            (e: Error) => e.message,
        );
        assert.ok(refused !== undefined, "a different shim of another stack was applied");
        assert.match(refused, new RegExp(`preflight failed: shim-${SHIM} is held by ${owner("alpha")}, ${owner("beta")} as 'shim lower=eth0.50 link=${SHIM} address=198\\.18\\.50\\.250/32'; this wants 'shim lower=eth0.50 link=${SHIM} address=198\\.18\\.50\\.251/32'`));
        // Alpha's destroy, in reverse order: every feature kept for beta (its containers keep their VLAN).
        for (const f of [...features].reverse()) {
            const out = await run("alpha", f, "delete");
            assert.equal(out.stdout, `pulumi-macvlan ${GUEST} ${featureKey(f)}: changed (kept: also held by ${owner("beta")})\n`);
        }
        const kept = await snapshot(GUEST);
        assertSame(`${GUEST} after the first stack's destroy`, runtimeView(applied), runtimeView(kept));
        assert.ok(flags(kept, "eth0.50").includes("UP") && ipv4(kept, SHIM).includes("198.18.50.250/32"));
        for (const f of features) assert.equal(await owners(f), `${owner("beta")}\n`);
        // Beta's destroy restores the host byte for byte.
        for (const f of [...features].reverse()) await run("beta", f, "delete");
        assertSame(`${GUEST} after both destroys`, exactView(before), exactView(await snapshot(GUEST)));
        // A state directory an older release wrote (owner entry: the bare host name, no undo script
        // or identity): the create of the same host entry takes the entry over, so its delete is the last.
        const fwd: HostFeature = { kind: "ipforward" };
        await run("alpha", fwd, "create");
        const d = `${HOST_PATHS.stateRoot}/${featureKey(fwd)}`;
        await sh(GUEST, `echo ${GUEST} > ${d}/owners && rm ${d}/undo ${d}/identity`);
        await run("alpha", fwd, "create");
        assert.equal(await owners(fwd), `${owner("alpha")}\n`);
        const last = await run("alpha", fwd, "delete");
        assert.doesNotMatch(last.stdout, /kept/);
        assertSame(`${GUEST} after the takeover and its destroy`, exactView(before), exactView(await snapshot(GUEST)));
    });
});
