/**
 * The lab: real Linux hosts on one machine, for the system tests and for trying the product
 * (`npm run lab:up`, then `pulumi up -s lab`). Needs root. See lab/README.md.
 *
 * Topology (everything named with the prefix `mvl`, so leftovers are easy to find):
 *
 *   machine (root netns)            switch netns mvl-lan                 hosts
 *   mvl-gw 198.18.0.1/24  ──veth──  [mvlab0 bridge] ── port mvl-node1 ──veth── eth0 198.18.0.11 (netns mvl-node1)
 *   (the LAN's router; no                           ── port mvl-node2 ──veth── eth0 198.18.0.12 (netns mvl-node2)
 *    forwarding, no NAT)                            ── port mvl-node3 ──veth── eth0 198.18.0.13 (netns mvl-node3)
 *                                                   ── port mvl-vlan1 ──tap─── eth0 198.18.0.21 (QEMU guest vlan1)
 *                                                   ── port mvl-vlan2 ──tap─── eth0 198.18.0.22 (QEMU guest vlan2)
 *
 * The switch lives in its own network namespace rather than in the machine's: this machine loads
 * br_netfilter with bridge-nf-call-iptables=1, so a bridge in the root namespace would send every
 * lab frame through the machine's iptables FORWARD chain (a Docker-style DROP policy there would
 * silently cut the LAN). A fresh namespace has its own, empty netfilter. The machine reaches the
 * LAN through one veth, mvl-gw, which carries the router address.
 *
 * Each netns host has its own network, mount and UTS namespaces, a root filesystem that is a
 * tmpfs-backed overlay of the machine's (nothing it writes reaches the machine), its own OpenSSH
 * server on its address and its own Docker Engine (Debian's 20.10). Each guest is QEMU running a
 * Debian kernel (with 802.1Q, unlike the machine's) on the machine's root, read-only over 9p, with
 * the same overlay, sshd and dockerd (vfs storage) inside (lab/guest.ts).
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { buildInitramfs, describeBoot, findGuestKernel, GUEST_TOOLS, guestAccel, INITRAMFS_FAILED, QEMU, startGuestVm } from "./guest";
import type { GuestAccel, GuestKernel } from "./guest";
import { alive, CLEAN_ENV, readTail, run, RunResult, shq, sleep, spawnDetached, waitFor } from "./proc";
import {
    DOCKERD_NETWORK_FLAGS,
    GUEST_FAILED,
    GUEST_READY,
    renderGuestInit,
    renderHolderScript,
    sshdOptions,
} from "./scripts";
import { renderLabStack, secretsKeyLines } from "./stack";

// ---------------------------------------------------------------------------------------------
// Constants

/** Every netns, link, cgroup and process name of the lab starts with this. */
export const LAB_PREFIX = "mvl";
/** All lab files: keys, host dirs, engines' data roots, logs, state. Removed by labDown. */
export const LAB_DIR = "/var/lib/pulumi-macvlan-lab";
const LOCK_FILE = "/run/pulumi-macvlan-lab.lock";
const STATE_FILE = path.join(LAB_DIR, "lab.json");
export const SWITCH_NETNS = "mvl-lan";
export const BRIDGE = "mvlab0";
/** The machine's link to the LAN, carrying the router address. */
export const ROUTER_LINK = "mvl-gw";
export const LAN_CIDR = "198.18.0.0/24";
export const GATEWAY = "198.18.0.1";
export const PREFIX_LENGTH = 24;
/** The image every lab engine has: busybox, imported from files (no registry). */
export const LAB_IMAGE = "local/busybox:1";
/** Path of the stack file labUp writes, in this repository. */
export const LAB_STACK_PATH = path.resolve(__dirname, "../stacks/Pulumi.lab.yaml");

const DOCKER = "/usr/bin/docker"; // Debian's client: the engine's own version (20.10)
const IMAGE_APPLETS = [
    "sh", "ash", "ping", "ping6", "ip", "ifconfig", "route", "arp", "arping", "nc", "udhcpc", "cat",
    "echo", "ls", "sleep", "hostname", "wget", "httpd", "ps", "kill", "true", "false", "grep", "sed",
    "awk", "env", "mkdir", "rm", "cp", "mv", "touch", "date", "id", "uname", "head", "tail", "wc",
    "tr", "cut", "sort", "mount", "top", "free", "df", "find", "xargs", "seq", "test", "[", "printf",
    "traceroute", "nslookup", "ipcalc", "timeout", "vi", "chmod", "ln", "readlink", "sysctl",
];

// ---------------------------------------------------------------------------------------------
// Types

export type LabHostKind = "netns" | "qemu";

/** One lab host, as the tests and the stack see it. */
export interface LabHost {
    /** The stack's host name, e.g. `node1`, `vlan1`. */
    readonly name: string;
    readonly kind: LabHostKind;
    /** The host's address on the LAN (SSH target). */
    readonly address: string;
    readonly prefixLength: number;
    readonly port: number;
    readonly user: string;
    /** The host's NIC on the LAN: `eth0` on both kinds (a veth, or the guest's virtio NIC). */
    readonly parent: string;
    /** The parent's MAC. */
    readonly mac: string;
    /** Pinned SSH host key, `ssh-ed25519 <base64>` (throwaway, new with every lab). */
    readonly hostKey: string;
    /** The host's port on the lab switch (hairpin is set here). */
    readonly bridgePort: string;
    /** netns hosts: the host's network namespace. */
    readonly netns?: string;
    /** netns hosts: a socket of the host's engine reachable from the machine (`unix://` path). */
    readonly dockerSocket?: string;
    /** What `docker -H` (and @pulumi/docker's provider) uses: `ssh://root@<address>:22`. */
    readonly dockerHost: string;
    /** An engine runs on the host. */
    readonly docker: boolean;
    /** The engine's version as `major.minor`, e.g. `20.10`. */
    readonly dockerVersion: string;
    /** The kernel has 802.1Q (the machine's does not; the guests' do). */
    readonly vlanCapable: boolean;
    /** The host's lab dir on the machine: scripts, logs (sshd.log, dockerd.log, console.log). */
    readonly dir: string;
    readonly pids: { readonly holder?: number; readonly sshd?: number; readonly dockerd?: number; readonly qemu?: number };
}

