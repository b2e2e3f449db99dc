/**
 * The plan of one host (components/plan/host.ts), pure: the settings in registration order, their
 * triggers, the argument checks, and the Docker provider's ssh endpoint and options (also executed
 * by the real OpenSSH client against a local SSH server).
 */
import * as assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import type { AddressInfo } from "node:net";
import * as fc from "fast-check";
import { Server } from "ssh2";
import * as P from "../../components/plan/host";
import { ed25519 } from "../support/keys";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAMKERgfJi00O0JJUFdeZWxzeoGIj5adpKuyucDHztXc";

/** Problems of the arguments alone, without the `MacvlanHost <name>: ` label. */
function argProblems(spec: P.HostSpec): readonly string[] {
    return P.planHost("h", spec).problems.map((x) => x.replace(/^MacvlanHost h: /, ""));
}

describe("plan/host", () => {
    const base = (extra: Partial<P.HostSpec> = {}): P.HostSpec => ({
        connection: { address: "198.51.100.145" },
        parent: "ens33",
        ...extra,
    });

    describe("planHostFeatures", () => {
        it("plans promisc and ip_forward by default, nothing else", () => {
            assert.deepEqual(
                P.planHostFeatures("h", base()).map((p) => [p.name, p.feature, p.after]),
                [
                    ["h-promisc", { kind: "promisc", parent: "ens33" }, []],
                    ["h-ipforward", { kind: "ipforward" }, []],
                ],
            );
        });

        it("leaves out what is switched off", () => {
            assert.deepEqual(P.planHostFeatures("h", base({ promisc: false, ipForward: false })), []);
        });

        it("plans VLANs sorted and unique, the shim after its VLAN, each route after the shim", () => {
            const plan = P.planHostFeatures(
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
            const before = P.planHostFeatures("h", base()).map((p) => p.name);
            const after = P.planHostFeatures("h", base({ vlans: [7], needsDocker: true, shim: { address: "198.51.100.9/32", routes: [] } })).map((p) => p.name);
            for (const n of before) assert.ok(after.includes(n), n);
        });
    });

    describe("featureTriggers", () => {
        const args = base({ vlans: [50], shim: { address: "192.0.2.250/32", vlan: 50, routes: ["192.0.2.15/32"] } });
        const triggers = (a: P.HostSpec) => new Map(P.planHostFeatures("h", a).map((x) => [x.name, x.triggers]));

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

    describe("Docker provider endpoint", () => {
        it("is ssh://user@address:port, IPv6 in brackets", () => {
            assert.equal(P.dockerSshHost({ address: "198.51.100.1" }), "ssh://root@198.51.100.1:22");
            assert.equal(P.dockerSshHost({ address: "2001:db8::1", port: 2222, user: "ops" }), "ssh://ops@[2001:db8::1]:2222");
            assert.equal(P.dockerSshHost({ address: "node1.example.com" }), "ssh://root@node1.example.com:22");
        });

        it("ssh options: batch mode; a pinned key is the only trusted one; the identity file when given", () => {
            assert.deepEqual(P.dockerSshOpts({ address: "198.51.100.1" }), ["-o", "BatchMode=yes"]);
            assert.deepEqual(P.dockerSshOpts({ address: "198.51.100.1", hostKey: KEY, identityFile: "~/.ssh/id_x" }), [
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
                    const connection: P.HostConnectionSpec = { address: "198.51.100.1", hostKey: KEY, identityFile: "~/.ssh/id_x", port, [field]: v };
                    if (argProblems({ connection, parent: "eth0" }).length > 0) return;
                    accepted++;
                    const opts = P.dockerSshOpts(connection);
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
                    assert.match(P.dockerSshHost(connection), /^ssh:\/\/[A-Za-z_][A-Za-z0-9_.-]*@(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$/);
                }),
                { numRuns: 500 },
            );
            assert.ok(accepted > 0, "no connection was accepted: the fuzz checked nothing");
            for (const p of payloads) {
                for (const field of ["address", "user", "hostKey", "identityFile"] as Field[]) {
                    const problems = argProblems({ connection: { address: "198.51.100.1", [field]: p }, parent: "eth0" });
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
                const err = await ssh(P.dockerSshOpts({ address: "127.0.0.1", port, hostKey: hostKey.public }));
                assert.match(err, /Permission denied/);
                assert.doesNotMatch(err, /Host key verification failed/);
            });

            it("refuses the server when it presents another key", async () => {
                const err = await ssh(P.dockerSshOpts({ address: "127.0.0.1", port, hostKey: otherKey.public }));
                assert.match(err, /Host key verification failed/);
            });

            it("refuses an unknown server in batch mode when nothing is pinned and known_hosts is empty", async () => {
                const err = await ssh([...P.dockerSshOpts({ address: "127.0.0.1", port }), "-o", "UserKnownHostsFile=/dev/null"]);
                assert.match(err, /Host key verification failed/);
            });
        });
    });

});
