/**
 * Host keys against the lab's REAL OpenSSH servers and Docker Engines (lab/): the same pinned key
 * on every path, and a wrong one refused before anything registers.
 *
 * (a) the real drift probe (`sshProber`, ssh2) with the host's right pin runs its script and
 *     reports that key; index.ts under the mocks with that pin registers every command and the
 *     Docker provider pinned to it;
 * (b) with a wrong pin (node1 given node2's key, as if node1 were replaced by another machine),
 *     the probe is refused with both SHA256 fingerprints, and index.ts rejects naming the host
 *     with nothing recorded;
 * (c) trust on first use learns node1's real key (the lab's `hostKey`), pins the commands and the
 *     provider to it, warns, records it, and a later run whose recorded key is wrong is refused;
 * (d) the Docker provider's registered `ssh://` endpoint and `sshOpts` reach the host's engine for
 *     real with Debian's `docker` client (`docker -H ssh://… info`) through an `ssh` wrapper that
 *     adds exactly those options (and `-F /dev/null`, so nothing of the machine's ssh config
 *     helps), and the same options with another key are refused by ssh;
 * (e) why `ssh-rsa` pins are refused (docs/host-keys.md): an OpenSSH server (this machine's, in a
 *     private mount namespace on the loopback) with an RSA host key refuses a client offering only
 *     `ssh-rsa`, which is what a Go client pinned to an RSA key offers.
 *
 * Read-only on the hosts (the probe script and `docker info`), so the lab stays as labUp left it.
 * Needs root and the lab (its Debian packages); fails, never skips, without them. Traffic stays
 * inside the lab (198.18.0.0/15).
 */
import * as assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
// The mocks first (importing them sets them), then the code under test.
import { recorded } from "../support/mocks";
import { memoryKnownHosts, runProgram } from "../support/program";
import { byName, unwrapSecrets, type RecordedResource } from "../support/records";
import { describeHostKey, HostKeyError, sshProber, type ProbeTarget } from "../../components/stack/probe";
import { Client, type ServerHostKeyAlgorithm } from "ssh2";
import { shq, shStdinCommand, stdinScript } from "../../components/host/shell";
import type { ProbeRun } from "../../components/plan/stack";
import { hostChanges, labUp, releaseLab, type Lab, type LabHost } from "../../lab/lab";

const log = (l: string): void => void process.stdout.write(`      host keys: ${l}\n`);

/** A probe run of `script`: `/bin/sh -s` with the script on stdin, as the real probe is sent. */
const onStdin = (script: string): ProbeRun => ({ command: shStdinCommand([]), stdin: stdinScript(script) });

const NODE = "node1";
const OTHER = "node2";

function labHostOf(lab: Lab, name: string): LabHost {
    const h = lab.hosts.find((x) => x.name === name);
    if (h === undefined) throw new Error(`the lab has no host ${name} (it has ${lab.hosts.map((x) => x.name).join(", ")})`);
    return h;
}

/** A one-host stack on node1 (no networks), with `hostKey` as given (undefined: not pinned). */
function config(lab: Lab, hostKey: string | undefined, extra: Record<string, unknown> = {}): Record<string, unknown> {
    const h = labHostOf(lab, NODE);
    return {
        "macvlan:sshPrivateKeyPath": lab.privateKeyPath,
        "macvlan:sshIdentityFile": lab.privateKeyPath,
        "macvlan:hosts": [{ name: NODE, address: h.address, port: h.port, user: h.user, ...(hostKey === undefined ? {} : { hostKey }), parent: h.parent }],
        "macvlan:networks": [],
        ...extra,
    };
}

/** The probe target of a lab host with `hostKey` (undefined: none). */
function target(lab: Lab, name: string, hostKey: string | undefined, extra: Partial<ProbeTarget> = {}): ProbeTarget {
    const h = labHostOf(lab, name);
    return { host: name, address: h.address, port: h.port, user: h.user, privateKey: lab.privateKey, ...(hostKey === undefined ? {} : { hostKey }), ...extra };
}

