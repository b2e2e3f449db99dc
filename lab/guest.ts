/**
 * QEMU guests with a real Debian kernel: the lab's VLAN hosts and the host-script VLAN suite.
 *
 * The machine's own kernel has no 802.1Q, so whatever tests VLANs runs in a guest kernel that has
 * it. A guest is `qemu-system-x86_64` booting Debian's generic kernel (`linux-image-amd64`, which
 * ships the 9p modules) with a tiny initramfs built here: static busybox, the modules for virtio
 * and 9p and overlayfs, and an init (renderInitramfsInit) that mounts the machine's root over 9p
 * **read-only**, lays a tmpfs-backed overlay on it, mounts the caller's read-write shares, and
 * `switch_root`s to the caller's init script on the machine's files. Nothing the guest does can
 * write the machine's files, except inside the shares it was given.
 *
 * Acceleration: KVM where it really works, TCG (software emulation) otherwise. Which one is found
 * by booting (guestAccel): on some machines `/dev/kvm` exists but KVM stops or hangs the guest.
 * `MVL_GUEST_ACCEL=kvm|tcg` forces one (no probe).
 */
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { alive, CLEAN_ENV, readTail, run, spawnDetached, waitFor } from "./proc";

export const QEMU = "/usr/bin/qemu-system-x86_64";
const MODPROBE = "/usr/sbin/modprobe";
const BUSYBOX = "/bin/busybox";

/** Programs and files a guest needs, with the Debian package that has each. */
export const GUEST_TOOLS: readonly (readonly [string, string])[] = [
    [QEMU, "qemu-system-x86"],
    [MODPROBE, "kmod"],
    [BUSYBOX, "busybox-static"],
];

/** Modules the initramfs loads (with what they depend on) before the root is mounted. */
const INITRAMFS_MODULES = ["virtio_pci", "virtio_net", "9pnet_virtio", "9p", "overlay"] as const;

/** The marker line the initramfs prints in probe mode, and the one it prints when it fails. */
export const PROBE_OK = "mvl-initramfs: probe ok";
export const INITRAMFS_FAILED = "mvl-initramfs: FAILED";

export type GuestAccel = "kvm" | "tcg";

/** A Debian kernel on this machine that can boot a guest. */
export interface GuestKernel {
    /** `uname -r` in the guest, e.g. `6.1.0-57-amd64`. */
    readonly release: string;
    readonly vmlinuz: string;
    /** `/usr/lib/modules/<release>`: the guest's modprobe finds its modules here (through 9p). */
    readonly modulesDir: string;
}

/** Compare kernel releases numerically (`6.1.0-57` after `6.1.0-9`). */
function releaseOrder(a: string, b: string): number {
    const n = (s: string) => s.split(/[^0-9]+/).filter((x) => x.length > 0).map(Number);
    const [x, y] = [n(a), n(b)];
    for (let i = 0; i < Math.max(x.length, y.length); i++) {
        const d = (x[i] ?? -1) - (y[i] ?? -1);
        if (d !== 0) return d;
    }
    return 0;
}

/**
 * The newest Debian kernel under /boot whose modules include 9p (the generic `-amd64` flavour; the
 * `-cloud-amd64` one has no 9p). Throws, naming the package, when there is none.
 */
export function findGuestKernel(): GuestKernel {
    const found: GuestKernel[] = [];
    for (const f of fs.existsSync("/boot") ? fs.readdirSync("/boot") : []) {
        const m = /^vmlinuz-(.+)$/.exec(f);
        if (!m) continue;
        const release = m[1];
        const modulesDir = `/usr/lib/modules/${release}`;
        if (fs.existsSync(path.join(modulesDir, "kernel/fs/9p")) && fs.existsSync(path.join(modulesDir, "kernel/net/8021q"))) {
            found.push({ release, vmlinuz: `/boot/${f}`, modulesDir });
        }
    }
    found.sort((a, b) => releaseOrder(b.release, a.release));
    const k = found[0];
    if (!k) {
        throw new Error(
            "the VLAN guests need a Debian kernel with 9p and 802.1Q modules under /boot and /usr/lib/modules: " +
                "apt-get install -y linux-image-amd64 (the cloud flavour has no 9p)",
        );
    }
    return k;
}

// ---------------------------------------------------------------------------------------------
// The initramfs