export interface LabOptions {
    /** Network-namespace hosts node1…nodeN (1-9). Default 3. */
    readonly nodes?: number;
    /** QEMU guests vlan1…vlanN (0-9). Default 2. */
    readonly guests?: number;
    /** Run dockerd inside the guests. Default true. */
    readonly guestDocker?: boolean;
    /** Guest memory (QEMU `-m`). Default 768M. */
    readonly guestMemory?: string;
    /** Reuse a healthy running lab with the same options. Default true. */
    readonly reuse?: boolean;
    /** Progress lines (default: none). */
    readonly log?: (line: string) => void;
}

type LabSettings = Required<Omit<LabOptions, "log">>;

/** The running lab. */
export interface Lab {
    readonly version: 1;
    readonly dir: string;
    readonly hosts: readonly LabHost[];
    readonly lanCidr: string;
    readonly gateway: string;
    readonly prefixLength: number;
    /** The switch's network namespace and the bridge inside it. */
    readonly switchNetns: string;
    readonly bridge: string;
    /** The machine's link to the LAN (carries the gateway address). */
    readonly routerLink: string;
    /** The lab's client key (ed25519, OpenSSH format) and its public half. */
    readonly privateKeyPath: string;
    readonly privateKey: string;
    readonly publicKey: string;
    /** known_hosts with every host's key pinned to its address. */
    readonly knownHostsPath: string;
    /** ssh_config for the lab (`ssh -F`): key, known_hosts, BatchMode, strict host key checking. */
    readonly sshConfigPath: string;
    /**
     * A directory with an `ssh` wrapper that uses that config: put it first on PATH (see labEnv)
     * and `docker -H ssh://root@198.18.0.11 …` works, as it does for @pulumi/docker's provider.
     */
    readonly binDir: string;
    readonly image: { readonly ref: string; readonly tarball: string; readonly rootfs: string };
    /** The stack file labUp wrote. */
    readonly stackPath: string;
    readonly options: LabSettings;
    readonly createdAt: string;
    /** How long the build took (ms). */
    readonly upMs: number;
    /** How the guests boot (absent without guests): the accelerator, the kernel, and why. */
    readonly guestBoot?: { readonly accel: GuestAccel; readonly kernel: string; readonly description: string };
}

interface LabState extends Omit<Lab, "privateKey"> {
    /** Hash of the lab's code that built it: a lab built by other code is rebuilt, not reused. */
    readonly codeHash: string;
    /** Each host's state right after the build (see hostSnapshot): reuse needs it unchanged. */
    readonly baseline: Readonly<Record<string, string>>;
    /** /run/netns existed before the lab first ran `ip netns add`. */
    readonly runNetnsPreexisting: boolean;
}

export interface ExecOptions {
    /** Sent to the remote command's stdin. */
    readonly stdin?: string | Buffer;
    /** Default 120 s; code 124 on timeout. */
    readonly timeoutMs?: number;
    /** Reject on a non-zero exit (with stderr in the message). Default false. */
    readonly check?: boolean;
}

