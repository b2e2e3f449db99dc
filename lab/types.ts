/**
 * The lab's constants (names, addresses, paths) and the shapes of its data: the hosts and the lab
 * as the tests and the stack see them, labUp's options, and the state file (`lab.json`). No code
 * runs here beyond computing paths, so every other lab file can import it.
 */
import * as path from "node:path";
import type { GuestAccel } from "./guest";

// ---------------------------------------------------------------------------------------------
// Constants

/** Every netns, link, cgroup and process name of the lab starts with this. */
export const LAB_PREFIX = "mvl";
/** All lab files: keys, host dirs, engines' data roots, logs, state. Removed by labDown. */
export const LAB_DIR = "/var/lib/pulumi-macvlan-lab";
/** The machine-wide session lock (see session.ts). */
export const LOCK_FILE = "/run/pulumi-macvlan-lab.lock";
/** The recorded lab (see state.ts). */
export const STATE_FILE = path.join(LAB_DIR, "lab.json");
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

export const DOCKER = "/usr/bin/docker"; // Debian's client: the engine's own version (20.10)

/** The lab's files under LAB_DIR: SSH keys and config, the ssh wrapper, the busybox image. */
export const LAB_FILES = {
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

/** LabOptions with every default filled in (what a lab records it was built with). */
export type LabSettings = Required<Omit<LabOptions, "log">>;

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

/** What the state file (`lab.json`) holds: the lab without its private key, plus what reuse needs. */
export interface LabState extends Omit<Lab, "privateKey"> {
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

/** One host to build: its name, kind, address, MAC, lab dir and switch port (build.ts). */
export interface HostPlan {
    readonly name: string;
    readonly kind: LabHostKind;
    readonly address: string;
    readonly mac: string;
    readonly dir: string;
    readonly port: string;
}

export type { GuestSetup } from "./guest";
