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
 *
 * This file is the lab's public API (labUp, labDown and the preconditions) and re-exports what
 * the tests and cli.ts use from the other lab files:
 *   types.ts     constants and types
 *   state.ts     the state file (lab.json), the stack file, readLab, labHost
 *   session.ts   the machine-wide session lock (releaseLab)
 *   access.ts    SSH and Docker on the hosts, hairpin
 *   build.ts     building the lab (hosts.ts: starting each host)
 *   health.ts    whether a running lab can be reused (hostChanges, codeHash)
 *   teardown.ts  finding and removing the lab (findLeftovers)
 */
import * as fs from "node:fs";
import { build } from "./build";
import { findGuestKernel, GUEST_TOOLS } from "./guest";
import { codeHash, healthProblem, sameSettings } from "./health";
import { withSession } from "./session";
import { readState, withKey, writeStack } from "./state";
import { teardown } from "./teardown";
import { DOCKER } from "./types";
import type { Lab, LabOptions, LabSettings } from "./types";

export { ensureImage, getHairpin, labDocker, labEnv, labExec, setHairpin, sshArgs } from "./access";
export { hostChanges } from "./health";
export { releaseLab } from "./session";
export { labHost, readLab } from "./state";
export { findLeftovers } from "./teardown";
export type { LabLeftovers } from "./teardown";
export {
    BRIDGE,
    GATEWAY,
    LAB_DIR,
    LAB_IMAGE,
    LAB_PREFIX,
    LAB_STACK_PATH,
    LAN_CIDR,
    PREFIX_LENGTH,
    ROUTER_LINK,
    SWITCH_NETNS,
} from "./types";
export type { ExecOptions, ExecResult, Lab, LabHost, LabHostKind, LabOptions } from "./types";
export type { RunResult } from "./proc";

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

/** labUp's options with their defaults, checked. */
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