/** The `hostKey` of every registered remote command's connection. */
function commandKeys(resources: readonly RecordedResource[]): unknown[] {
    return resources.filter((r) => r.type === "command:remote:Command").map((r) => (unwrapSecrets(r.inputs["connection"]) as Record<string, unknown>)["hostKey"]);
}

/** The registered Docker provider of node1: its endpoint and ssh options. */
function provider(resources: readonly RecordedResource[]): { host: string; sshOpts: string[] } {
    const p = byName(resources, `${NODE}-docker`);
    return { host: String(p.inputs["host"]), sshOpts: JSON.parse(String(p.inputs["sshOpts"])) as string[] };
}

/**
 * `docker -H <host> <args>` with Debian's client, whose ssh connection helper runs `ssh` from PATH:
 * here a wrapper that runs `/usr/bin/ssh -F /dev/null <sshOpts…>` and the helper's arguments, as
 * the Docker provider's helper does with its `sshOpts`.
 */
function docker(dir: string, p: { host: string; sshOpts: readonly string[] }, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const bin = fs.mkdtempSync(path.join(dir, "bin-"));
    fs.writeFileSync(path.join(bin, "ssh"), `#!/bin/sh\nexec /usr/bin/ssh -F /dev/null ${p.sshOpts.map(shq).join(" ")} "$@"\n`, { mode: 0o755 });
    return new Promise((resolve) => {
        execFile(
            "/usr/bin/docker",
            ["-H", p.host, ...args],
            { env: { PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: dir }, timeout: 60_000 },
            (err, stdout, stderr) => {
                const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
                resolve({ code, stdout: String(stdout), stderr: String(stderr) });
            },
        );
    });
}