export interface ExecResult {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

// ---------------------------------------------------------------------------------------------
// Preconditions

/** Throws a clear error unless running as root. */
export function requireRoot(): void {
    if (typeof process.getuid !== "function" || process.getuid() !== 0) {
        throw new Error(
            "the pulumi-macvlan lab needs root: it creates network namespaces, a bridge, veth and tap " +
                "links, mounts, and starts sshd, dockerd and QEMU guests. " +
                "Run it as root (e.g. `sudo npm run lab:up`).",
        );
    }
}

const TOOLS: readonly (readonly [string, string])[] = [
    ["/usr/sbin/ip", "iproute2"],
    ["/usr/sbin/bridge", "iproute2"],
    ["/usr/bin/nsenter", "util-linux"],
    ["/usr/bin/unshare", "util-linux"],
    ["/usr/sbin/sshd", "openssh-server"],
    ["/usr/bin/ssh", "openssh-client"],
    ["/usr/bin/ssh-keygen", "openssh-client"],
    ["/usr/sbin/dockerd", "docker.io"],
    [DOCKER, "docker.io"],
    ["/usr/bin/docker-init", "docker.io (tini)"],
    ["/bin/busybox", "busybox-static"],
    ["/usr/bin/tar", "tar"],
];
/** Throws, naming every missing program and its Debian package. */
export function requireTools(guests = 1): void {
    const need = guests > 0 ? [...TOOLS, ...GUEST_TOOLS] : TOOLS;
    const missing = need.filter(([p]) => !fs.existsSync(p));
    if (missing.length > 0) {
        throw new Error(
            "the pulumi-macvlan lab is missing programs: " +
                missing.map(([p, pkg]) => `${p} (package ${pkg})`).join(", ") +
                ". Install them: apt-get install -y " +
                [...new Set(missing.map(([, pkg]) => pkg.split(" ")[0]))].join(" "),
        );
    }
    if (guests > 0) findGuestKernel();
}

// ---------------------------------------------------------------------------------------------
// Layout

interface HostPlan {
    readonly name: string;
    readonly kind: LabHostKind;
    readonly address: string;
    readonly mac: string;
    readonly dir: string;
    readonly port: string;
}

function settings(opts: LabOptions): LabSettings {
    const s: LabSettings = {
        nodes: opts.nodes ?? 3,
        guests: opts.guests ?? 2,
        guestDocker: opts.guestDocker ?? true,
        guestMemory: opts.guestMemory ?? "768M",
        reuse: opts.reuse ?? true,
    };
    if (!Number.isInteger(s.nodes) || s.nodes < 1 || s.nodes > 9) throw new Error(`lab: nodes must be 1-9, got ${s.nodes}`);
    if (!Number.isInteger(s.guests) || s.guests < 0 || s.guests > 9) throw new Error(`lab: guests must be 0-9, got ${s.guests}`);
    if (!/^[0-9]+[KMG]$/.test(s.guestMemory)) throw new Error(`lab: guestMemory must look like 768M, got ${s.guestMemory}`);
    return s;
}

function plan(s: LabSettings): HostPlan[] {
    const hosts: HostPlan[] = [];
    const mk = (name: string, kind: LabHostKind, octet: number): HostPlan => ({
        name,
        kind,
        address: `198.18.0.${octet}`,
        mac: `02:6d:76:6c:00:${octet.toString(16).padStart(2, "0")}`,
        dir: path.join(LAB_DIR, "hosts", name),
        port: `${LAB_PREFIX}-${name}`,
    });
    for (let i = 1; i <= s.nodes; i++) hosts.push(mk(`node${i}`, "netns", 10 + i));
    for (let i = 1; i <= s.guests; i++) hosts.push(mk(`vlan${i}`, "qemu", 20 + i));
    return hosts;
}

const p = {
    sshDir: path.join(LAB_DIR, "ssh"),
    key: path.join(LAB_DIR, "ssh", "id_lab"),
    authorizedKeys: path.join(LAB_DIR, "ssh", "authorized_keys"),
    knownHosts: path.join(LAB_DIR, "ssh", "known_hosts"),
    sshConfig: path.join(LAB_DIR, "ssh", "config"),
    binDir: path.join(LAB_DIR, "bin"),
    imageDir: path.join(LAB_DIR, "image"),
    rootfs: path.join(LAB_DIR, "image", "rootfs"),
    tarball: path.join(LAB_DIR, "image", "busybox.tar"),
    hostKey: (h: { dir: string }) => path.join(h.dir, "ssh_host_ed25519_key"),
};

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * Bring the lab up and return it. Idempotent: a running lab with the same options and code,
 * healthy and with every host as it was right after the build (see hostChanges), is reused (a few
 * seconds); anything else — a different lab, a half-dead or dirty one, leftovers of a killed run —
 * is torn down completely first. Writes `stacks/Pulumi.lab.yaml`. Needs root. Waits while another
 * process holds the lab (see releaseLab).
 */
export async function labUp(opts: LabOptions = {}): Promise<Lab> {
    requireRoot();
    const s = settings(opts);
    requireTools(s.guests);
    const log = opts.log ?? (() => undefined);
    return withSession(opts.log, async () => {
        const prev = readState();
        if (prev && s.reuse && sameSettings(prev.options, s) && prev.codeHash === codeHash()) {
            const problem = await healthProblem(prev);
            if (problem === undefined) {
                writeStack(prev);
                log(`reusing the running lab (${prev.hosts.map((h) => h.name).join(", ")})`);
                return withKey(prev);
            }
            log(`the running lab is not healthy (${problem}): rebuilding`);
        } else if (prev) {
            log(s.reuse ? "a lab with other options or built by other lab code is running: rebuilding" : "rebuilding (reuse: false)");
        }
        const t0 = Date.now();
        await teardown(log);
        log(`cleaned up in ${Date.now() - t0} ms`);
        try {
            return await build(s, log);
        } catch (e) {
            if (process.env.MVL_LAB_KEEP === "1") throw e;
            log(`lab:up failed, cleaning up (set MVL_LAB_KEEP=1 to keep the wreck for debugging)`);
            await teardown(log).catch(() => undefined);
            throw e;
        }
    });
}

/**
 * Tear down the lab completely: every process (daemons, containers, guests), netns, link, cgroup,
 * mount and file of the lab, found by name prefix and location whether or not a state file is
 * left. Safe to call when nothing is running. Needs root.
 */
export async function labDown(opts: { log?: (line: string) => void } = {}): Promise<void> {
    requireRoot();
    await withSession(opts.log, () => teardown(opts.log ?? (() => undefined)));
}

/** The running lab (throws when there is none). */
export function readLab(): Lab {
    const st = readState();
    if (!st) throw new Error(`no lab is running (no ${STATE_FILE}): run \`npm run lab:up\` as root`);
    return withKey(st);
}

/** A lab host by name (throws for an unknown name). */
export function labHost(name: string, lab: Lab = readLab()): LabHost {
    const h = lab.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no lab host ${JSON.stringify(name)}; the lab has ${lab.hosts.map((x) => x.name).join(", ")}`);
    return h;
}

/** ssh arguments for a lab host, without the remote command: `ssh ${args} -- <command>`. */
export function sshArgs(host: LabHost, lab: Pick<Lab, "sshConfigPath"> = readLab()): string[] {
    return ["-F", lab.sshConfigPath, "-p", String(host.port), "-l", host.user, host.address];
}

/**
 * Run `script` on a lab host over real SSH (the lab key, the pinned host key, BatchMode), as
 * remote.Command does: the script is the command line the remote user's shell runs.
 * Resolves with the exit code (255: SSH itself failed) unless `check` is set.
 */
export async function labExec(hostName: string, script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const lab = readLab();
    const host = labHost(hostName, lab);
    const r = await run("/usr/bin/ssh", [...sshArgs(host, lab), "--", script], {
        input: opts.stdin,
        timeoutMs: opts.timeoutMs,
        allowFail: true,
    });
    if (opts.check && r.code !== 0) {
        throw new Error(`${hostName}: exit ${r.code} from ${JSON.stringify(script.slice(0, 200))}\n${r.stderr || r.stdout}`);
    }
    return r;
}

/** The environment for running `docker -H ssh://…` (or anything using `ssh`) against the lab. */
export function labEnv(lab: Pick<Lab, "binDir"> = readLab()): Record<string, string> {
    return { ...CLEAN_ENV, PATH: `${lab.binDir}:${CLEAN_ENV.PATH}` };
}

/** Run Debian's docker client (the engine's version) against a lab host through `ssh://`. */
export async function labDocker(hostName: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const lab = readLab();
    const host = labHost(hostName, lab);
    const r = await run(DOCKER, ["-H", host.dockerHost, ...args], {
        env: labEnv(lab),
        input: opts.stdin,
        timeoutMs: opts.timeoutMs,
        allowFail: true,
    });
    if (opts.check && r.code !== 0) throw new Error(`${hostName}: docker ${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
    return r;
}

/**
 * Make `ref` (default `local/busybox:1`) exist in a host's engine: `docker import` of the lab's
 * busybox rootfs (busybox-static plus applet links: sh, ping, ip, ifconfig, nc, wget, httpd,
 * udhcpc, …; `/www/index.html` for httpd), run on the host over SSH. Any `ref` gets that same
 * content: there is no registry in the lab, so a stack's image names resolve to busybox.
 * Returns the image id. Idempotent.
 */
export async function ensureImage(host: string | LabHost, ref: string = LAB_IMAGE): Promise<string> {
    const name = typeof host === "string" ? host : host.name;
    if (!/^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$/.test(ref)) {
        throw new Error(`ensureImage: not an image reference: ${JSON.stringify(ref)}`);
    }
    const script =
        `docker image inspect ${shq(ref)} >/dev/null 2>&1 || ` +
        `docker import -c ${shq('CMD ["/bin/sh"]')} -m 'pulumi-macvlan lab busybox' ${shq(p.tarball)} ${shq(ref)} >/dev/null && ` +
        `docker image inspect --format '{{.Id}}' ${shq(ref)}`;
    const r = await labExec(name, script, { check: true, timeoutMs: 180_000 });
    return r.stdout.trim();
}

/** Switch hairpin (reflective relay, what VEPA mode needs) on or off on a host's switch port. */
export async function setHairpin(host: string | LabHost, on: boolean): Promise<void> {
    const h = typeof host === "string" ? labHost(host) : host;
    await run("/usr/sbin/bridge", ["-n", SWITCH_NETNS, "link", "set", "dev", h.bridgePort, "hairpin", on ? "on" : "off"]);
}

/** Whether a host's switch port hairpins. */
export async function getHairpin(host: string | LabHost): Promise<boolean> {
    const h = typeof host === "string" ? labHost(host) : host;
    const r = await run("/usr/sbin/ip", ["-n", SWITCH_NETNS, "-j", "-d", "link", "show", "dev", h.bridgePort]);
    const info = (JSON.parse(r.stdout) as { linkinfo?: { info_slave_data?: { hairpin?: boolean } } }[])[0];
    const v = info?.linkinfo?.info_slave_data?.hairpin;
    if (typeof v !== "boolean") throw new Error(`cannot read hairpin of ${h.bridgePort}: ${r.stdout}`);
    return v;
}

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
    if (fs.existsSync(LOCK_FILE) && sessionToken === undefined && !sessionOwner()) files.push(LOCK_FILE);
    return { netns, links, processes, mounts, cgroups, files };
}

// ---------------------------------------------------------------------------------------------
// Build

async function build(s: LabSettings, log: (l: string) => void): Promise<Lab> {
    const t0 = Date.now();
    const hosts = plan(s);
    const runNetnsPreexisting = fs.existsSync("/run/netns");
    fs.mkdirSync(LAB_DIR, { recursive: true, mode: 0o700 });
    fs.chmodSync(LAB_DIR, 0o700);
    for (const d of [p.sshDir, p.binDir, p.imageDir, ...hosts.map((h) => h.dir)]) fs.mkdirSync(d, { recursive: true, mode: 0o700 });

    // Keys: one client key, one host key per host; all throwaway, all under LAB_DIR.
    await Promise.all([
        keygen(p.key, "pulumi-macvlan-lab"),
        ...hosts.map((h) => keygen(p.hostKey(h), `pulumi-macvlan-lab ${h.name}`)),
    ]);
    const publicKey = fs.readFileSync(`${p.key}.pub`, "utf8").trim();
    fs.writeFileSync(p.authorizedKeys, publicKey + "\n", { mode: 0o600 });
    const hostKeys = new Map(hosts.map((h) => [h.name, pubKey(`${p.hostKey(h)}.pub`)]));
    fs.writeFileSync(p.knownHosts, hosts.map((h) => `${h.address} ${hostKeys.get(h.name)}\n`).join(""), { mode: 0o600 });
    fs.writeFileSync(p.sshConfig, sshConfig(), { mode: 0o600 });
    fs.writeFileSync(path.join(p.binDir, "ssh"), `#!/bin/sh\nexec /usr/bin/ssh -F ${shq(p.sshConfig)} "$@"\n`, { mode: 0o755 });
    await buildImage();
    log(`keys and image ready (${Date.now() - t0} ms)`);

    let guests: GuestSetup | undefined;
    if (hosts.some((h) => h.kind === "qemu")) {
        const kernel = findGuestKernel();
        const initramfs = await buildInitramfs(kernel, path.join(LAB_DIR, "guest", "initrd.gz"));
        const boot = await guestAccel(kernel, initramfs);
        guests = { kernel, initramfs, accel: boot.accel, description: describeBoot(kernel, boot) };
        log(`guests: ${guests.description} (${Date.now() - t0} ms)`);
    }

    await buildSwitch();
    for (const h of hosts) await buildLink(h);
    log(`switch and links ready (${Date.now() - t0} ms)`);

    const pids = new Map<string, LabHost["pids"]>();
    await Promise.all(
        hosts.map(async (h) => {
            const t = Date.now();
            pids.set(h.name, h.kind === "netns" ? await startNode(h) : await startGuest(h, s, guests as GuestSetup));
            log(`${h.name}: up in ${Date.now() - t} ms`);
        }),
    );

    const machineVlan = machineHas8021q();
    const labHosts: LabHost[] = hosts.map((h) => ({
        name: h.name,
        kind: h.kind,
        address: h.address,
        prefixLength: PREFIX_LENGTH,
        port: 22,
        user: "root",
        parent: "eth0",
        mac: h.mac,
        hostKey: hostKeys.get(h.name) ?? "",
        bridgePort: h.port,
        ...(h.kind === "netns"
            ? { netns: `${LAB_PREFIX}-${h.name}`, dockerSocket: path.join(h.dir, "docker.sock") }
            : {}),
        dockerHost: `ssh://root@${h.address}:22`,
        docker: h.kind === "netns" || s.guestDocker,
        dockerVersion: "",
        vlanCapable: h.kind === "qemu" || machineVlan,
        dir: h.dir,
        pids: pids.get(h.name) ?? {},
    }));
    const state0: LabState = {
        version: 1,
        dir: LAB_DIR,
        hosts: labHosts,
        lanCidr: LAN_CIDR,
        gateway: GATEWAY,
        prefixLength: PREFIX_LENGTH,
        switchNetns: SWITCH_NETNS,
        bridge: BRIDGE,
        routerLink: ROUTER_LINK,
        privateKeyPath: p.key,
        publicKey,
        knownHostsPath: p.knownHosts,
        sshConfigPath: p.sshConfig,
        binDir: p.binDir,
        image: { ref: LAB_IMAGE, tarball: p.tarball, rootfs: p.rootfs },
        stackPath: LAB_STACK_PATH,
        options: s,
        createdAt: new Date().toISOString(),
        upMs: 0,
        ...(guests ? { guestBoot: { accel: guests.accel, kernel: guests.kernel.release, description: guests.description } } : {}),
        codeHash: codeHash(),
        baseline: {},
        runNetnsPreexisting,
    };
    writeState(state0); // labExec and ensureImage read it

    // Over real SSH: every host answers with its own name, and every engine gets the image.
    const versions = new Map<string, string>();
    await Promise.all(
        labHosts.map(async (h) => {
            const r = await labExec(
                h.name,
                h.docker ? "hostname; docker version --format '{{.Server.Version}}'" : "hostname",
                { check: true, timeoutMs: 60_000 },
            );
            const [name, version = ""] = r.stdout.trim().split("\n");
            if (name !== h.name) throw new Error(`${h.address} answered as ${JSON.stringify(name)}, expected ${h.name}`);
            versions.set(h.name, version.split(".").slice(0, 2).join("."));
            if (h.docker) await ensureImage(h.name);
        }),
    );
    const baseline: Record<string, string> = {};
    await Promise.all(labHosts.map(async (h) => (baseline[h.name] = await hostSnapshot(h))));
    const state: LabState = {
        ...state0,
        hosts: labHosts.map((h) => ({ ...h, dockerVersion: versions.get(h.name) ?? "" })),
        baseline,
        upMs: Date.now() - t0,
    };
    writeState(state);
    writeStack(state);
    log(`lab up in ${state.upMs} ms; stack written to ${LAB_STACK_PATH}`);
    return withKey(state);
}

async function keygen(file: string, comment: string): Promise<void> {
    await run("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
}

/** `ssh-ed25519 AAAA…` (type and key, no comment). */
function pubKey(file: string): string {
    return fs.readFileSync(file, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
}

function sshConfig(): string {
    return [
        "# pulumi-macvlan lab: SSH client settings for the lab hosts only (used as `ssh -F <this file>`).",
        "Host *",
        "  User root",
        `  IdentityFile ${p.key}`,
        "  IdentitiesOnly yes",
        "  BatchMode yes",
        "  PasswordAuthentication no",
        "  KbdInteractiveAuthentication no",
        "  GSSAPIAuthentication no",
        `  UserKnownHostsFile ${p.knownHosts}`,
        "  GlobalKnownHostsFile /dev/null",
        "  StrictHostKeyChecking yes",
        "  UpdateHostKeys no",
        "  ConnectTimeout 10",
        "  ServerAliveInterval 5",
        "  ServerAliveCountMax 6",
        "  ControlMaster no",
        "  ControlPath none",
        "  LogLevel ERROR",
        "",
    ].join("\n");
}

async function buildImage(): Promise<void> {
    const r = p.rootfs;
    for (const d of ["bin", "etc", "www", "tmp", "proc", "sys", "dev", "root", "run", "var/run"]) {
        fs.mkdirSync(path.join(r, d), { recursive: true });
    }
    fs.chmodSync(path.join(r, "tmp"), 0o1777);
    fs.copyFileSync("/bin/busybox", path.join(r, "bin", "busybox"));
    fs.chmodSync(path.join(r, "bin", "busybox"), 0o755);
    for (const a of IMAGE_APPLETS) fs.symlinkSync("busybox", path.join(r, "bin", a));
    fs.symlinkSync("bin", path.join(r, "sbin"));
    fs.writeFileSync(path.join(r, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
    fs.writeFileSync(path.join(r, "etc", "group"), "root:x:0:\nnogroup:x:65534:\n");
    fs.writeFileSync(path.join(r, "www", "index.html"), "pulumi-macvlan lab\n");
    await run("/usr/bin/tar", ["--numeric-owner", "--owner=0", "--group=0", "-C", r, "-cf", p.tarball, "."]);
}

const ip = (...args: string[]) => run("/usr/sbin/ip", args);
const ipn = (ns: string, ...args: string[]) => run("/usr/sbin/ip", ["-n", ns, ...args]);

/** The switch: its own netns with the bridge, and the machine's router link into it. */
async function buildSwitch(): Promise<void> {
    await ip("netns", "add", SWITCH_NETNS);
    await ipn(SWITCH_NETNS, "link", "set", "lo", "up");
    // No netfilter on the switch (per-netns sysctls; absent when br_netfilter is not loaded).
    for (const k of ["bridge-nf-call-iptables", "bridge-nf-call-ip6tables", "bridge-nf-call-arptables"]) {
        await run("/usr/sbin/ip", ["netns", "exec", SWITCH_NETNS, "/bin/sh", "-c", `f=/proc/sys/net/bridge/${k}; [ ! -e $f ] || echo 0 > $f`]);
    }
    await ipn(SWITCH_NETNS, "link", "add", BRIDGE, "type", "bridge", "stp_state", "0", "forward_delay", "0");
    await ipn(SWITCH_NETNS, "link", "set", BRIDGE, "up");
    // The machine's side: the router address, never forwarding (even if the machine's
    // ip_forward is on: IPv4 forwarding is decided by the receiving link's own setting), no IPv6.
    await ip("link", "add", ROUTER_LINK, "address", "02:6d:76:6c:00:01", "type", "veth", "peer", "name", `${ROUTER_LINK}-p`, "netns", SWITCH_NETNS);
    await run("/usr/sbin/sysctl", ["-q", "-w", `net.ipv4.conf.${ROUTER_LINK}.forwarding=0`, `net.ipv6.conf.${ROUTER_LINK}.disable_ipv6=1`]);
    await ip("addr", "add", `${GATEWAY}/${PREFIX_LENGTH}`, "dev", ROUTER_LINK);
    await ip("link", "set", ROUTER_LINK, "up");
    await ipn(SWITCH_NETNS, "link", "set", `${ROUTER_LINK}-p`, "master", BRIDGE, "up");
}

/** A host's NIC: a veth (eth0 in the host's netns) or a tap (the guest's eth0), on the switch. */
async function buildLink(h: HostPlan): Promise<void> {
    if (h.kind === "netns") {
        const ns = `${LAB_PREFIX}-${h.name}`;
        await ip("netns", "add", ns);
        await ip("link", "add", h.port, "netns", SWITCH_NETNS, "type", "veth", "peer", "name", "eth0", "address", h.mac, "netns", ns);
        await ipn(ns, "link", "set", "lo", "up");
        await ipn(ns, "addr", "add", `${h.address}/${PREFIX_LENGTH}`, "dev", "eth0");
        await ipn(ns, "link", "set", "eth0", "up");
    } else {
        await ipn(SWITCH_NETNS, "tuntap", "add", "dev", h.port, "mode", "tap");
    }
    await ipn(SWITCH_NETNS, "link", "set", h.port, "master", BRIDGE, "up");
}

const nsenterInto = (pid: number) => ["--target", String(pid), "--mount", "--uts", "--net", "--root", "--wd", "--"];

async function startNode(h: HostPlan): Promise<LabHost["pids"]> {
    const ns = `${LAB_PREFIX}-${h.name}`;
    const rootDir = path.join(h.dir, "root");
    const dockerDataDir = path.join(h.dir, "docker");
    const readyFile = path.join(h.dir, "holder.ready");
    const script = path.join(h.dir, "holder.sh");
    fs.mkdirSync(rootDir, { recursive: true });
    fs.mkdirSync(dockerDataDir, { recursive: true, mode: 0o710 });
    fs.writeFileSync(script, renderHolderScript({ name: h.name, hostDir: h.dir, rootDir, dockerDataDir, readyFile }), { mode: 0o700 });
    const holderLog = path.join(h.dir, "holder.log");
    const holder = spawnDetached(
        "/usr/bin/nsenter",
        [`--net=/run/netns/${ns}`, "--", "/usr/bin/unshare", "--mount", "--uts", "--propagation", "private", "--", "/bin/sh", script],
        holderLog,
    );
    await waitFor(`${h.name}'s namespaces`, 20_000, () => {
        if (fs.existsSync(readyFile)) return true;
        if (!alive(holder)) throw new Error(`${h.name}: the namespace holder exited:\n${readTail(holderLog)}`);
        return undefined;
    });

    const sshdLog = path.join(h.dir, "sshd.log");
    const sshd = spawnDetached(
        "/usr/bin/nsenter",
        [...nsenterInto(holder), "/usr/sbin/sshd", "-D", "-e", "-f", "/dev/null", ...sshdOptions(h.address, p.hostKey(h), p.authorizedKeys)],
        sshdLog,
    );
    const dockerdLog = path.join(h.dir, "dockerd.log");
    const sock = path.join(h.dir, "docker.sock");
    const dockerd = spawnDetached(
        "/usr/bin/nsenter",
        [
            ...nsenterInto(holder),
            "/usr/sbin/dockerd",
            "--data-root=/var/lib/docker",
            "--exec-root=/run/docker",
            "--pidfile=/run/docker.pid",
            "-H",
            "unix:///run/docker.sock",
            "-H",
            `unix://${sock}`,
            // Containers' cgroups under /mvl-<host>: labDown finds (and kills) them by that name.
            `--cgroup-parent=/${LAB_PREFIX}-${h.name}`,
            ...DOCKERD_NETWORK_FLAGS,
        ],
        dockerdLog,
    );
    await Promise.all([
        waitFor(`${h.name}'s sshd`, 20_000, async () => {
            if (!alive(sshd)) throw new Error(`${h.name}: sshd exited:\n${readTail(sshdLog)}`);
            return (await tcpOpen(h.address, 22)) ? true : undefined;
        }),
        waitFor(`${h.name}'s dockerd`, 60_000, async () => {
            if (!alive(dockerd)) throw new Error(`${h.name}: dockerd exited:\n${readTail(dockerdLog)}`);
            const r = await run(DOCKER, ["-H", `unix://${sock}`, "version", "--format", "{{.Server.Version}}"], { allowFail: true, timeoutMs: 10_000 });
            return r.code === 0 ? true : undefined;
        }, 200),
    ]);
    return { holder, sshd, dockerd };
}

/** What every guest of one lab boots with. */
interface GuestSetup {
    readonly kernel: GuestKernel;
    readonly initramfs: string;
    readonly accel: GuestAccel;
    readonly description: string;
}

async function startGuest(h: HostPlan, s: LabSettings, g: GuestSetup): Promise<LabHost["pids"]> {
    const init = path.join(h.dir, "init.sh");
    const consoleLog = path.join(h.dir, "console.log");
    fs.writeFileSync(
        init,
        renderGuestInit({
            name: h.name,
            address: h.address,
            addressCidr: `${h.address}/${PREFIX_LENGTH}`,
            hostDir: h.dir,
            hostKeyPath: p.hostKey(h),
            authorizedKeysPath: p.authorizedKeys,
            docker: s.guestDocker,
        }),
        { mode: 0o755 },
    );
    // In the switch netns, where its tap is. The machine's root is read-only for the guest; its
    // own lab dir is shared read-write (console and daemon logs, docker.ready).
    const qemu = startGuestVm(
        {
            name: `${LAB_PREFIX}-${h.name}`,
            kernel: g.kernel,
            initramfs: g.initramfs,
            accel: g.accel,
            memory: s.guestMemory,
            init,
            shares: [h.dir],
            tap: { ifname: h.port, mac: h.mac },
        },
        consoleLog,
        SWITCH_NETNS,
    );
    await waitFor(`${h.name} to boot`, 120_000, () => {
        const text = readTail(consoleLog, 20_000);
        if (text.includes(GUEST_FAILED) || text.includes(INITRAMFS_FAILED) || !alive(qemu)) {
            throw new Error(`${h.name}: the guest failed to boot:\n${readTail(consoleLog)}`);
        }
        return text.includes(GUEST_READY) ? true : undefined;
    }, 200);
    await waitFor(`${h.name}'s sshd`, 30_000, async () => ((await tcpOpen(h.address, 22)) ? true : undefined));
    if (s.guestDocker) {
        await waitFor(`${h.name}'s dockerd`, 300_000, () => {
            if (!alive(qemu)) throw new Error(`${h.name}: the guest died:\n${readTail(consoleLog)}`);
            if (readTail(consoleLog, 20_000).includes("docker did not start")) {
                throw new Error(`${h.name}: dockerd did not start in the guest:\n${readTail(path.join(h.dir, "dockerd.log"))}`);
            }
            return fs.existsSync(path.join(h.dir, "docker.ready")) ? true : undefined;
        }, 250);
    }
    return { qemu };
}

/**
 * The machine's kernel has 802.1Q, loaded or loadable (then the netns hosts have it too). Read
 * from files only: trying `ip link add … type vlan` could load the module into the machine.
 */
function machineHas8021q(): boolean {
    const release = fs.readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
    const dir = `/lib/modules/${release}`;
    const has = (file: string, re: RegExp) => {
        try {
            return re.test(fs.readFileSync(file, "utf8"));
        } catch {
            return false;
        }
    };
    return fs.existsSync("/proc/net/vlan") || has(`${dir}/modules.builtin`, /\/8021q\.ko/) || has(`${dir}/modules.dep`, /\/8021q\.ko/);
}

function tcpOpen(host: string, port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const s = net.connect({ host, port, timeout: 1000 });
        const done = (ok: boolean) => {
            s.destroy();
            resolve(ok);
        };
        s.once("connect", () => done(true));
        s.once("error", () => done(false));
        s.once("timeout", () => done(false));
    });
}

// ---------------------------------------------------------------------------------------------
// Health (for reuse)

/** Why a recorded lab cannot be reused, or undefined when it is healthy. */
async function healthProblem(st: LabState): Promise<string | undefined> {
    if (!fs.existsSync(st.privateKeyPath) || !fs.existsSync(st.sshConfigPath)) return "keys missing";
    const netns = new Set(await labNetns());
    if (!netns.has(SWITCH_NETNS)) return "no switch";
    for (const h of st.hosts) {
        if (h.netns && !netns.has(h.netns)) return `${h.name}: netns missing`;
        const dead = Object.entries(h.pids).find(([, pid]) => !alive(pid));
        if (dead) return `${h.name}: ${dead[0]} is not running`;
    }
    const hairpins = (await switchPorts()).filter((port) => port.hairpin).map((port) => port.ifname);
    if (hairpins.length > 0) return `hairpin left on: ${hairpins.join(" ")}`;
    const problems = await Promise.all(
        st.hosts.map(async (h) => {
            try {
                if (h.docker) await ensureImage(h.name);
                const changes = diffLines(st.baseline[h.name] ?? "", await hostSnapshot(h));
                return changes.length > 0 ? `${h.name} is not as built: ${changes.slice(0, 3).join("; ")}` : undefined;
            } catch (e) {
                return `${h.name}: ${(e as Error).message.split("\n")[0]}`;
            }
        }),
    );
    return problems.find((x) => x !== undefined);
}

/**
 * What a test can leave behind on a host, as text: links (with flags such as PROMISC), addresses,
 * routes, the IPv4 forwarding/rp_filter/ARP sysctls, the files in the directories host scripts
 * write, Docker containers and networks. Not images (tests import their own) nor kernel modules
 * (tools load them on demand and nothing unloads them).
 */
function snapshotScript(h: Pick<LabHost, "kind" | "docker">): string {
    const sections = [
        ["links", "ip -br link | sort"],
        ["addresses", "ip -br addr | sort"],
        ["routes", "ip route show table all | sort"],
        [
            "sysctls",
            "cd /proc/sys/net/ipv4 && grep -r . ip_forward conf/*/forwarding conf/*/rp_filter conf/*/arp_ignore conf/*/arp_announce conf/*/proxy_arp | sort",
        ],
        ["files", "ls -lAR --time-style=+ /etc/systemd/system /etc/sysctl.d /etc/pulumi-macvlan /var/lib/pulumi-macvlan /run/pulumi-macvlan.lock 2>&1"],
        ...(h.docker
            ? [
                  ["containers", "docker ps -a --format '{{.Names}} {{.Image}} {{.Status}}' | sed 's/ Up .*/ Up/' | sort"],
                  ["networks", "docker network ls --format '{{.Name}} {{.Driver}}' | sort"],
              ]
            : []),
    ];
    return sections.map(([name, cmd]) => `echo '## ${name}'; ${cmd}`).join("; ");
}

async function hostSnapshot(h: Pick<LabHost, "name" | "kind" | "docker">): Promise<string> {
    return (await labExec(h.name, snapshotScript(h), { check: true, timeoutMs: 60_000 })).stdout;
}

/** Lines only in `a` (prefixed "-") or only in `b` ("+"), with the section each is in. */
function diffLines(a: string, b: string): string[] {
    const tagged = (text: string) => {
        let section = "";
        return text.split("\n").map((l) => {
            if (l.startsWith("## ")) section = l.slice(3);
            return `${section}: ${l}`;
        });
    };
    const [ta, tb] = [tagged(a), tagged(b)];
    const [sa, sb] = [new Set(ta), new Set(tb)];
    return [...ta.filter((l) => !sb.has(l)).map((l) => `-${l}`), ...tb.filter((l) => !sa.has(l)).map((l) => `+${l}`)];
}

/**
 * How a lab host differs from its state right after labUp (empty: unchanged), line by line with
 * the section (links, addresses, routes, sysctls, files, containers, networks).
 * Tests can use it to check that they cleaned up; labUp rebuilds a lab whose hosts changed.
 */
export async function hostChanges(hostName: string): Promise<string[]> {
    const st = readState();
    if (!st) throw new Error("no lab is running");
    const h = labHost(hostName, withKey(st));
    return diffLines(st.baseline[h.name] ?? "", await hostSnapshot(h));
}

async function switchPorts(): Promise<{ ifname: string; hairpin: boolean }[]> {
    const r = await run("/usr/sbin/ip", ["-n", SWITCH_NETNS, "-j", "-d", "link", "show", "master", BRIDGE]);
    return (JSON.parse(r.stdout) as { ifname: string; linkinfo?: { info_slave_data?: { hairpin?: boolean } } }[]).map((l) => ({
        ifname: l.ifname,
        hairpin: l.linkinfo?.info_slave_data?.hairpin === true,
    }));
}

/** Hash of the files that decide what the lab builds. */
function codeHash(): string {
    const h = crypto.createHash("sha256");
    for (const f of ["lab.ts", "scripts.ts", "guest.ts"]) h.update(fs.readFileSync(path.join(__dirname, f)));
    return h.digest("hex").slice(0, 16);
}

function sameSettings(a: LabSettings, b: LabSettings): boolean {
    return a.nodes === b.nodes && a.guests === b.guests && a.guestDocker === b.guestDocker && a.guestMemory === b.guestMemory;
}

// ---------------------------------------------------------------------------------------------
// Teardown: by prefix and location, with or without a state file

async function teardown(log: (l: string) => void): Promise<void> {
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

async function labNetns(): Promise<string[]> {
    const r = await run("/usr/sbin/ip", ["netns", "list"], { allowFail: true });
    return r.stdout
        .split("\n")
        .map((l) => l.trim().split(/\s+/)[0] ?? "")
        .filter((n) => n.startsWith(`${LAB_PREFIX}-`));
}

async function rootLinks(): Promise<string[]> {
    const r = await run("/usr/sbin/ip", ["-j", "link", "show"]);
    return (JSON.parse(r.stdout) as { ifname: string }[]).map((l) => l.ifname).filter((n) => n.startsWith(LAB_PREFIX));
}

function cmdline(pid: number): string {
    try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
    } catch {
        return "";
    }
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

// ---------------------------------------------------------------------------------------------
// State, stack, lock

function readState(): LabState | undefined {
    try {
        const st = JSON.parse(fs.readFileSync(STATE_FILE, "utf8")) as LabState;
        return st.version === 1 ? st : undefined;
    } catch {
        return undefined;
    }
}

function writeState(st: LabState): void {
    const tmp = `${STATE_FILE}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(st, null, 2) + "\n", { mode: 0o600 });
    fs.renameSync(tmp, STATE_FILE);
}

function withKey(st: LabState): Lab {
    const lab: Record<string, unknown> = { ...st, privateKey: fs.readFileSync(st.privateKeyPath, "utf8") };
    delete lab.runNetnsPreexisting;
    delete lab.codeHash;
    return lab as unknown as Lab;
}

function writeStack(st: LabState): void {
    fs.mkdirSync(path.dirname(LAB_STACK_PATH), { recursive: true });
    const old = fs.existsSync(LAB_STACK_PATH) ? fs.readFileSync(LAB_STACK_PATH, "utf8") : "";
    fs.writeFileSync(LAB_STACK_PATH, renderLabStack({ ...st, privateKey: "" }, secretsKeyLines(old)));
}

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

function withSession<T>(log: ((l: string) => void) | undefined, fn: () => Promise<T>): Promise<T> {
    const next = queue.then(async () => {
        await acquireSession(log);
        return fn();
    });
    queue = next.catch(() => undefined);
    return next;
}

function processToken(pid: number): string | undefined {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        return `${pid} ${stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]}`; // field 22: start time
    } catch {
        return undefined;
    }
}

/** The live process holding the lab, other than this one, if any. */
function sessionOwner(): { pid: number; cmd: string } | undefined {
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

export type { RunResult };
