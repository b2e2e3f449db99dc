/**
 * Building the lab from nothing (labUp, after a teardown): the host plan, keys, the busybox image,
 * the switch and each host's link, then the hosts themselves (hosts.ts); then the state file,
 * each host's baseline snapshot and the stack file.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ensureImage, labExec } from "./access";
import { prepareGuests } from "./guest";
import { codeHash, hostSnapshot } from "./health";
import { startGuest, startNode } from "./hosts";
import { run, shq } from "./proc";
import { withKey, writeStack, writeState } from "./state";
import {
    BRIDGE,
    GATEWAY,
    LAB_DIR,
    LAB_FILES as p,
    LAB_IMAGE,
    LAB_PREFIX,
    LAB_STACK_PATH,
    LAN_CIDR,
    PREFIX_LENGTH,
    ROUTER_LINK,
    SWITCH_NETNS,
} from "./types";
import type { GuestSetup, HostPlan, Lab, LabHost, LabHostKind, LabSettings, LabState } from "./types";

/** The busybox applets linked in the lab image (see ensureImage). */
const IMAGE_APPLETS = [
    "sh", "ash", "ping", "ping6", "ip", "ifconfig", "route", "arp", "arping", "nc", "udhcpc", "cat",
    "echo", "ls", "sleep", "hostname", "wget", "httpd", "ps", "kill", "true", "false", "grep", "sed",
    "awk", "env", "mkdir", "rm", "cp", "mv", "touch", "date", "id", "uname", "head", "tail", "wc",
    "tr", "cut", "sort", "mount", "top", "free", "df", "find", "xargs", "seq", "test", "[", "printf",
    "traceroute", "nslookup", "ipcalc", "timeout", "vi", "chmod", "ln", "readlink", "sysctl",
];

// ---------------------------------------------------------------------------------------------
// Layout

/** The hosts to build: node1…nodeN at 198.18.0.11…, then vlan1…vlanN at 198.18.0.21…. */
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

// ---------------------------------------------------------------------------------------------
// Build

/** Build the lab (nothing of it may exist yet: labUp tears down first) and record it. */
export async function build(s: LabSettings, log: (l: string) => void): Promise<Lab> {
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
        guests = await prepareGuests(path.join(LAB_DIR, "guest", "initrd.gz"));
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