describe("host keys against the lab's real SSH servers", function () {
    this.timeout(20 * 60_000);

    let lab: Lab;
    let node: LabHost;
    let other: LabHost;
    let tmp: string;

    before(async function () {
        lab = await labUp({ log: (l) => log(`lab: ${l}`) });
        node = labHostOf(lab, NODE);
        other = labHostOf(lab, OTHER);
        assert.notEqual(node.hostKey, other.hostKey, "each lab host has its own key");
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pm-hostkeys-"));
    });

    after(async function () {
        if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
        // Read-only: the host is as labUp left it.
        if (lab !== undefined) assert.deepEqual(await hostChanges(NODE), [], `${NODE} was changed`);
    });

    describe("(a) the right pin", () => {
        it("the real probe with the host's pinned key runs its script and reports that key", async () => {
            const answer = await sshProber()(target(lab, NODE, node.hostKey), onStdin("echo probed-$(hostname)"));
            assert.deepEqual(answer, { stdout: `probed-${NODE}\n`, hostKey: node.hostKey });
        });

        it("index.ts with the real probe registers every command and the Docker provider pinned to it, warning nothing", async () => {
            const { resources, warnings } = await runProgram(config(lab, node.hostKey), { prober: sshProber(), secretKeys: [] });
            const keys = commandKeys(resources);
            assert.ok(keys.length >= 3, `commands: ${keys.length}`);
            assert.deepEqual(new Set(keys), new Set([node.hostKey]));
            assert.ok(provider(resources).sshOpts.includes(`KnownHostsCommand=/bin/echo ${node.address} ${node.hostKey}`));
            assert.deepEqual(warnings, []);
        });
    });

    describe("(b) a wrong (changed) pin", () => {
        it("the real probe refuses the server, with the pinned and the presented fingerprints", async () => {
            await assert.rejects(sshProber()(target(lab, NODE, other.hostKey), onStdin("echo must-not-run")), (e: unknown) => {
                assert.ok(e instanceof HostKeyError, String(e));
                assert.ok(
                    e.message.startsWith(
                        `probe of host ${NODE} (${node.user}@${node.address}:${node.port}) refused: the host key changed: the pinned hostKey is ${describeHostKey(other.hostKey)}, the server presented ${describeHostKey(node.hostKey)}.`,
                    ),
                    e.message,
                );
                return true;
            });
        });

        it("index.ts is refused before anything registers, naming the host", async () => {
            await assert.rejects(runProgram(config(lab, other.hostKey), { prober: sshProber(), secretKeys: [] }), (e: unknown) => {
                const m = (e as Error).message;
                assert.match(m, new RegExp(`^probe of host ${NODE} \\(root@${node.address.replace(/\./g, "\\.")}:22\\) refused: the host key changed: `));
                assert.ok(m.includes(describeHostKey(other.hostKey)) && m.includes(describeHostKey(node.hostKey)), m);
                assert.ok(!m.includes("macvlan:probe false"), "a refused key is no reason to turn the probe off");
                return true;
            });
            assert.deepEqual(recorded, []);
        });

        it("without a pin and without trust on first use, index.ts refuses the host before contacting it", async () => {
            await assert.rejects(runProgram(config(lab, undefined), { prober: sshProber(), secretKeys: [] }), (e: unknown) => {
                assert.ok((e as Error).message.includes(`hosts[0].hostKey is required: the SSH host key of ${node.address} port 22 is not pinned`), (e as Error).message);
                assert.ok((e as Error).message.includes(`\`ssh-keyscan -t ed25519 -p 22 ${node.address}\``));
                return true;
            });
            assert.deepEqual(recorded, []);
        });
    });

    describe("(c) trust on first use", () => {
        it("the real probe learns the host's real key", async () => {
            const answer = await sshProber()(target(lab, NODE, undefined, { learnHostKey: true }), onStdin("echo learned"));
            assert.deepEqual(answer, { stdout: "learned\n", hostKey: node.hostKey });
        });

        it("index.ts learns it, pins the commands and the Docker provider to it, warns and records it; a later run with another recorded key is refused", async () => {
            const store = memoryKnownHosts();
            const tofu = config(lab, undefined, { "macvlan:trustOnFirstUse": "true" });
            const { resources, warnings } = await runProgram(tofu, { prober: sshProber(), secretKeys: [], knownHosts: store });
            assert.deepEqual(new Set(commandKeys(resources)), new Set([node.hostKey]));
            assert.ok(provider(resources).sshOpts.includes(`KnownHostsCommand=/bin/echo ${node.address} ${node.hostKey}`));
            assert.equal(warnings.length, 1);
            assert.ok(warnings[0].startsWith(`host ${NODE} (root@${node.address}:22): trusted on first use: its ${describeHostKey(node.hostKey)} was accepted`), warnings[0]);
            assert.ok(warnings[0].endsWith(`hostKey: ${JSON.stringify(node.hostKey)}`), warnings[0]);
            assert.equal(store.text(), `${node.address} ${node.hostKey} pulumi-macvlan:${NODE}\n`);

            const again = await runProgram(tofu, { prober: sshProber(), secretKeys: [], knownHosts: store });
            assert.deepEqual(again.warnings, [], "checked against the record, not learned again");

            const wrong = memoryKnownHosts(`${node.address} ${other.hostKey} pulumi-macvlan:${NODE}\n`);
            await assert.rejects(runProgram(tofu, { prober: sshProber(), secretKeys: [], knownHosts: wrong }), (e: unknown) => {
                const m = (e as Error).message;
                assert.ok(m.includes(`refused: the host key changed: the key learned on first use (in ${wrong.location}`), m);
                assert.ok(m.includes(`the server presented ${describeHostKey(node.hostKey)}`), m);
                return true;
            });
            assert.deepEqual(recorded, []);
        });
    });

    describe("(d) the Docker provider's ssh options", () => {
        it("reach the host's engine with the pinned key, and are refused by ssh with another key", async () => {
            const { resources } = await runProgram(config(lab, node.hostKey), { prober: sshProber(), secretKeys: [] });
            const right = provider(resources);
            assert.equal(right.host, `ssh://root@${node.address}:22`);
            assert.ok(right.sshOpts.includes(`IdentityFile=${lab.privateKeyPath}`));
            const ok = await docker(tmp, right, ["info", "--format", "{{.Name}}"]);
            assert.equal(ok.code, 0, ok.stderr);
            assert.equal(ok.stdout.trim(), NODE, "the engine of node1 answered");
            const listed = await docker(tmp, right, ["ps", "-q"]);
            assert.equal(listed.code, 0, listed.stderr);

            const wrong = { ...right, sshOpts: right.sshOpts.map((o) => o.replace(node.hostKey, other.hostKey)) };
            assert.notDeepEqual(wrong.sshOpts, right.sshOpts);
            const refused = await docker(tmp, wrong, ["ps", "-q"]);
            assert.notEqual(refused.code, 0);
            assert.match(refused.stderr, /Host key verification failed/);
        });
    });

    describe("(e) why ssh-rsa pins are refused", () => {
        it("an OpenSSH server with an RSA host key refuses a client that offers only ssh-rsa (what a Go client pinned to ssh-rsa offers), and accepts rsa-sha2-512", async () => {
            const dir = fs.mkdtempSync(path.join(tmp, "rsa-"));
            const key = path.join(dir, "ssh_host_rsa_key");
            await run("/usr/bin/ssh-keygen", ["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", key]);
            const port = await freePort();
            // sshd wants /run/sshd: a private mount namespace gets its own /run, the machine's is untouched.
            const sshd = spawn(
                "/usr/bin/unshare",
                ["--mount", "--propagation", "private", "/bin/sh", "-c", `mount -t tmpfs tmpfs /run && mkdir -m 755 /run/sshd && exec /usr/sbin/sshd -D -e -f /dev/null -o HostKey=${key} -o ListenAddress=127.0.0.1 -o Port=${port} -o PidFile=none`],
                { stdio: ["ignore", "ignore", "pipe"] },
            );
            let log = "";
            sshd.stderr.on("data", (b: Buffer) => (log += b.toString()));
            try {
                await waitFor(() => log.includes("Server listening"), 10_000, () => `sshd did not start: ${log}`);
                const handshake = (algos: ServerHostKeyAlgorithm[]): Promise<string> =>
                    new Promise((resolve) => {
                        const c = new Client();
                        c.on("error", (e: Error) => resolve(`error: ${e.message}`));
                        c.on("handshake", (n) => {
                            resolve(`ok: ${n.serverHostKey}`);
                            c.end();
                        });
                        c.connect({ host: "127.0.0.1", port, username: "nobody", algorithms: { serverHostKey: algos }, hostVerifier: () => true, readyTimeout: 10_000 });
                    });
                assert.equal(await handshake(["ssh-rsa"]), "error: Handshake failed: no matching host key format");
                assert.equal(await handshake(["rsa-sha2-512", "rsa-sha2-256"]), "ok: rsa-sha2-512");
                await waitFor(() => /no matching host key type found\. Their offer: ssh-rsa/.test(log), 5_000, () => log);
            } finally {
                if (sshd.pid !== undefined) process.kill(sshd.pid, "SIGTERM");
            }
        });
    });
});

/** A free TCP port on the loopback. */
function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const { port } = srv.address() as net.AddressInfo;
            srv.close(() => resolve(port));
        });
    });
}

/** Resolves once `ok()` holds, polling; rejects with `why()` after `ms`. */
async function waitFor(ok: () => boolean, ms: number, why: () => string): Promise<void> {
    const until = Date.now() + ms;
    while (!ok()) {
        if (Date.now() > until) throw new Error(why());
        await new Promise((r) => setTimeout(r, 50));
    }
}

/** Runs a program; rejects with its stderr on a non-zero exit. */
function run(file: string, args: readonly string[]): Promise<void> {
    return new Promise((resolve, reject) => {
        execFile(file, [...args], { timeout: 60_000 }, (err, _out, stderr) => (err === null ? resolve() : reject(new Error(`${file}: ${String(stderr)}`))));
    });
}

after(() => releaseLab());