/** One entry of a cpio archive. */
export type CpioEntry =
    | { readonly type: "dir"; readonly path: string; readonly mode?: number }
    | { readonly type: "file"; readonly path: string; readonly data: Buffer; readonly mode?: number }
    | { readonly type: "symlink"; readonly path: string; readonly target: string }
    | { readonly type: "chardev"; readonly path: string; readonly major: number; readonly minor: number; readonly mode?: number };

/**
 * A cpio archive in the "newc" format the kernel unpacks as an initramfs: per entry a 110-byte
 * ASCII header (magic 070701 and 13 fields of 8 hex digits), the NUL-terminated name padded to 4
 * bytes, the data padded to 4 bytes; then the `TRAILER!!!` entry. Owner root, mtime 0.
 */
export function cpioNewc(entries: readonly CpioEntry[]): Buffer {
    const parts: Buffer[] = [];
    const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
    const hex = (v: number) => v.toString(16).padStart(8, "0");
    const add = (name: string, mode: number, data: Buffer, ino: number, rdev: readonly [number, number] = [0, 0]) => {
        const nameBuf = Buffer.from(name + "\0", "utf8");
        const header =
            "070701" +
            [ino, mode, 0, 0, 1, 0, data.length, 0, 0, rdev[0], rdev[1], nameBuf.length, 0].map(hex).join("");
        parts.push(Buffer.from(header, "ascii"), nameBuf, pad(110 + nameBuf.length), data, pad(data.length));
    };
    entries.forEach((e, i) => {
        const name = e.path.replace(/^\/+/, "");
        if (name.length === 0 || name.split("/").includes("..")) throw new Error(`cpio: bad path ${JSON.stringify(e.path)}`);
        switch (e.type) {
            case "dir":
                return add(name, 0o040000 | (e.mode ?? 0o755), Buffer.alloc(0), i + 1);
            case "file":
                return add(name, 0o100000 | (e.mode ?? 0o644), e.data, i + 1);
            case "symlink":
                return add(name, 0o120777, Buffer.from(e.target, "utf8"), i + 1);
            case "chardev":
                return add(name, 0o020000 | (e.mode ?? 0o600), Buffer.alloc(0), i + 1, [e.major, e.minor]);
        }
    });
    add("TRAILER!!!", 0, Buffer.alloc(0), 0);
    return Buffer.concat(parts);
}

/**
 * The initramfs's /init (busybox sh). Its parameters come from the kernel command line:
 * - `mvl.init=PATH`: the init to run on the machine's files once the root is ready (required);
 * - `mvl.share=TAG:PATH` (any number): a read-write 9p share mounted at PATH in the new root;
 * - `mvl.probe`: print PROBE_OK once the machine's root is mounted, then power off.
 * The root: the machine's `/` over 9p (tag `hostroot`, read-only, cached: the guest's binaries
 * are read once), under an overlay whose writes go to a tmpfs. Shares are uncached (`cache=none`),
 * so what the machine writes there is seen at once.
 */
export function renderInitramfsInit(): string {
    return `#!/bin/busybox sh
# pulumi-macvlan lab: initramfs init of a QEMU guest. Generated by lab/guest.ts; do not edit.
/bin/busybox --install -s /bin
export PATH=/bin
say() { echo "mvl-initramfs: $* (uptime $(cut -d' ' -f1 /proc/uptime))"; }
die() { echo "${INITRAMFS_FAILED}: $*"; poweroff -f; sleep 30; }
mount -t proc proc /proc && mount -t sysfs sysfs /sys && mount -t devtmpfs devtmpfs /dev || die "pseudo filesystems"
for m in $(cat /modules.list); do insmod "/modules/$m" || die "insmod $m"; done
init=; probe=; shares=
for a in $(cat /proc/cmdline); do
    case "$a" in
        mvl.init=*) init=\${a#mvl.init=} ;;
        mvl.share=*) shares="$shares \${a#mvl.share=}" ;;
        mvl.probe) probe=1 ;;
    esac
done
P9='trans=virtio,version=9p2000.L,msize=512000'
mkdir -p /lower /rw /newroot
mount -t 9p -o "$P9,ro,cache=loose" hostroot /lower || die "9p root"
if [ -n "$probe" ]; then say "${PROBE_OK.replace("mvl-initramfs: ", "")} $(uname -r)"; poweroff -f; sleep 30; fi
[ -n "$init" ] || die "no mvl.init= on the kernel command line"
mount -t tmpfs -o mode=0755 mvl-rw /rw && mkdir /rw/upper /rw/work || die "tmpfs"
mount -t overlay mvl-root -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot || die "overlay root"
for s in $shares; do
    tag=\${s%%:*}; dir=\${s#*:}
    mkdir -p "/newroot$dir" && mount -t 9p -o "$P9,cache=none" "$tag" "/newroot$dir" || die "9p share $tag at $dir"
done
[ -x "/newroot$init" ] || die "no executable $init"
say "root ready, running $init"
mount --move /proc /newroot/proc && mount --move /sys /newroot/sys && mount --move /dev /newroot/dev || die "move pseudo filesystems"
exec switch_root /newroot "$init"
`;
}

