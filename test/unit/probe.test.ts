/**
 * The drift probe: `sshProber` against a real SSH server on the loopback (ssh2's Server), host key
 * pinning (a changed key refused with both fingerprints), trust on first use (the server's key
 * learned), failures that name the host, timeouts; `probeHosts` with a fake prober.
 */
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { Server, type ServerChannel } from "ssh2";
import { featureKey } from "../../components/host/scripts";
import { planStack, type PlannedHost } from "../../components/plan/stack";
import { stdinScript } from "../../components/host/shell";
import { describeHostKey, hostKeyFingerprint, HostKeyError, ProbeFailures, probeHosts, sshProber, type HostProber, type ProbeRun, type ProbeTarget } from "../../components/stack/probe";
import { parseStackConfig } from "../../components/config/parse";
import { fakeProber } from "../support/prober";
import { KEY_MARKER, TEST_PRIVATE_KEY, ed25519, fakeHostKey } from "../support/keys";
import { clone, stackConfig, threeHostsConfig, withKey } from "../support/stacks";

/** Behaviour of the test server per exec'd command, once the client has ended its stdin. */
type Handler = (command: string, stdin: string, channel: ServerChannel) => void;

/** A probe run: the command and the text on its stdin. */
const run = (stdin: string, command = "/bin/sh -s"): ProbeRun => ({ command, stdin });

