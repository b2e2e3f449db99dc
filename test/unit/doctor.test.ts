/**
 * The doctor (tools/doctor): its read-only inspect script as text, the parser of its answer, and
 * the report of a stack from what fake hosts answer (the drift probe's answer from the fake prober
 * the program's tests use, and an inspect answer written here), in JSON and as the terminal shows
 * it. Run against real hosts, with drift made by hand: test/system/doctor.lab.test.ts. Pure.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { ShellValueError, unwrapStdin } from "../../components/host/shell";
import type { HostProber } from "../../components/stack/probe";
import { parseInspect, renderInspect } from "../../tools/doctor/inspect";
import { renderReport } from "../../tools/doctor/report";
import { runDoctor } from "../../tools/doctor/run";
import { fakeProber } from "../support/prober";
import { stackConfig } from "../support/stacks";

const INSPECT_MARK = "pulumi-macvlan doctor";

/** A prober for the twohosts stack: the drift probe answered by the fake prober (`token`), the inspect by `inspect[host]`; `down` hosts fail. */
function hosts(token: (host: string, key: string) => string, inspect: Readonly<Record<string, string>>, down: readonly string[] = []): HostProber {
    const probe = fakeProber(stackConfig("twohosts"), token, [], {}, { centos1: ["@parent=ens33 mtu=1500 state=UP", "@docker=27.3.1 1.47"], centos2: ["@parent=ens33 mtu=1500 state=UP", "@docker=27.3.1 1.47"] });
    return async (target, run) => {
        if (down.includes(target.host)) throw new Error(`probe of host ${target.host} (root@${target.address}:${target.port}) failed: connect ECONNREFUSED`);
        if (run.stdin.includes(INSPECT_MARK)) return { stdout: inspect[target.host] ?? "", hostKey: target.hostKey ?? "" };
        return probe(target, run);
    };
}

function stackFile() {
    const c = stackConfig("twohosts");
    return { hosts: c["macvlan:hosts"], networks: c["macvlan:networks"], trustOnFirstUse: false, probe: true };
}

/** The tokens each host's features stored when applied (`ok`, what the fake probe prints back), `none` for those named in `unapplied`. */
function stored(host: string, unapplied: readonly string[] = []): string {
    const route = host === "centos1" ? "route-198-51-100-10-32" : "route-198-51-100-11-32";
    return ["promisc-ens33", "ipforward", "shim-macvlan-shim", route].map((k) => `@token=${k} ${unapplied.includes(k) ? "none" : "ok"}\n`).join("");
}

const HEALTHY: Readonly<Record<string, string>> = {
    centos1: `@net=mynet macvlan|ens33|bridge|198.51.100.0/24,\n@ctr=test1 running|mynet=198.51.100.10==02:42:c6:33:64:0a;\n${stored("centos1")}`,
    centos2: `@net=mynet macvlan|ens33|bridge|198.51.100.0/24,\n@ctr=test2 running|mynet=198.51.100.11==02:42:c6:33:64:0b;\n${stored("centos2")}`,
};