/** The modules to load, in dependency order (absolute paths, `.ko` or compressed). */
async function initramfsModules(k: GuestKernel): Promise<string[]> {
    const out: string[] = [];
    for (const m of INITRAMFS_MODULES) {
        const r = await run(MODPROBE, ["-S", k.release, "--show-depends", m]);
        for (const line of r.stdout.split("\n")) {
            const f = /^insmod (\S+)/.exec(line.trim())?.[1];
            if (f && !out.includes(f)) out.push(f); // "builtin X" lines need nothing
        }
    }
    return out;
}

/** A module file's contents, decompressed (busybox's insmod takes plain `.ko`). */
function moduleData(file: string): Buffer {
    if (file.endsWith(".ko")) return fs.readFileSync(file);
    if (file.endsWith(".ko.gz")) return zlib.gunzipSync(fs.readFileSync(file));
    const tool = file.endsWith(".ko.xz") ? "/usr/bin/xz" : file.endsWith(".ko.zst") ? "/usr/bin/zstd" : undefined;
    if (tool === undefined) throw new Error(`guest initramfs: unknown module format ${file}`);
    return execFileSync(tool, ["-dc", file], { maxBuffer: 64 << 20 });
}

/**
 * Write the initramfs for `k` to `file` (gzip'd newc cpio): busybox-static, the modules for virtio,
 * 9p and overlayfs, and renderInitramfsInit(). Returns `file`.
 */
export async function buildInitramfs(k: GuestKernel, file: string): Promise<string> {
    const modules = await initramfsModules(k);
    const names = modules.map((m, i) => `${String(i).padStart(2, "0")}-${path.basename(m).replace(/\.ko(\.\w+)?$/, ".ko")}`);
    const entries: CpioEntry[] = [
        ...["bin", "dev", "proc", "sys", "modules"].map((d): CpioEntry => ({ type: "dir", path: d })),
        { type: "chardev", path: "dev/console", major: 5, minor: 1 },
        { type: "file", path: "bin/busybox", data: fs.readFileSync(BUSYBOX), mode: 0o755 },
        { type: "file", path: "init", data: Buffer.from(renderInitramfsInit()), mode: 0o755 },
        { type: "file", path: "modules.list", data: Buffer.from(names.join("\n") + "\n") },
    ];
    for (let i = 0; i < modules.length; i++) {
        entries.push({ type: "file", path: `modules/${names[i]}`, data: moduleData(modules[i]) });
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, zlib.gzipSync(cpioNewc(entries), { level: 1 }));
    return file;
}

// ---------------------------------------------------------------------------------------------
// Booting

/** What a guest is started with. */
export interface GuestSpec {
    /** QEMU's `-name` (also how leftovers are found: it names the owner). */
    readonly name: string;
    readonly kernel: GuestKernel;
    readonly initramfs: string;
    readonly accel: GuestAccel;
    /** QEMU `-m`, e.g. `768M`. */
    readonly memory: string;
    /** The guest's init, a script on the machine's files (run after switch_root). */
    readonly init?: string;
    /** Machine directories the guest mounts read-write at the same path. */
    readonly shares?: readonly string[];
    /** A tap on the machine (in the namespace QEMU runs in) that becomes the guest's eth0. */
    readonly tap?: { readonly ifname: string; readonly mac: string };
    /** Boot only to the initramfs, print PROBE_OK and power off. */
    readonly probe?: boolean;
}

const SAFE_PATH = /^\/[A-Za-z0-9._/-]*$/;