describe("probe", () => {
    describe("sshProber against a local SSH server", () => {
        const hostKey = ed25519();
        const otherKey = ed25519();
        const clientKey = ed25519();
        let server: Server;
        let port: number;
        let handler: Handler;
        let seenUser: string | undefined;

        before((done) => {
            server = new Server({ hostKeys: [hostKey.private] }, (client) => {
                client.on("error", () => undefined);
                client.on("authentication", (ctx) => {
                    seenUser = ctx.username;
                    const want = clientKey.public.split(" ")[1];
                    if (ctx.method === "publickey" && ctx.key.data.toString("base64") === want) return ctx.accept();
                    ctx.reject(["publickey"]);
                });
                client.on("ready", () => {
                    client.on("session", (accept) => {
                        const session = accept();
                        session.on("exec", (acceptExec, _reject, info) => {
                            const ch = acceptExec();
                            const input: Buffer[] = [];
                            ch.on("data", (d: Buffer) => input.push(d));
                            ch.on("end", () => handler(info.command, Buffer.concat(input).toString("utf8"), ch));
                        });
                    });
                });
            });
            server.listen(0, "127.0.0.1", () => {
                port = (server.address() as AddressInfo).port;
                done();
            });
        });
        after(() => server.close());
        beforeEach(() => {
            seenUser = undefined;
            handler = (command, stdin, ch) => {
                ch.write(`ran ${command} with ${stdin.length} bytes on stdin\n`);
                ch.exit(0);
                ch.end();
            };
        });

        const target = (extra: Partial<ProbeTarget> = {}): ProbeTarget => ({
            host: "h1",
            address: "127.0.0.1",
            port,
            user: "probe",
            hostKey: hostKey.public,
            privateKey: clientKey.private,
            ...extra,
        });

        it("runs the command as the given user with the script on its stdin (ended), and resolves with its stdout and the verified key", async () => {
            const out = await sshProber()(target(), run("echo hi\necho there"));
            assert.deepEqual(out, { stdout: "ran /bin/sh -s with 18 bytes on stdin\n", hostKey: hostKey.public });
            assert.equal(seenUser, "probe");
        });

        it("sends a script of any size whole on stdin: 1 MiB arrives byte for byte, and the command stays /bin/sh -s", async () => {
            const big = stdinScript(`${"echo 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n".repeat(16 * 1024)}`);
            assert.ok(big.length > 1024 * 1024, `${big.length} bytes`);
            const digest = (t: string) => createHash("sha256").update(t).digest("hex");
            handler = (command, stdin, ch) => {
                ch.write(`${command} ${stdin.length} ${digest(stdin)}\n`);
                ch.exit(0);
                ch.end();
            };
            const out = await sshProber()(target(), run(big));
            assert.equal(out.stdout, `/bin/sh -s ${big.length} ${digest(big)}\n`);
        });

        it("fingerprints keys as OpenSSH does (SHA256, unpadded base64 of the key blob)", () => {
            const blob = Buffer.from(hostKey.public.split(" ")[1], "base64");
            const want = createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
            assert.equal(hostKeyFingerprint(hostKey.public), `SHA256:${want}`);
            assert.equal(describeHostKey(hostKey.public), `ssh-ed25519 SHA256:${want}`);
        });

        it("refuses a changed host key before authenticating, naming the host and both fingerprints", async () => {
            seenUser = undefined;
            await assert.rejects(sshProber()(target({ hostKey: otherKey.public }), run("x")), (e: unknown) => {
                assert.ok(e instanceof HostKeyError, String(e));
                assert.equal(
                    e.message,
                    `probe of host h1 (probe@127.0.0.1:${port}) refused: the host key changed: the pinned hostKey is ${describeHostKey(otherKey.public)}, ` +
                        `the server presented ${describeHostKey(hostKey.public)}. Someone may be intercepting the connection, or the host was reinstalled: ` +
                        "check the new key on the host itself (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`) before you pin it. Nothing was registered.",
                );
                return true;
            });
            assert.equal(seenUser, undefined, "the client never authenticated to the impostor");
        });

        it("refuses a target without a host key before connecting, unless it may learn one", async () => {
            const unpinned = { ...target(), hostKey: undefined };
            await assert.rejects(sshProber()(unpinned, run("x")), (e: unknown) => e instanceof HostKeyError && /^probe of host h1 .* refused: there is no host key to check the server against/.test(e.message));
            assert.equal(seenUser, undefined);
        });

        it("trust on first use: learns the key the server presents and runs the script", async () => {
            const unpinned = { ...target(), hostKey: undefined };
            const out = await sshProber()({ ...unpinned, learnHostKey: true }, run("x"));
            assert.deepEqual(out, { stdout: "ran /bin/sh -s with 1 bytes on stdin\n", hostKey: hostKey.public });
        });

        it("reports a failing script with its status and stderr", async () => {
            handler = (_c, _s, ch) => {
                ch.stderr.write("ip: command not found\n");
                ch.exit(127);
                ch.end();
            };
            await assert.rejects(sshProber()(target(), run("x")), /host h1 .*exited with status 127: ip: command not found/);
        });

        it("gives up after the total timeout", async () => {
            handler = () => undefined;
            await assert.rejects(sshProber({ totalTimeoutMs: 300 })(target(), run("x")), /host h1 .*no answer within 300 ms/);
        });

        it("reports a refused login without the key in the message", async () => {
            await assert.rejects(sshProber()(target({ privateKey: ed25519().private }), run("x")), (e: unknown) => {
                const m = (e as Error).message;
                assert.match(m, /^probe of host h1 /);
                assert.ok(!m.includes("PRIVATE KEY"));
                return true;
            });
        });

        it("reports a closed port, naming the host", async () => {
            const closed = new Server({ hostKeys: [hostKey.private] }, () => undefined);
            const p = await new Promise<number>((resolve) => closed.listen(0, "127.0.0.1", () => resolve((closed.address() as AddressInfo).port)));
            await new Promise<void>((resolve) => closed.close(() => resolve()));
            await assert.rejects(sshProber()(target({ port: p }), run("x")), /^Error: probe of host h1 \(probe@127\.0\.0\.1:\d+\) failed: .*ECONNREFUSED/);
        });
    });

    describe("probeHosts", () => {
        it("sends each host the probe script of its planned features and returns plain tokens by feature key", async () => {
            // With its database passwords set, as secrets (its containers list them in secretEnv).
            const config = withKey(stackConfig("compose"));
            const model = parseStackConfig({ hosts: config["macvlan:hosts"], networks: config["macvlan:networks"], networksSecret: true });
            const calls: Array<{ target: ProbeTarget; script: string }> = [];
            const hosts = planStack(model).hosts as readonly PlannedHost[];
            const result = await probeHosts(hosts, pulumi.secret(TEST_PRIVATE_KEY), fakeProber(config, (_h, k) => `t-${k}`, calls));
            const probes = result.tokens;
            assert.deepEqual([...probes.keys()], ["docker1"]);
            assert.deepEqual([...result.hostKeys], [["docker1", { key: model.hosts[0].hostKey, learned: false }]]);
            const keys = (hosts[0]).plan.features.map((p) => featureKey(p.feature));
            const tokens = await new Promise<Record<string, string>>((resolve) => probes.get("docker1")!.apply(resolve));
            assert.deepEqual(tokens, Object.fromEntries(keys.map((k) => [k, `t-${k}`])));
            const secret = await (probes.get("docker1") as unknown as { isSecret: Promise<boolean> }).isSecret;
            assert.equal(secret, false, "tokens are not secret");
            assert.equal(calls.length, 1);
            assert.equal(calls[0].target.privateKey, TEST_PRIVATE_KEY);
            assert.ok(!calls[0].script.includes(KEY_MARKER), "the key is not in the script");
        });

        it("rejects with the failing host's error", async () => {
            const config = stackConfig("modes");
            const model = parseStackConfig({ hosts: config["macvlan:hosts"], networks: config["macvlan:networks"] });
            await assert.rejects(
                probeHosts(planStack(model).hosts as readonly PlannedHost[], "k", (t) => {
                    if (t.host === "node2") return Promise.reject(new Error("probe of host node2 failed: timeout"));
                    return Promise.resolve({ stdout: "", hostKey: t.hostKey ?? "" });
                }),
                /host node2/,
            );
        });

        it("names every host that failed in one error (a refused host key among them), after probing every host", async () => {
            const config = threeHostsConfig();
            const model = parseStackConfig({ hosts: config["macvlan:hosts"], networks: config["macvlan:networks"] });
            const hosts = planStack(model).hosts as readonly PlannedHost[];
            const calls: Array<{ target: ProbeTarget; script: string }> = [];
            const impostor = fakeHostKey("impostor");
            const fake = fakeProber(config, undefined, calls, { node1: impostor });
            const prober: HostProber = (t, r) => {
                if (t.host !== "node3") return fake(t, r);
                calls.push({ target: t, script: r.stdin });
                return Promise.reject(new Error("probe of host node3 (root@node3.example.net:22) failed: getaddrinfo ENOTFOUND node3.example.net"));
            };
            await assert.rejects(probeHosts(hosts, "k", prober), (e: unknown) => {
                assert.ok(e instanceof ProbeFailures, String(e));
                assert.equal(e.hostKeysOnly, false);
                assert.deepEqual(e.failures.map((f) => [f.host, f.error instanceof HostKeyError]), [["node1", true], ["node3", false]]);
                const lines = e.message.split("\n");
                assert.equal(lines.length, 3, e.message);
                assert.equal(lines[0], "the drift probe failed on 2 of 3 hosts; nothing was registered:");
                assert.ok(lines[1].startsWith("  probe of host node1 (root@198.51.100.21:22) refused: the host key changed: "), lines[1]);
                assert.ok(lines[1].includes(`the server presented ${describeHostKey(impostor)}`), lines[1]);
                assert.equal(lines[2], "  probe of host node3 (root@node3.example.net:22) failed: getaddrinfo ENOTFOUND node3.example.net");
                return true;
            });
            assert.deepEqual(calls.map((c) => c.target.host).sort(), ["node1", "node2", "node3"], "every host was probed");
        });

        it("two refused host keys: one error listing both, marked as host-key refusals only", async () => {
            const config = threeHostsConfig();
            const model = parseStackConfig({ hosts: config["macvlan:hosts"], networks: config["macvlan:networks"] });
            const hosts = planStack(model).hosts as readonly PlannedHost[];
            const prober = fakeProber(config, undefined, [], { node2: fakeHostKey("impostor2"), node3: fakeHostKey("impostor3") });
            await assert.rejects(probeHosts(hosts, "k", prober), (e: unknown) => {
                assert.ok(e instanceof ProbeFailures, String(e));
                assert.equal(e.hostKeysOnly, true);
                assert.deepEqual(e.failures.map((f) => f.host), ["node2", "node3"]);
                assert.match(e.message, /^the drift probe failed on 2 of 3 hosts; nothing was registered:\n {2}probe of host node2 \(root@198\.51\.100\.22:22\) refused: the host key changed: .*\n {2}probe of host node3 \(root@node3\.example\.net:22\) refused: the host key changed: /);
                return true;
            });
        });

        it("returns each host's machine id and addresses, and refuses a malformed fact line naming the host", async () => {
            const config = threeHostsConfig();
            const model = parseStackConfig({ hosts: config["macvlan:hosts"], networks: config["macvlan:networks"] });
            const hosts = planStack(model).hosts as readonly PlannedHost[];
            const id = "0123456789abcdef0123456789abcdef";
            const facts = { node1: [`@machine-id=${id}`, "@addr=eth0 198.51.100.21/24", "@addr=eth0.70 192.0.2.2/24"], node3: ["@addr=eth0 198.51.100.23/24"] };
            const result = await probeHosts(hosts, "k", fakeProber(config, undefined, [], {}, facts));
            assert.deepEqual(result.facts.get("node1"), {
                machineId: id,
                addresses: [
                    { link: "eth0", address: "198.51.100.21", prefix: 24 },
                    { link: "eth0.70", address: "192.0.2.2", prefix: 24 },
                ],
            });
            assert.deepEqual(result.facts.get("node2"), { addresses: [] });
            assert.deepEqual(result.facts.get("node3"), { addresses: [{ link: "eth0", address: "198.51.100.23", prefix: 24 }] });
            await assert.rejects(
                probeHosts(hosts, "k", fakeProber(config, undefined, [], {}, { node2: ["@machine-id=0123"] })),
                /^Error: probe of host node2 \(root@198\.51\.100\.22:22\) gave an unreadable answer: probe output: malformed machine id line "@machine-id=0123"$/,
            );
        });

        it("returns each host's parent NIC and Docker Engine, and refuses a malformed parent or docker line naming the host", async () => {
            const config = threeHostsConfig();
            const model = parseStackConfig({ hosts: config["macvlan:hosts"], networks: config["macvlan:networks"] });
            const hosts = planStack(model).hosts as readonly PlannedHost[];
            const calls: Array<{ target: ProbeTarget; script: string }> = [];
            const facts = { node1: ["@parent=eth0 mtu=1500 state=UP", "@docker=27.3.1 1.47"], node2: ["@parent=eth0 absent"] };
            const result = await probeHosts(hosts, "k", fakeProber(config, undefined, calls, {}, facts));
            assert.deepEqual(result.facts.get("node1"), { addresses: [], parent: { link: "eth0", exists: true, mtu: 1500, state: "UP" }, docker: { version: "27.3.1", apiVersion: "1.47" } });
            assert.deepEqual(result.facts.get("node2"), { addresses: [], parent: { link: "eth0", exists: false } });
            assert.deepEqual(result.facts.get("node3"), { addresses: [] });
            for (const c of calls) {
                assert.ok(c.script.includes("\npm_parent 'eth0'\n"), `${c.target.host}: the script asks for its parent`);
                assert.ok(c.script.includes("\npm_docker\n"), `${c.target.host}: the script asks for the engine`);
            }
            await assert.rejects(
                probeHosts(hosts, "k", fakeProber(config, undefined, [], {}, { node3: ["@parent=eth0 mtu=big state=UP"] })),
                /^Error: probe of host node3 \(root@node3\.example\.net:22\) gave an unreadable answer: probe output: malformed parent line "@parent=eth0 mtu=big state=UP"$/,
            );
            await assert.rejects(
                probeHosts(hosts, "k", fakeProber(config, undefined, [], {}, { node2: ["@docker=27.3.1"] })),
                /^Error: probe of host node2 \(root@198\.51\.100\.22:22\) gave an unreadable answer: probe output: malformed docker line "@docker=27\.3\.1"$/,
            );
        });

        it("returns each host's parent driver and hypervisor when it reports them, and refuses a malformed line naming the host", async () => {
            const config = threeHostsConfig();
            const model = parseStackConfig({ hosts: config["macvlan:hosts"], networks: config["macvlan:networks"] });
            const hosts = planStack(model).hosts as readonly PlannedHost[];
            const calls: Array<{ target: ProbeTarget; script: string }> = [];
            const facts = { node1: ["@parent=eth0 mtu=1500 state=UP", "@parent-driver=eth0 vmxnet3", "@virt=vmware"], node2: ["@virt=kvm"] };
            const result = await probeHosts(hosts, "k", fakeProber(config, undefined, calls, {}, facts));
            assert.deepEqual(result.facts.get("node1"), {
                addresses: [],
                parent: { link: "eth0", exists: true, mtu: 1500, state: "UP" },
                parentDriver: { link: "eth0", driver: "vmxnet3" },
                virtualization: "vmware",
            });
            assert.deepEqual(result.facts.get("node2"), { addresses: [], virtualization: "kvm" });
            assert.deepEqual(result.facts.get("node3"), { addresses: [] });
            for (const c of calls) {
                assert.ok(c.script.includes("\npm_parent_driver 'eth0'\n"), `${c.target.host}: the script asks for its parent's driver`);
                assert.ok(c.script.includes("\npm_virt\n"), `${c.target.host}: the script asks for the hypervisor`);
            }
            await assert.rejects(
                probeHosts(hosts, "k", fakeProber(config, undefined, [], {}, { node3: ["@parent-driver=eth0 virtio net"] })),
                /^Error: probe of host node3 \(root@node3\.example\.net:22\) gave an unreadable answer: probe output: malformed parent driver line "@parent-driver=eth0 virtio net"$/,
            );
        });

        it("refuses a prober's answer with another key than the pinned one (checked again, whatever the prober)", async () => {
            const config = stackConfig("modes");
            const model = parseStackConfig({ hosts: config["macvlan:hosts"], networks: config["macvlan:networks"] });
            const impostor = fakeHostKey("impostor");
            await assert.rejects(
                probeHosts(planStack(model).hosts as readonly PlannedHost[], "k", fakeProber(config, undefined, [], { node2: impostor })),
                (e: unknown) => {
                    assert.ok(e instanceof HostKeyError, String(e));
                    assert.match(e.message, /^probe of host node2 \(root@198\.51\.100\.22:22\) refused: the host key changed: /);
                    assert.ok(e.message.includes(`the pinned hostKey is ${describeHostKey(model.hosts[1].hostKey as string)}`), e.message);
                    assert.ok(e.message.includes(`the server presented ${describeHostKey(impostor)}`), e.message);
                    return true;
                },
            );
        });

        it("refuses an unpinned host without contacting it, unless learning; learning reports the key as learned", async () => {
            const config = clone(stackConfig("modes"));
            delete (config["macvlan:hosts"] as Array<Record<string, unknown>>)[0]["hostKey"];
            const model = parseStackConfig({ hosts: config["macvlan:hosts"], networks: config["macvlan:networks"] }, { trustOnFirstUse: true });
            const hosts = planStack(model).hosts as readonly PlannedHost[];
            const calls: Array<{ target: ProbeTarget; script: string }> = [];
            await assert.rejects(probeHosts(hosts, "k", fakeProber(config, undefined, calls)), (e: unknown) => e instanceof HostKeyError && /host node1 .*refused: there is no host key/.test(e.message));
            assert.deepEqual(calls.map((c) => c.target.host), ["node2"], "node1 was never contacted");
            calls.length = 0;
            const result = await probeHosts(hosts, "k", fakeProber(config, undefined, calls), { learnHostKeys: true });
            assert.deepEqual([...result.hostKeys], [
                ["node1", { key: fakeHostKey("node1"), learned: true }],
                ["node2", { key: model.hosts[1].hostKey, learned: false }],
            ]);
            assert.deepEqual(calls.map((c) => [c.target.host, c.target.learnHostKey ?? false]), [["node1", true], ["node2", false]]);
        });
    });
});