describe("the doctor", () => {
    describe("the inspect script", () => {
        it("asks for each network and container by its quoted name, and each feature's stored token, read-only", () => {
            const script = unwrapStdin(renderInspect({ networks: ["mynet"], containers: ["test1", "web.2"], features: ["promisc-eth0"] }));
            assert.ok(script.includes(`read -r t < '/var/lib/pulumi-macvlan/promisc-eth0/token'; then echo "@token=promisc-eth0 $t"`), script);
            assert.ok(script.includes(INSPECT_MARK));
            assert.ok(script.includes(`docker network inspect --format "$NF" -- 'mynet'`), script);
            assert.ok(script.includes(`docker inspect --type container --format "$CF" -- 'test1'`), script);
            assert.ok(script.includes(`-- 'web.2'`), script);
            // Only inspection: no docker command that changes anything, no ip/sysctl writes.
            for (const verb of ["rm", "create", "run", "start", "stop", "connect", "disconnect", "kill"]) {
                assert.doesNotMatch(script, new RegExp(`docker (network )?${verb}\\b`), verb);
            }
            assert.doesNotMatch(script, /\bip (link|addr|route) (set|add|del)|sysctl -w/);
        });

        it("refuses a name Docker would not take (it would reach the shell)", () => {
            assert.throws(() => renderInspect({ networks: ["my net"], containers: [] }), ShellValueError);
            assert.throws(() => renderInspect({ networks: [], containers: ["x';reboot;'"] }), ShellValueError);
            assert.throws(() => renderInspect({ networks: [], containers: [], features: ["../../etc"] }), ShellValueError);
        });

        it("reads the answer: networks and containers present or absent, endpoints, no docker; a malformed line is an error", () => {
            const r = parseInspect(
                "banner\n@net=mynet macvlan|ens33.50|bridge|198.51.100.0/24,2001:db8::/64,\n@net=gone absent\n@ctr=test1 running|mynet=198.51.100.10=2001:db8::10=02:42:C6:33:64:0A;other=10.0.0.2==02:42:0a:00:00:02;\n@ctr=test2 absent\n",
            );
            assert.equal(r.docker, true);
            assert.deepEqual(r.networks.get("mynet"), { exists: true, driver: "macvlan", parent: "ens33.50", mode: "bridge", subnets: ["198.51.100.0/24", "2001:db8::/64"] });
            assert.deepEqual(r.networks.get("gone"), { exists: false });
            assert.deepEqual(r.containers.get("test1"), {
                exists: true,
                status: "running",
                endpoints: [
                    { network: "mynet", ip: "198.51.100.10", ip6: "2001:db8::10", mac: "02:42:c6:33:64:0a" },
                    { network: "other", ip: "10.0.0.2", ip6: "", mac: "02:42:0a:00:00:02" },
                ],
            });
            assert.deepEqual(r.containers.get("test2"), { exists: false });
            assert.equal(parseInspect("@nodocker\n").docker, false);
            assert.deepEqual([...parseInspect("@token=promisc-eth0 drift:new,promisc-off,boot,unit@18436\n@token=ipforward none\n").tokens], [
                ["promisc-eth0", "drift:new,promisc-off,boot,unit@18436"],
                ["ipforward", null],
            ]);
            assert.throws(() => parseInspect("@token=ipforward $(reboot)\n"), /unreadable token line/);
            assert.throws(() => parseInspect("@net=mynet macvlan;reboot\n"), /unreadable network line/);
        });
    });

    describe("the report", () => {
        it("a stack as described: every host, network and container ok, healthy", async () => {
            const r = await runDoctor(stackFile(), { prober: hosts(() => "ok", HEALTHY), privateKey: "k" });
            assert.equal(r.healthy, true);
            assert.deepEqual(
                r.hosts.map((h) => [h.host, h.reachable, h.hostKey, h.docker, h.parent, h.features.map((f) => `${f.key}:${f.state}`).join(" ")]),
                [
                    ["centos1", true, "pinned", "27.3.1", "ens33 UP mtu 1500", "promisc-ens33:ok ipforward:ok shim-macvlan-shim:ok route-198-51-100-10-32:ok"],
                    ["centos2", true, "pinned", "27.3.1", "ens33 UP mtu 1500", "promisc-ens33:ok ipforward:ok shim-macvlan-shim:ok route-198-51-100-11-32:ok"],
                ],
            );
            assert.deepEqual(r.networks.map((n) => [n.network, n.host, n.link, n.state]), [
                ["mynet", "centos1", "ens33", "ok"],
                ["mynet", "centos2", "ens33", "ok"],
            ]);
            assert.deepEqual(r.containers.map((c) => [c.container, c.state]), [
                ["test1", "ok"],
                ["test2", "ok"],
            ]);
        });

        it("a feature is as applied when the probe prints back exactly the token it stored, even one that reads drift:new (the probe's token before the first apply)", async () => {
            const first = "drift:new,promisc-off,boot,unit@1843624879";
            const inspect = Object.fromEntries(Object.entries(HEALTHY).map(([h, t]) => [h, t.replace(/@token=(\S+) ok/g, `@token=$1 ${first}`)]));
            const r = await runDoctor(stackFile(), { prober: hosts(() => first, inspect), privateKey: "k" });
            assert.deepEqual(r.hosts.flatMap((h) => h.features.map((f) => f.state)), Array(8).fill("ok"));
            assert.equal(r.healthy, true);
        });

        it("names each drifted feature with the probe's codes, a missing or different container, and an unreachable host", async () => {
            const drifted = {
                centos1: `@net=mynet macvlan|ens33|vepa|198.51.100.0/24,\n@ctr=test1 exited|mynet=198.51.100.10==02:42:c6:33:64:99;\n${stored("centos1", ["ipforward"])}`,
                centos2: `@net=mynet absent\n@ctr=test2 absent\n${stored("centos2", ["ipforward"])}`,
            };
            // What the probe prints: a drifted promisc on centos1 (its stored token is `ok`); ipforward never applied (no stored token).
            const token = (host: string, key: string) => (host === "centos1" && key === "promisc-ens33" ? "drift:promisc-off@1234" : key === "ipforward" ? "drift:new,forward-off,boot,unit@99" : "ok");
            const r = await runDoctor(stackFile(), { prober: hosts(token, drifted), privateKey: "k" });
            assert.equal(r.healthy, false);
            assert.deepEqual(r.containers.map((c) => [c.container, c.state, c.differences]), [
                ["test1", "different", ["status exited (want running)", "mynet mac 02:42:c6:33:64:99 (want 02:42:c6:33:64:0a)"]],
                ["test2", "missing", []],
            ]);
            assert.deepEqual(r.networks.map((n) => [n.host, n.state, n.differences]), [
                ["centos1", "different", ["mode vepa (want bridge)"]],
                ["centos2", "missing", []],
            ]);
            assert.equal(
                renderReport(r),
                [
                    "HOST     SSH                HOST KEY  DOCKER  PARENT             PROMISC  FORWARD  VLANS  SHIM  ROUTES",
                    "centos1  198.51.100.145:22  pinned    27.3.1  ens33 UP mtu 1500  DRIFT    NEW      -      ok    ok",
                    "centos2  198.51.100.146:22  pinned    27.3.1  ens33 UP mtu 1500  ok       NEW      -      ok    ok",
                    "",
                    "Hosts:",
                    "  centos1 promisc-ens33: drift (promisc-off)",
                    "  centos1 ipforward: not applied (new, forward-off, boot, unit)",
                    "  centos2 ipforward: not applied (new, forward-off, boot, unit)",
                    "",
                    "NETWORK  HOST     LINK   STATE      DETAIL",
                    "mynet    centos1  ens33  DIFFERENT  mode vepa (want bridge)",
                    "mynet    centos2  ens33  MISSING",
                    "",
                    "CONTAINER  HOST     NETWORKS (ip, mac)                     STATE      DETAIL",
                    "test1      centos1  mynet 198.51.100.10 02:42:c6:33:64:0a  DIFFERENT  status exited (want running); mynet mac 02:42:c6:33:64:99 (want 02:42:c6:33:64:0a)",
                    "test2      centos2  mynet 198.51.100.11 02:42:c6:33:64:0b  MISSING",
                    "",
                    "Something differs from the stack: see above. The doctor changed nothing.",
                    "",
                ].join("\n"),
            );
            const down = await runDoctor(stackFile(), { prober: hosts(() => "ok", HEALTHY, ["centos2"]), privateKey: "k" });
            const c2 = down.hosts[1];
            assert.deepEqual([c2?.reachable, c2?.hostKey, c2?.error, c2?.features.every((f) => f.state === "unknown")], [
                false,
                "unknown",
                "probe of host centos2 (root@198.51.100.146:22) failed: connect ECONNREFUSED",
                true,
            ]);
            assert.deepEqual(down.containers.map((c) => [c.container, c.state]), [
                ["test1", "ok"],
                ["test2", "unknown"],
            ]);
            assert.equal(down.healthy, false);
        });

        it("lists the program's warnings, with what the hosts answered: promisc off on a VM's NIC", async () => {
            const f = stackFile();
            const vm = { ...f, hosts: (f.hosts as Array<Record<string, unknown>>).map((h, i) => (i === 0 ? { ...h, promisc: false } : h)) };
            const probe = fakeProber(stackConfig("twohosts"), () => "ok", [], {}, { centos1: ["@parent=ens33 mtu=1500 state=UP", "@parent-driver=ens33 virtio_net", "@virt=kvm"] });
            const prober: HostProber = async (target, run) => (run.stdin.includes(INSPECT_MARK) ? { stdout: HEALTHY[target.host] ?? "", hostKey: target.hostKey ?? "" } : probe(target, run));
            const r = await runDoctor(vm, { prober, privateKey: "k" });
            assert.equal(r.warnings.length, 1, r.warnings.join("\n"));
            assert.match(r.warnings[0] ?? "", /^hosts\[0\]\.promisc false .*virtio_net/);
            assert.match(renderReport(r), /\nWarnings \(legal, but risky\):\n {2}hosts\[0\]\.promisc false /);
            const plain = await runDoctor(stackFile(), { prober, privateKey: "k" });
            assert.deepEqual(plain.warnings, []);
        });

        it("refuses a stack config that is not valid before it asks any host", async () => {
            const f = stackFile();
            const bad = { ...f, networks: [{ ...(f.networks as Array<Record<string, unknown>>)[0], subnet: "198.51.100.0/33" }] };
            let asked = 0;
            await assert.rejects(
                runDoctor(bad, {
                    prober: () => {
                        asked++;
                        return Promise.reject(new Error("asked"));
                    },
                    privateKey: "k",
                }),
                /networks\[0\]\.subnet 198\.51\.100\.0\/33/,
            );
            assert.equal(asked, 0);
        });
    });

    describe("npm run doctor, as a process: bad input exits 2 before any host is asked", function () {
        this.timeout(120_000);
        const REPO = path.resolve(__dirname, "../..");
        const dir = path.join(REPO, ".scratch", "doctor-unit");
        function run(...args: string[]) {
            const r = spawnSync("npm", ["run", "-s", "doctor", "--", ...args], { cwd: REPO, encoding: "utf8", timeout: 60_000 });
            return { code: r.status, stderr: r.stderr };
        }
        function stackFile(name: string, config: unknown): string {
            mkdirSync(dir, { recursive: true });
            const file = path.join(dir, name);
            writeFileSync(file, yaml.dump(config));
            return file;
        }

        it("a stack config that is not valid: every problem, and no host asked", () => {
            const c = stackConfig("twohosts");
            const nets = c["macvlan:networks"] as Array<Record<string, unknown>>;
            const key = stackFile("id_test_unused", "x");
            const file = stackFile("Pulumi.bad.yaml", { config: { ...c, "macvlan:networks": [{ ...nets[0], subnet: "198.51.100.0/33" }] } });
            const r = run("--stack-file", file, "--identity", key);
            assert.equal(r.code, 2, r.stderr);
            assert.match(r.stderr, /^doctor: the stack config is not valid, no host was asked:\nmacvlan stack config has \d+ problems?:\n {2}networks\[0\]\.subnet 198\.51\.100\.0\/33 /);
        });

        it("no stack, no key, a file that is not a stack file, an unknown argument", () => {
            assert.match(run().stderr, /^doctor: give --stack <env> or --stack-file <path>\nusage: /);
            assert.match(run("--stack", "../etc").stderr, /^doctor: --stack "..\/etc" is not a stack name/);
            assert.match(run("--stack", "twohosts").stderr, /^doctor: no SSH key: give --identity <private key file> \(the stack has no macvlan:sshPrivateKeyPath\)/);
            const notStack = stackFile("notstack.yaml", { config: 3 });
            const r = run("--stack-file", notStack);
            assert.equal(r.code, 2);
            assert.match(r.stderr, /is not a stack file: it has no config: map/);
            assert.equal(run("--stack", "twohosts", "--bogus").code, 2);
        });
    });
});