/** QEMU's command line for a guest (argv after the program). Pure. */
export function qemuArgs(g: GuestSpec): string[] {
    for (const p of [g.init, ...(g.shares ?? []), g.initramfs, g.kernel.vmlinuz].filter((x): x is string => x !== undefined)) {
        // They travel on the kernel command line and in QEMU's comma-separated options.
        if (!SAFE_PATH.test(p)) throw new Error(`guest path ${JSON.stringify(p)} must match ${SAFE_PATH.source}`);
    }
    if (!/^[0-9]+[KMG]$/.test(g.memory)) throw new Error(`guest memory ${JSON.stringify(g.memory)} must look like 768M`);
    if (!/^[A-Za-z0-9_-]+$/.test(g.name)) throw new Error(`guest name ${JSON.stringify(g.name)}`);
    const shares = g.shares ?? [];
    const cmdline = [
        "console=ttyS0",
        "panic=-1",
        "quiet",
        ...(g.probe ? ["mvl.probe"] : []),
        ...(g.init ? [`mvl.init=${g.init}`] : []),
        ...shares.map((dir, i) => `mvl.share=mvlshare${i}:${dir}`),
    ].join(" ");
    const args = [
        "-name", g.name,
        "-machine", "q35",
        // TCG's translation cache defaults to 1 GiB per guest; a quarter is plenty for these guests.
        "-accel", g.accel === "kvm" ? "kvm" : "tcg,tb-size=256",
        "-cpu", g.accel === "kvm" ? "host" : "max",
        "-smp", "1",
        "-m", g.memory,
        "-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot",
        "-kernel", g.kernel.vmlinuz,
        "-initrd", g.initramfs,
        "-append", cmdline,
        "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
        ...shares.flatMap((dir, i) => ["-virtfs", `local,path=${dir},mount_tag=mvlshare${i},security_model=none,multidevs=remap`]),
    ];
    if (g.tap) {
        if (!/^[A-Za-z0-9_.-]{1,15}$/.test(g.tap.ifname) || !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(g.tap.mac)) {
            throw new Error(`guest tap ${JSON.stringify(g.tap)}`);
        }
        args.push(
            "-netdev", `tap,id=lan,ifname=${g.tap.ifname},script=no,downscript=no`,
            "-device", `virtio-net-pci,netdev=lan,mac=${g.tap.mac},romfile=`,
        );
    }
    return args;
}

/**
 * Start a guest in the background (in network namespace `netns` when given, where its tap is),
 * its console (serial) and QEMU's own messages appended to `consoleLog`. Returns QEMU's pid.
 */
export function startGuestVm(g: GuestSpec, consoleLog: string, netns?: string): number {
    const argv = [QEMU, ...qemuArgs(g)];
    return netns === undefined
        ? spawnDetached(argv[0], argv.slice(1), consoleLog)
        : spawnDetached("/usr/bin/nsenter", [`--net=/run/netns/${netns}`, "--", ...argv], consoleLog);
}

/**
 * Waits until a guest started by startGuestVm prints `ready` on its console. Fails, with the end
 * of the console, when the console shows `failed` or the initramfs's failure line, when QEMU
 * exits, or after `timeoutMs`.
 */
export async function waitForGuest(what: string, pid: number, consoleLog: string, markers: { readonly ready: string; readonly failed: string }, timeoutMs = 120_000): Promise<void> {
    await waitFor(`${what} to boot`, timeoutMs, () => {
        const text = readTail(consoleLog, 20_000);
        if (text.includes(markers.failed) || text.includes(INITRAMFS_FAILED) || !alive(pid)) {
            throw new Error(`${what}: the guest failed to boot:\n${readTail(consoleLog, 3000)}`);
        }
        return text.includes(markers.ready) ? true : undefined;
    }, 100);
}

/** Boot `g` in probe mode; resolves with the console text when PROBE_OK shows within `timeoutMs`. */
function probeBoot(g: GuestSpec, timeoutMs: number): Promise<{ ok: boolean; ms: number; console: string }> {
    const t0 = Date.now();
    return new Promise((resolve) => {
        const child = spawn(QEMU, qemuArgs({ ...g, probe: true }), { stdio: ["ignore", "pipe", "pipe"], env: { ...CLEAN_ENV } });
        let text = "";
        let settled = false;
        const finish = (ok: boolean) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            child.kill("SIGKILL");
            resolve({ ok, ms: Date.now() - t0, console: text });
        };
        const timer = setTimeout(() => finish(false), timeoutMs);
        const onData = (b: Buffer) => {
            text += b.toString("utf8");
            if (text.includes(PROBE_OK)) finish(true);
            else if (text.includes(INITRAMFS_FAILED)) finish(false);
        };
        child.stdout.on("data", onData);
        child.stderr.on("data", onData);
        child.on("error", (e) => {
            text += `\n${e.message}`;
            finish(false);
        });
        child.on("close", () => finish(text.includes(PROBE_OK)));
    });
}

