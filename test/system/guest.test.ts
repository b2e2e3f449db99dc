/**
 * The QEMU guest kind (lab/guest.ts) on its own: the initramfs archive as an independent
 * reader sees it, the command line QEMU gets, the accelerator choice, and one real boot that
 * checks the guest's promises: the Debian kernel with 802.1Q, the machine's files read-only under
 * a writable overlay, and a read-write share. The lab's VLAN hosts and the host-script VLAN suite
 * build on this. Needs root (QEMU's 9p export of `/`), QEMU and the guest kernel (.ci/run installs
 * them); fails, never skips, without them.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { cpioNewc, guestAccel, prepareGuests, qemuArgs, renderInitramfsInit, startGuestVm, waitForGuest, type GuestKernel } from "../../lab/guest";
import { alive } from "../../lab/proc";

const RUN = `mvg-${process.pid}`;

describe("QEMU guests (lab/guest.ts)", function () {
    this.timeout(180_000);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), `${RUN}-`));
    after(() => fs.rmSync(work, { recursive: true, force: true }));

    it("writes a newc cpio archive that busybox's cpio reads back: files, modes, directories, symlinks", () => {
        const data = Buffer.from([0, 1, 2, 3, 250, 251, 252]);
        const archive = cpioNewc([
            { type: "dir", path: "bin" },
            { type: "file", path: "bin/tool", data, mode: 0o755 },
            { type: "file", path: "etc.txt", data: Buffer.from("odd length\n") },
            { type: "symlink", path: "bin/alias", target: "tool" },
        ]);
        assert.equal(archive.length % 4, 0, "newc pads everything to 4 bytes");
        assert.ok(archive.subarray(0, 6).equals(Buffer.from("070701")), "newc magic");
        assert.ok(archive.includes(Buffer.from("TRAILER!!!\0")), "ends with the trailer");
        const out = path.join(work, "cpio");
        fs.mkdirSync(out);
        const r = spawnSync("/bin/busybox", ["cpio", "-i", "-d"], { cwd: out, input: archive });
        assert.equal(r.status, 0, r.stderr.toString());
        assert.ok(fs.readFileSync(path.join(out, "bin/tool")).equals(data));
        assert.equal(fs.statSync(path.join(out, "bin/tool")).mode & 0o777, 0o755);
        assert.equal(fs.readFileSync(path.join(out, "etc.txt"), "utf8"), "odd length\n");
        assert.equal(fs.statSync(path.join(out, "etc.txt")).mode & 0o777, 0o644);
        assert.equal(fs.readlinkSync(path.join(out, "bin/alias")), "tool");
        assert.throws(() => cpioNewc([{ type: "dir", path: "../x" }]), /bad path/);
    });

    it("gives QEMU only checked values: paths, memory, name, tap", () => {
        const kernel: GuestKernel = { release: "6.1.0-1-amd64", vmlinuz: "/boot/vmlinuz-6.1.0-1-amd64", modulesDir: "/usr/lib/modules/6.1.0-1-amd64" };
        const base = { name: "g1", kernel, initramfs: "/tmp/i.gz", accel: "tcg", memory: "512M" } as const;
        const args = qemuArgs({ ...base, init: "/x/init.sh", shares: ["/x"], tap: { ifname: "mvl-vlan1", mac: "02:6d:76:6c:00:15" } });
        const append = args[args.indexOf("-append") + 1];
        assert.equal(append, "console=ttyS0 panic=-1 quiet mvl.init=/x/init.sh mvl.share=mvlshare0:/x");
        assert.ok(args.includes("local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"), "the machine's root is read-only");
        assert.ok(args.includes("local,path=/x,mount_tag=mvlshare0,security_model=none,multidevs=remap"));
        assert.deepEqual(args.slice(args.indexOf("-accel"), args.indexOf("-accel") + 2), ["-accel", "tcg,tb-size=256"]);
        assert.throws(() => qemuArgs({ ...base, init: "/x/in it.sh" }), /must match/);
        assert.throws(() => qemuArgs({ ...base, shares: ["/x,readonly=off"] }), /must match/);
        assert.throws(() => qemuArgs({ ...base, memory: "lots" }), /memory/);
        assert.throws(() => qemuArgs({ ...base, tap: { ifname: "a,b", mac: "02:00:00:00:00:01" } }), /tap/);
        assert.match(renderInitramfsInit(), /mount -t 9p -o "\$P9,ro,cache=loose" hostroot \/lower/);
    });

    it("MVL_GUEST_ACCEL forces the accelerator, and only kvm or tcg", async () => {
        const kernel = { release: "none", vmlinuz: "/nonexistent", modulesDir: "/nonexistent" };
        const saved = process.env.MVL_GUEST_ACCEL;
        try {
            process.env.MVL_GUEST_ACCEL = "tcg";
            assert.deepEqual(await guestAccel(kernel, "/nonexistent"), { accel: "tcg", how: "MVL_GUEST_ACCEL" });
            process.env.MVL_GUEST_ACCEL = "hvf";
            assert.throws(() => guestAccel(kernel, "/nonexistent"), /MVL_GUEST_ACCEL must be kvm or tcg/);
        } finally {
            if (saved === undefined) delete process.env.MVL_GUEST_ACCEL;
            else process.env.MVL_GUEST_ACCEL = saved;
        }
    });

    it("waitForGuest fails at once, with the console, when the guest cannot start its init", async () => {
        const { kernel, initramfs, accel } = await prepareGuests(path.join(work, "initrd-missing.gz"));
        const consoleLog = path.join(work, "console-missing.log");
        const pid = startGuestVm({ name: `${RUN}-missing`, kernel, initramfs, accel, memory: "256M", init: `${work}/no-such-init.sh` }, consoleLog);
        const t0 = Date.now();
        try {
            await assert.rejects(
                waitForGuest("the test guest", pid, consoleLog, { ready: "never printed", failed: "never printed either" }, 120_000),
                /the test guest: the guest failed to boot:[\s\S]*mvl-initramfs: FAILED: no executable/,
            );
            assert.ok(Date.now() - t0 < 60_000, "it failed on the console's failure line, not on the timeout");
        } finally {
            try {
                process.kill(-pid, "SIGKILL");
            } catch {
                // powered off
            }
        }
    });

    it("boots: Debian's kernel with 802.1Q, the machine's files read-only under an overlay, a read-write share", async () => {
        if (process.getuid?.() !== 0) throw new Error("the guest tests must run as root (QEMU exports / over 9p)");
        const { kernel, initramfs, accel, description } = await prepareGuests(path.join(work, "initrd.gz"));
        process.stdout.write(`      guest kind: ${description}\n`);
        const share = path.join(work, "share");
        fs.mkdirSync(share);
        // A file on the machine that the guest sees and tries to change.
        const witness = path.join(work, "witness");
        fs.writeFileSync(witness, "machine\n");
        fs.writeFileSync(
            path.join(share, "init.sh"),
            `#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
S=${share}
{
  echo "release $(uname -r)"
  echo "root $(awk '$2 == "/" {print $3}' /proc/mounts)"
  modprobe 8021q; echo "vlan-module $(test -d /proc/net/vlan && echo yes)"
  echo changed > ${witness} && echo "witness-in-guest $(cat ${witness})"
  echo "share-writable $(touch "$S/from-guest" && echo yes)"
} > "$S/report" 2>&1
echo mvg-done
busybox poweroff -f
`,
            { mode: 0o755 },
        );
        const consoleLog = path.join(work, "console.log");
        const t0 = Date.now();
        const pid = startGuestVm(
            { name: `${RUN}-boot`, kernel, initramfs, accel, memory: "256M", init: path.join(share, "init.sh"), shares: [share] },
            consoleLog,
        );
        try {
            for (;;) {
                if (!alive(pid)) break;
                if (Date.now() - t0 > 150_000) throw new Error(`the guest did not finish in 150 s:\n${fs.readFileSync(consoleLog, "utf8").slice(-3000)}`);
                await new Promise((r) => setTimeout(r, 100));
            }
        } finally {
            try {
                process.kill(-pid, "SIGKILL");
            } catch {
                // powered off
            }
        }
        const consoleText = fs.readFileSync(consoleLog, "utf8");
        process.stdout.write(`      boot to power-off: ${Date.now() - t0} ms\n`);
        assert.match(consoleText, /mvg-done/, consoleText.slice(-3000));
        const report = fs.readFileSync(path.join(share, "report"), "utf8");
        assert.match(report, new RegExp(`^release ${kernel.release.replace(/\./g, "\\.")}$`, "m"), report);
        assert.match(report, /^root overlay$/m, report);
        assert.match(report, /^vlan-module yes$/m, report);
        assert.match(report, /^witness-in-guest changed$/m, "the guest writes its overlay");
        assert.equal(fs.readFileSync(witness, "utf8"), "machine\n", "the machine's file is unchanged");
        assert.match(report, /^share-writable yes$/m, report);
        assert.ok(fs.existsSync(path.join(share, "from-guest")), "the share is written through");
    });
});
