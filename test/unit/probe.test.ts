/**
 * The drift probe: `sshProber` against a real SSH server on the loopback (ssh2's Server), host key
 * pinning, failures that name the host, timeouts; `probeHosts` with a fake prober.
 */
import * as assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { Server, type ServerChannel } from "ssh2";
import { featureKey } from "../../components/host/scripts";
import { planStack, type PlannedHost } from "../../components/plan/stack";
import { probeHosts, sshProber, type ProbeTarget } from "../../components/stack/probe";
import { parseStackConfig } from "../../components/config/parse";
import { fakeProber } from "../support/prober";
import { KEY_MARKER, TEST_PRIVATE_KEY, ed25519 } from "../support/keys";
import { stackConfig, withKey } from "../support/stacks";

/** Behaviour of the test server per exec'd command. */
type Handler = (command: string, channel: ServerChannel) => void;

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
                        session.on("exec", (acceptExec, _reject, info) => handler(info.command, acceptExec()));
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
            handler = (command, ch) => {
                ch.write(`ran ${command.length} bytes\n`);
                ch.exit(0);
                ch.end();
            };
        });

        const target = (extra: Partial<ProbeTarget> = {}): ProbeTarget => ({
            host: "h1",
            address: "127.0.0.1",
            port,
            user: "probe",
            privateKey: clientKey.private,
            ...extra,
        });

        it("runs the script as the given user and resolves with its stdout", async () => {
            const out = await sshProber()(target(), "echo hi\necho there");
            assert.equal(out, "ran 18 bytes\n");
            assert.equal(seenUser, "probe");
        });

        it("accepts the server when it presents the pinned host key", async () => {
            assert.equal(await sshProber()(target({ hostKey: hostKey.public }), "x"), "ran 1 bytes\n");
        });

        it("refuses another host key, naming the host", async () => {
            await assert.rejects(
                sshProber()(target({ hostKey: otherKey.public }), "x"),
                /^Error: probe of host h1 \(probe@127\.0\.0\.1:\d+\) failed: the server's host key is not the pinned hostKey$/,
            );
        });

        it("reports a failing script with its status and stderr", async () => {
            handler = (_c, ch) => {
                ch.stderr.write("ip: command not found\n");
                ch.exit(127);
                ch.end();
            };
            await assert.rejects(sshProber()(target(), "x"), /host h1 .*exited with status 127: ip: command not found/);
        });

        it("gives up after the total timeout", async () => {
            handler = () => undefined;
            await assert.rejects(sshProber({ totalTimeoutMs: 300 })(target(), "x"), /host h1 .*no answer within 300 ms/);
        });

        it("reports a refused login without the key in the message", async () => {
            await assert.rejects(sshProber()(target({ privateKey: ed25519().private }), "x"), (e: unknown) => {
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
            await assert.rejects(sshProber()(target({ port: p }), "x"), /^Error: probe of host h1 \(probe@127\.0\.0\.1:\d+\) failed: .*ECONNREFUSED/);
        });
    });

    describe("probeHosts", () => {
        it("sends each host the probe script of its planned features and returns plain tokens by feature key", async () => {
            // With its database passwords set, as secrets (its containers list them in secretEnv).
            const config = withKey(stackConfig("compose"));
            const model = parseStackConfig({ hosts: config["macvlan:hosts"], networks: config["macvlan:networks"], networksSecret: true });
            const calls: Array<{ target: ProbeTarget; script: string }> = [];
            const hosts = planStack(model).hosts as readonly PlannedHost[];
            const probes = await probeHosts(hosts, pulumi.secret(TEST_PRIVATE_KEY), fakeProber(config, (_h, k) => `t-${k}`, calls));
            assert.deepEqual([...probes.keys()], ["docker1"]);
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
                    return Promise.resolve("");
                }),
                /host node2/,
            );
        });
    });
});