/** How guests boot on this machine, found by guestAccel. */
export interface GuestBoot {
    readonly accel: GuestAccel;
    /** Why: "probe" (KVM booted, or failed and TCG booted) or "MVL_GUEST_ACCEL". */
    readonly how: string;
    /** The successful probe boot's wall time, kernel start to the initramfs on the 9p root (ms). */
    readonly probeMs?: number;
    /** Why KVM was not used, when it was not. */
    readonly kvmProblem?: string;
}

const memo = new Map<string, Promise<GuestBoot>>();

/**
 * KVM when a probe boot under KVM reaches the initramfs on the 9p root within 10 s, TCG otherwise
 * (checked by a probe boot too, so a broken kernel or initramfs fails here, with its console).
 * Once per process and kernel. `MVL_GUEST_ACCEL=kvm|tcg` skips the probe.
 */
export function guestAccel(kernel: GuestKernel, initramfs: string): Promise<GuestBoot> {
    const forced = process.env.MVL_GUEST_ACCEL;
    if (forced !== undefined && forced !== "") {
        if (forced !== "kvm" && forced !== "tcg") throw new Error(`MVL_GUEST_ACCEL must be kvm or tcg, got ${JSON.stringify(forced)}`);
        return Promise.resolve({ accel: forced, how: "MVL_GUEST_ACCEL" });
    }
    const key = kernel.release; // every initramfs of one kernel is built alike
    let p = memo.get(key);
    if (p === undefined) {
        p = (async (): Promise<GuestBoot> => {
            const base = { name: "mvl-probe", kernel, initramfs, memory: "256M" } as const;
            // Both at once: a KVM that hangs costs its timeout, not its timeout plus a TCG boot.
            const tcg = probeBoot({ ...base, accel: "tcg" }, 60_000);
            let kvmProblem: string;
            try {
                fs.accessSync("/dev/kvm", fs.constants.R_OK | fs.constants.W_OK);
                const k = await probeBoot({ ...base, accel: "kvm" }, 10_000);
                if (k.ok) {
                    await tcg;
                    return { accel: "kvm", how: "probe", probeMs: k.ms };
                }
                const lines = k.console.split("\n").filter((l) => /KVM|error|fail/i.test(l));
                kvmProblem = `a KVM probe boot did not reach init in ${k.ms} ms${lines.length > 0 ? ` (${lines[0]?.trim()})` : ""}`;
            } catch (e) {
                kvmProblem = `/dev/kvm: ${(e as Error).message}`;
            }
            const t = await tcg;
            if (!t.ok) throw new Error(`a QEMU guest does not boot here, even under TCG:\n${t.console.slice(-3000)}`);
            return { accel: "tcg", how: "probe", probeMs: t.ms, kvmProblem };
        })();
        memo.set(key, p);
        p.catch(() => memo.delete(key));
    }
    return p;
}

/** One line for logs and test output: which guest kind runs, and why. */
export function describeBoot(k: GuestKernel, b: GuestBoot): string {
    const why = b.how === "MVL_GUEST_ACCEL" ? "forced by MVL_GUEST_ACCEL" : `probe boot ${b.probeMs} ms${b.kvmProblem ? `; not KVM: ${b.kvmProblem}` : ""}`;
    return `QEMU ${b.accel.toUpperCase()} guests, Debian kernel ${k.release} (${why})`;
}

/** What every guest of one run boots with: the kernel, its initramfs and the accelerator, and why. */
export interface GuestSetup {
    readonly kernel: GuestKernel;
    readonly initramfs: string;
    readonly accel: GuestAccel;
    /** describeBoot's line: which guest kind runs, and why. */
    readonly description: string;
}

/** Finds the guest kernel, writes its initramfs to `initramfs` and picks the accelerator (guestAccel). */
export async function prepareGuests(initramfs: string): Promise<GuestSetup> {
    const kernel = findGuestKernel();
    await buildInitramfs(kernel, initramfs);
    const boot = await guestAccel(kernel, initramfs);
    return { kernel, initramfs, accel: boot.accel, description: describeBoot(kernel, boot) };
}
