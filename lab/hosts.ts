/**
 * Starting each lab host once its link is on the switch (build.ts): a netns host's namespace
 * holder, sshd and dockerd; a QEMU guest, waiting until its init, sshd and dockerd are up.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { startGuestVm, waitForGuest } from "./guest";
import { alive, readTail, run, spawnDetached, waitFor } from "./proc";
import { DOCKERD_NETWORK_FLAGS, GUEST_FAILED, GUEST_READY, renderGuestInit, renderHolderScript, sshdOptions } from "./scripts";
import { DOCKER, LAB_FILES as p, LAB_PREFIX, PREFIX_LENGTH, SWITCH_NETNS } from "./types";
import type { GuestSetup, HostPlan, LabHost, LabSettings } from "./types";

const nsenterInto = (pid: number) => ["--target", String(pid), "--mount", "--uts", "--net", "--root", "--wd", "--"];

/** A netns host: the holder of its namespaces, then sshd and dockerd inside; waits until both answer. */
export async function startNode(h: HostPlan): Promise<LabHost["pids"]> {
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


/** A QEMU guest on its tap; waits until its init, sshd and (with guestDocker) dockerd are up. */
export async function startGuest(h: HostPlan, s: LabSettings, g: GuestSetup): Promise<LabHost["pids"]> {
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
    await waitForGuest(h.name, qemu, consoleLog, { ready: GUEST_READY, failed: GUEST_FAILED });
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
/** Whether a TCP port accepts connections (1 s timeout). */
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
