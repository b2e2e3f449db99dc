/**
 * MacvlanHost on its own: the feature plan, argument checks, the Docker provider's ssh endpoint
 * and options (also executed by the real OpenSSH client against a local SSH server), and the
 * graph it registers under mocks.
 */
import * as assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import type { AddressInfo } from "node:net";
import * as fc from "fast-check";
import { Server } from "ssh2";
// Static imports are safe: .mocharc.json loads test/support/mocks.ts (the mocks) before any spec.
import { renderFeature } from "../../components/host/scripts";
import * as H from "../../components/macvlanHost";
import { byName, dependencyNames, ed25519, isSecretValue, recorded, reset, runUnderMocks, summary, unwrapSecrets } from "../support/mocks";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAMKERgfJi00O0JJUFdeZWxzeoGIj5adpKuyucDHztXc";

describe("MacvlanHost", () => {
    const base = (extra: Partial<H.MacvlanHostArgs> = {}): H.MacvlanHostArgs => ({
        connection: { address: "198.51.100.145", privateKey: "k" },
        parent: "ens33",
        ...extra,
    });

    describe("planHostFeatures", () => {
        it("plans promisc and ip_forward by default, nothing else", () => {
            assert.deepEqual(
                H.planHostFeatures("h", base()).map((p) => [p.name, p.feature, p.after]),
                [
                    ["h-promisc", { kind: "promisc", parent: "ens33" }, []],
                    ["h-ipforward", { kind: "ipforward" }, []],
                ],
            );
        });

        it("leaves out what is switched off", () => {
            assert.deepEqual(H.planHostFeatures("h", base({ promisc: false, ipForward: false })), []);
        });

        it("plans VLANs sorted and unique, the shim after its VLAN, each route after the shim", () => {
            const plan = H.planHostFeatures(
                "h",
                base({
                    vlans: [60, 50, 60],
                    shim: { address: "192.0.2.250/32", vlan: 50, routes: ["192.0.2.16/32", "192.0.2.15/32", "192.0.2.16/32"] },
                }),
            );
            assert.deepEqual(
                plan.map((p) => [p.name, p.feature, p.after]),
                [
                    ["h-promisc", { kind: "promisc", parent: "ens33" }, []],
                    ["h-ipforward", { kind: "ipforward" }, []],
                    ["h-vlan50", { kind: "vlan", parent: "ens33", id: 50 }, []],
                    ["h-vlan60", { kind: "vlan", parent: "ens33", id: 60 }, []],
                    ["h-shim", { kind: "shim", lower: "ens33.50", link: "macvlan-shim", address: "192.0.2.250/32" }, ["h-vlan50"]],
                    ["h-shim-route-192-0-2-16-32", { kind: "route", link: "macvlan-shim", cidr: "192.0.2.16/32" }, ["h-shim"]],
                    ["h-shim-route-192-0-2-15-32", { kind: "route", link: "macvlan-shim", cidr: "192.0.2.15/32" }, ["h-shim"]],
                ],
            );
        });

        it("a new optional argument changes no existing child name", () => {
            const before = H.planHostFeatures("h", base()).map((p) => p.name);
            const after = H.planHostFeatures("h", base({ vlans: [7], needsDocker: true, shim: { address: "198.51.100.9/32", routes: [] } })).map((p) => p.name);
            for (const n of before) assert.ok(after.includes(n), n);
        });
    });

    describe("featureTriggers", () => {
        const args = base({ vlans: [50], shim: { address: "192.0.2.250/32", vlan: 50, routes: ["192.0.2.15/32"] } });
        const triggers = (a: H.MacvlanHostArgs) => H.featureTriggers(H.planHostFeatures("h", a));

        it("gives each command its own identity, then those of what it builds on", () => {
            assert.deepEqual(Object.fromEntries(triggers(args)), {
                "h-promisc": ["promisc parent=ens33"],
                "h-ipforward": ["ipforward"],
                "h-vlan50": ["vlan parent=ens33 id=50"],
                "h-shim": ["shim lower=ens33.50 link=macvlan-shim address=192.0.2.250/32", "vlan parent=ens33 id=50"],
                "h-shim-route-192-0-2-15-32": [
                    "route link=macvlan-shim cidr=192.0.2.15/32",
                    "shim lower=ens33.50 link=macvlan-shim address=192.0.2.250/32",
                    "vlan parent=ens33 id=50",
                ],
            });
        });

        it("a new shim address replaces the shim and its routes, nothing else", () => {
            const before = triggers(args);
            const after = triggers({ ...args, shim: { address: "192.0.2.251/32", vlan: 50, routes: ["192.0.2.15/32"] } });
            const changed = [...after.keys()].filter((k) => JSON.stringify(after.get(k)) !== JSON.stringify(before.get(k)));
            assert.deepEqual(changed, ["h-shim", "h-shim-route-192-0-2-15-32"]);
        });

        it("another parent NIC replaces every command built on it; ip_forward stays", () => {
            const before = triggers(args);
            const after = triggers({ ...args, parent: "ens34" });
            const changed = [...after.keys()].filter((k) => JSON.stringify(after.get(k)) !== JSON.stringify(before.get(k)));
            assert.deepEqual(changed, ["h-promisc", "h-vlan50", "h-shim", "h-shim-route-192-0-2-15-32"]);
        });
    });

    describe("argument checks", () => {
        const cases: Array<[string, Partial<H.MacvlanHostArgs>, RegExp]> = [
            ["a shell in the parent", { parent: "eth0;reboot" }, /parent "eth0;reboot" is not a valid Linux interface name/],
            ["an ssh option as address", { connection: { address: "-oProxyCommand=sh", privateKey: "k" } }, /connection.address/],
            ["a bad port", { connection: { address: "h.example", port: 70000, privateKey: "k" } }, /connection.port 70000/],
            ["a bad user", { connection: { address: "h.example", user: "root -o x", privateKey: "k" } }, /connection.user/],
            ["a bad host key", { connection: { address: "h.example", hostKey: "ssh-ed25519 AAAA x", privateKey: "k" } }, /connection.hostKey/],
            ["an identity file with a space", { connection: { address: "h.example", identityFile: "/k ey", privateKey: "k" } }, /connection.identityFile/],
            ["a VLAN id out of range", { vlans: [4095] }, /vlans 4095/],
            ["a shim on a VLAN the host lacks", { shim: { address: "198.51.100.9/32", vlan: 9, routes: [] } }, /shim.vlan 9/],
            ["a bad shim link", { shim: { address: "198.51.100.9/32", link: "a-very-long-link-name", routes: [] } }, /shim.link/],
            ["what the script renderers refuse (a shim address that is not a /32)", { shim: { address: "198.51.100.9/24", routes: [] } }, /h-shim:/],
        ];
        for (const [what, extra, re] of cases) {
            it(`refuses ${what}, registering nothing`, async () => {
                reset();
                await assert.rejects(
                    runUnderMocks(() => new H.MacvlanHost("h", base(extra))),
                    (e: unknown) => re.test((e as Error).message) && /MacvlanHost h:/.test((e as Error).message),
                );
                assert.deepEqual(recorded, []);
            });
        }
    });

    describe("Docker provider endpoint", () => {
        it("is ssh://user@address:port, IPv6 in brackets", () => {
            assert.equal(H.dockerSshHost({ address: "198.51.100.1", privateKey: "" }), "ssh://root@198.51.100.1:22");
            assert.equal(H.dockerSshHost({ address: "2001:db8::1", port: 2222, user: "ops", privateKey: "" }), "ssh://ops@[2001:db8::1]:2222");
            assert.equal(H.dockerSshHost({ address: "node1.example.com", privateKey: "" }), "ssh://root@node1.example.com:22");
        });

        it("ssh options: batch mode; a pinned key is the only trusted one; the identity file when given", () => {
            assert.deepEqual(H.dockerSshOpts({ address: "198.51.100.1", privateKey: "" }), ["-o", "BatchMode=yes"]);
            assert.deepEqual(H.dockerSshOpts({ address: "198.51.100.1", hostKey: KEY, identityFile: "~/.ssh/id_x", privateKey: "" }), [
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-o",
                `KnownHostsCommand=/bin/echo 198.51.100.1 ${KEY}`,
                "-o",
                "IdentityFile=~/.ssh/id_x",
                "-o",
                "IdentitiesOnly=yes",
            ]);
        });

        it("refuses hostile connection values, and what it accepts gives single ssh words with no spaces, quotes, % tokens or leading dash (fuzz)", () => {
            const payloads = ["-oProxyCommand=sh", "a b", "x'y", 'x"y', "%h", "a;b", "$(id)", "`id`", "a\nb", "a\\b", "", "a,b", "a=b"];
            const hostile = fc.oneof(
                fc.constantFrom(...payloads),
                fc.tuple(fc.string({ maxLength: 5 }), fc.constantFrom(...payloads), fc.string({ maxLength: 5 })).map((p) => p.join("")),
                fc.string({ unit: "binary", maxLength: 16 }),
                // Values each field should accept, so the checks below always run on some.
                fc.constantFrom("198.51.100.7", "node1.example.com", "ops", "~/.ssh/id_ok", "a.b-c_d"),
            );
            const WORD = /^[A-Za-z0-9_.:/~+=@[\]-]+$/;
            type Field = "address" | "user" | "hostKey" | "identityFile";
            let accepted = 0;
            fc.assert(
                fc.property(fc.constantFrom<Field>("address", "user", "hostKey", "identityFile"), hostile, fc.integer({ min: -5, max: 70000 }), (field, v, port) => {
                    const connection: H.MacvlanHostConnection = { address: "198.51.100.1", hostKey: KEY, identityFile: "~/.ssh/id_x", privateKey: "", port, [field]: v };
                    if (H.macvlanHostArgsProblems("h", { connection, parent: "eth0" }).length > 0) return;
                    accepted++;
                    const opts = H.dockerSshOpts(connection);
                    for (let i = 0; i < opts.length; i += 2) {
                        assert.equal(opts[i], "-o");
                        const opt = opts[i + 1];
                        if (opt.startsWith("KnownHostsCommand=")) {
                            // argv of /bin/echo, split on spaces by ssh: exactly pattern, type, base64.
                            const words = opt.slice("KnownHostsCommand=".length).split(" ");
                            assert.equal(words.length, 4, opt);
                            assert.equal(words[0], "/bin/echo");
                            for (const w of words.slice(1)) assert.match(w, WORD, opt);
                        } else {
                            assert.match(opt, WORD, opt);
                            assert.match(opt, /^[A-Za-z]+=[^-]/, `${opt}: an option name, then a value that is not an option`);
                        }
                    }
                    assert.match(H.dockerSshHost(connection), /^ssh:\/\/[A-Za-z_][A-Za-z0-9_.-]*@(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/);
                }),
                { numRuns: 500 },
            );
            assert.ok(accepted > 0, "no connection was accepted: the fuzz checked nothing");
            for (const p of payloads) {
                for (const field of ["address", "user", "hostKey", "identityFile"] as Field[]) {
                    const problems = H.macvlanHostArgsProblems("h", { connection: { address: "198.51.100.1", privateKey: "", [field]: p }, parent: "eth0" });
                    assert.ok(problems.length > 0, `${field} took ${JSON.stringify(p)}`);
                }
            }
        });

        describe("executed by OpenSSH (as Docker's connection helper runs it) against a local SSH server", function () {
            const hostKey = ed25519();
            const otherKey = ed25519();
            let server: Server;
            let port: number;
            before((done) => {
                // Not a skip: CI installs openssh-client, and these options are what reaches ssh.
                if (spawnSync("ssh", ["-V"]).error !== undefined) throw new Error("the OpenSSH client (ssh) is not installed: apt-get install openssh-client");
                server = new Server({ hostKeys: [hostKey.private] }, (client) => {
                    client.on("authentication", (ctx) => ctx.reject());
                    client.on("error", () => undefined);
                });
                server.listen(0, "127.0.0.1", () => {
                    port = (server.address() as AddressInfo).port;
                    done();
                });
            });
            after(() => server?.close());

            /** Runs `ssh <opts> -p port -l root 127.0.0.1 true` with no user config and no agent; resolves with stderr. */
            function ssh(opts: string[]): Promise<string> {
                return new Promise((resolve) => {
                    const env = { ...process.env, SSH_AUTH_SOCK: "" };
                    const child = spawn("ssh", ["-F", "/dev/null", ...opts, "-o", "ConnectTimeout=10", "-p", String(port), "-l", "root", "127.0.0.1", "true"], {
                        env,
                        stdio: ["ignore", "ignore", "pipe"],
                    });
                    let err = "";
                    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
                    child.on("close", () => resolve(err));
                });
            }

            it("accepts the server when it presents the pinned key (and goes on to authenticate)", async () => {
                const err = await ssh(H.dockerSshOpts({ address: "127.0.0.1", port, hostKey: hostKey.public, privateKey: "" }));
                assert.match(err, /Permission denied/);
                assert.doesNotMatch(err, /Host key verification failed/);
            });

            it("refuses the server when it presents another key", async () => {
                const err = await ssh(H.dockerSshOpts({ address: "127.0.0.1", port, hostKey: otherKey.public, privateKey: "" }));
                assert.match(err, /Host key verification failed/);
            });

            it("refuses an unknown server in batch mode when nothing is pinned and known_hosts is empty", async () => {
                const err = await ssh([...H.dockerSshOpts({ address: "127.0.0.1", port, privateKey: "" }), "-o", "UserKnownHostsFile=/dev/null"]);
                assert.match(err, /Host key verification failed/);
            });
        });
    });

    describe("under mocks", () => {
        it("registers the preflight, one command per feature and the Docker provider, all parented, with a secret connection", async () => {
            reset();
            await runUnderMocks(
                () =>
                    new H.MacvlanHost("h", {
                        connection: { address: "198.51.100.145", hostKey: KEY, privateKey: "PRIVATE" },
                        parent: "ens33",
                        vlans: [50],
                        needsDocker: true,
                        shim: { address: "192.0.2.250/32", vlan: 50, routes: ["192.0.2.15/32"] },
                        probe: { "no-such-feature": "x" },
                    }),
            );
            assert.deepEqual(summary(recorded), [
                "command:remote:Command h-ipforward parent=h",
                "command:remote:Command h-preflight parent=h",
                "command:remote:Command h-promisc parent=h",
                "command:remote:Command h-shim parent=h",
                "command:remote:Command h-shim-route-192-0-2-15-32 parent=h",
                "command:remote:Command h-vlan50 parent=h",
                "macvlan:index:MacvlanHost h",
                "pulumi:providers:docker h-docker parent=h",
            ]);
            assert.deepEqual(dependencyNames(recorded, byName(recorded, "h-shim")), ["h-preflight", "h-vlan50"]);
            assert.deepEqual(dependencyNames(recorded, byName(recorded, "h-shim-route-192-0-2-15-32")), ["h-preflight", "h-shim"]);
            // Each feature command: exactly the rendered scripts (tokens from the probe, `unprobed`
            // for keys it did not report), replaced on a trigger change, old one deleted first.
            const args: H.MacvlanHostArgs = {
                connection: { address: "198.51.100.145", hostKey: KEY, privateKey: "PRIVATE" },
                parent: "ens33",
                vlans: [50],
                needsDocker: true,
                shim: { address: "192.0.2.250/32", vlan: 50, routes: ["192.0.2.15/32"] },
            };
            const plan = H.planHostFeatures("h", args);
            const triggers = H.featureTriggers(plan);
            for (const planned of plan) {
                const r = byName(recorded, planned.name);
                const rendered = renderFeature("h", planned.feature, H.UNPROBED_TOKEN);
                assert.equal(r.inputs["create"], rendered.create, planned.name);
                assert.equal(r.inputs["update"], rendered.update, planned.name);
                assert.equal(r.inputs["delete"], rendered.delete, planned.name);
                assert.deepEqual(r.inputs["triggers"], triggers.get(planned.name), planned.name);
                assert.equal(r.deleteBeforeReplace, true, planned.name);
            }
            const pre = byName(recorded, "h-preflight");
            assert.equal(pre.inputs["create"], pre.inputs["update"]);
            assert.equal(pre.inputs["delete"], undefined, "the preflight changes nothing, so it has nothing to undo");
            for (const r of recorded.filter((x) => x.type === "command:remote:Command")) {
                assert.ok(isSecretValue(r.inputs["connection"]), r.name);
                const c = unwrapSecrets(r.inputs["connection"]) as Record<string, unknown>;
                assert.equal(c["hostKey"], KEY);
                assert.equal(c["privateKey"], "PRIVATE");
                for (const k of ["create", "update", "delete"]) {
                    if (r.inputs[k] !== undefined) assert.ok(!JSON.stringify(r.inputs[k]).includes("PRIVATE"), `${r.name}.${k}`);
                }
            }
        });
    });
});
