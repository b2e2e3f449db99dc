/**
 * Swarm networks (`swarm: true`, issue 10 item 5), below the lab: the config rules with their exact
 * messages; the scripts' text (values checked and quoted, shellcheck clean) and their behaviour run
 * for real with /bin/sh against a stand-in `docker` that keeps networks as files (ensure, refusal of
 * a foreign network, the lost earlier create, a delete that removes only its own network and waits
 * while the engine still holds the config-only one); the plan; and the graph MacvlanSwarmNetwork and
 * buildStack register under the mocks. The same scripts on real engines: test/system/swarm.e2e.test.ts.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
// The mocks first (importing them sets them), then the code under test.
import { recorded, reset } from "../support/mocks";
import { runUnderMocks } from "../support/program";
import { byName, dependencyNames, summary, unwrapSecrets } from "../support/records";
import { cfg, ED25519, expectProblems, rawCfg, node1, node2, pubNet } from "../support/configs";
import { parseStackConfig } from "../../components/config/parse";
import {
    configOnlyIdentity,
    renderConfigOnlyNetwork,
    renderSwarmScopedNetwork,
    type ConfigOnlyNetworkSpec,
    type SwarmScopedNetworkSpec,
} from "../../components/host/swarmNetwork";
import { ShellValueError, unwrapStdin } from "../../components/host/shell";
import { MacvlanSwarmNetwork } from "../../components/macvlanSwarmNetwork";
import { planSwarmNetwork } from "../../components/plan/swarm";
import { buildStack } from "../../components/stack/build";

const SLICED = { ipRange: "198.51.100.192/26", sliceSize: 28, slices: { node1: 0, node2: 1 } };

describe("swarm networks", () => {
    describe("config rules", () => {
        it("accepts a swarm network with a slice per host; the model marks it", () => {
            const m = parseStackConfig(cfg([node1(), node2()], [pubNet({ swarm: true, ...SLICED })]));
            assert.equal(m.networks[0].swarm, true);
            assert.deepEqual(m.networks[0].slices, { node1: "198.51.100.192/28", node2: "198.51.100.208/28" });
            const plain = parseStackConfig(cfg([node1(), node2()], [pubNet({ swarm: false, ...SLICED })]));
            assert.ok(!("swarm" in plain.networks[0]), "swarm: false is a local network");
        });

        it("accepts a swarm network on one host without slices", () => {
            assert.equal(parseStackConfig(cfg([node1()], [pubNet({ swarm: true })])).networks[0].swarm, true);
        });

        it("needs slices when the network spans several hosts (as every network does)", () => {
            expectProblems(rawCfg([node1(), node2()], [pubNet({ swarm: true })]), [
                "networks[0].slices is required: networks[0] (pub_net) spans hosts node1, node2, and each host's engine hands out addresses on its own from its whole subnet 198.51.100.0/24, so two engines could give two containers the same address; give each host its own slice of the dynamic range (e.g. ipRange: 198.51.100.128/25, sliceSize: 26, slices: {node1: 0, node2: 1})",
            ]);
        });

        it("refuses a join from a pinned container, and more than one pool (dual stack)", () => {
            expectProblems(
                cfg(
                    [node1({ vlans: [50] })],
                    [
                        pubNet({ containers: [{ name: "web", host: "node1", image: "nginx:1.27", ip: "198.51.100.12", networks: [{ network: "tasks", ip: "192.0.2.12" }], defaultRoute: "pub_net" }] }),
                        { name: "tasks", vlan: 50, swarm: true, ipam: [{ subnet: "192.0.2.0/24", gateway: "192.0.2.1" }, { subnet: "2001:db8:50::/64", gateway: "2001:db8:50::1" }] },
                    ],
                ),
                [
                    "networks[0].containers[0].networks[0].ip6 is required: networks[1] has an IPv6 pool (2001:db8:50::/64), and without a pinned address each host's engine picks the pool's first free one, the same on every host",
                    "networks[0].containers[0].networks[0].network tasks is a swarm network (networks[1].swarm), which carries the tasks of swarm services only: a pinned container cannot join it",
                    "networks[1] has 2 IPAM pools; a swarm network (networks[1].swarm) takes one IPv4 pool: its config-only networks are made with one subnet, and dual stack is not supported on it",
                ],
            );
        });

        it("refuses passthru, pinned containers, a non-boolean, a name too long or whose config-only name is taken", () => {
            expectProblems(
                cfg(
                    [node1({ vlans: [50, 60, 70] })],
                    [
                        pubNet({ swarm: true, mode: "passthru", vlan: 50, containers: [{ name: "web", host: "node1", image: "nginx:1.27", ip: "198.51.100.12" }] }),
                        { name: "x".repeat(58), subnet: "192.0.2.0/24", gateway: "192.0.2.1", swarm: true, hosts: ["node1"], vlan: 60 },
                        { name: "lan", subnet: "203.0.113.0/25", gateway: "203.0.113.1", swarm: "yes", hosts: ["node1"], vlan: 70 },
                    ],
                ),
                [
                    'networks[2].swarm "yes" must be true or false, not a string',
                    'networks[0].mode passthru cannot be used with networks[0].swarm: passthru hands the parent to one container, and a swarm network is for the tasks of services; use bridge, vepa or private',
                    "networks[0].containers must be empty when networks[0].swarm is true: a swarm network carries the tasks of swarm services (each task gets an address from its host's slice), pinned containers are not supported on it; put them on a network without swarm",
                    `networks[1].name ${"x".repeat(58)} is too long for a swarm network: at most 57 characters, as its config-only network on each host is named <name>-config (a Docker name of at most 64)`,
                ],
            );
            expectProblems(
                cfg([node1({ dockerVersion: "27.0" })], [pubNet({ swarm: true }), { name: "pub_net-config", subnet: "192.0.2.0/24", gateway: "192.0.2.1" }]),
                ['networks[0].name pub_net is a swarm network whose config-only networks are named pub_net-config, which is the name of another network: rename one of them'],
            );
        });
    });

    const CONFIG: ConfigOnlyNetworkSpec = {
        host: "node1",
        owner: "proj/dev/node1",
        name: "pub_net-config",
        parent: "eth0.50",
        mode: "bridge",
        pools: [{ subnet: "198.51.100.0/24", gateway: "198.51.100.1", ipRange: "198.51.100.128/28" }],
        auxAddresses: { shim: "198.51.100.250" },
    };
    const SWARM: SwarmScopedNetworkSpec = { host: "node1", owner: "proj/dev/node1", name: "pub_net", configFrom: "pub_net-config" };

    describe("script text", () => {
        it("is one stdin script per network: set -eu, every value assigned quoted, the docker words quoted", () => {
            const r = renderConfigOnlyNetwork(CONFIG);
            assert.equal(r.create, "/bin/sh -s create");
            assert.equal(r.update, r.create);
            assert.equal(r.delete, "/bin/sh -s delete");
            const s = unwrapStdin(r.stdin);
            assert.ok(s.startsWith("set -eu\n"), s.slice(0, 40));
            assert.equal(
                configOnlyIdentity(CONFIG),
                "config-only parent=eth0.50 mode=bridge pool=subnet=198.51.100.0/24,gateway=198.51.100.1,range=198.51.100.128/28 aux=shim=198.51.100.250",
            );
            assert.ok(s.includes("PM_NAME='pub_net-config'\n"), s);
            assert.ok(
                s.includes(
                    "    'docker' 'network' 'create' '--config-only' '--subnet' '198.51.100.0/24' '--gateway' '198.51.100.1' '--ip-range' '198.51.100.128/28' '--aux-address' 'shim=198.51.100.250' '-o' 'parent=eth0.50' '-o' 'macvlan_mode=bridge' '--label' 'com.pulumi-macvlan.owner=proj/dev/node1' '--label' 'com.pulumi-macvlan.identity=config-only parent=eth0.50 mode=bridge pool=subnet=198.51.100.0/24,gateway=198.51.100.1,range=198.51.100.128/28 aux=shim=198.51.100.250' 'pub_net-config'\n",
                ),
                s,
            );
            const w = unwrapStdin(renderSwarmScopedNetwork(SWARM).stdin);
            assert.ok(w.includes("    'docker' 'network' 'create' '--driver' 'macvlan' '--scope' 'swarm' '--config-from' 'pub_net-config' 'pub_net'\n"), w);
            assert.ok(w.includes("PM_WANT='pub_net|swarm|macvlan|pub_net-config'\n"), w);
        });

        it("refuses a value that would reach the shell unchecked", () => {
            const refused = (f: () => unknown, field: string) =>
                assert.throws(f, (e: unknown) => e instanceof ShellValueError && e.field === field, field);
            refused(() => renderConfigOnlyNetwork({ ...CONFIG, parent: "eth0;reboot" }), "parent");
            refused(() => renderConfigOnlyNetwork({ ...CONFIG, name: "a b" }), "name");
            refused(() => renderConfigOnlyNetwork({ ...CONFIG, mode: "passthru" as "bridge" }), "mode");
            refused(() => renderConfigOnlyNetwork({ ...CONFIG, pools: [{ subnet: "198.51.100.0/24", gateway: "$(id)" }] }), "pools[0].gateway");
            refused(() => renderConfigOnlyNetwork({ ...CONFIG, pools: [{ subnet: "198.51.100.1/24" }] }), "pools[0].subnet");
            refused(() => renderConfigOnlyNetwork({ ...CONFIG, auxAddresses: { "a'b": "198.51.100.2" } }), "auxAddresses");
            refused(() => renderConfigOnlyNetwork({ ...CONFIG, owner: "x" }), "owner");
            refused(() => renderSwarmScopedNetwork({ ...SWARM, configFrom: "-x" }), "configFrom");
        });

        it("passes shellcheck", function () {
            this.timeout(60_000);
            const dir = mkdtempSync(path.join(tmpdir(), "mvl-swarm-sc-"));
            try {
                const files = [renderConfigOnlyNetwork(CONFIG), renderSwarmScopedNetwork(SWARM)].map((r, i) => {
                    const f = path.join(dir, `s${i}.sh`);
                    writeFileSync(f, r.stdin);
                    return f;
                });
                const sc = spawnSync("shellcheck", ["--norc", "-s", "sh", "-f", "gcc", ...files], { encoding: "utf8" });
                assert.ok(!sc.error, "shellcheck is not installed: install it (Debian/Ubuntu: apt-get install -y shellcheck)");
                assert.equal(sc.stdout + sc.stderr, "");
                assert.equal(sc.status, 0);
            } finally {
                rmSync(dir, { recursive: true, force: true });
            }
        });
    });

    describe("scripts run with /bin/sh against a stand-in docker", function () {
        this.timeout(60_000);
        let dir: string;
        /**
         * A `docker` keeping each network as a file under $FAKE/net holding the state line the
         * script reads (the stand-in does not evaluate Go templates: a network records the line its
         * kind's format would give). `$FAKE/swarm` is what `docker info` prints; `$FAKE/inuse/<name>`
         * holds how many more `rm`s are refused as in use.
         */
        const FAKE_DOCKER = `#!/bin/sh
echo "$*" >> "$FAKE/log"
case "$1 $2" in
"info --format") cat "$FAKE/swarm"; exit 0 ;;
"network inspect") eval "n=\\$$#"; [ -f "$FAKE/net/$n" ] || { echo "Error: No such network: $n" >&2; exit 1; }; cat "$FAKE/net/$n"; exit 0 ;;
"network rm")
  n=$3; [ -f "$FAKE/net/$n" ] || { echo "Error: No such network: $n" >&2; exit 1; }
  c=$(cat "$FAKE/inuse/$n" 2>/dev/null || echo 0)
  if [ "$c" -gt 0 ]; then echo $((c-1)) > "$FAKE/inuse/$n"; echo "Error response from daemon: error while removing network: configuration network \\"$n\\" is in use" >&2; exit 1; fi
  rm "$FAKE/net/$n"; echo "$n"; exit 0 ;;
"network create")
  shift 2; co=0; sw=0; owner=; ident=; from=
  while [ $# -gt 1 ]; do
    case "$1" in
    --config-only) co=1 ;;
    --scope) sw=1; shift ;;
    --config-from) from=$2; shift ;;
    --label) case "$2" in com.pulumi-macvlan.owner=*) owner=\${2#*=} ;; com.pulumi-macvlan.identity=*) ident=\${2#*=} ;; esac; shift ;;
    --subnet|--gateway|--ip-range|--aux-address|-o|--driver) shift ;;
    esac
    shift
  done
  n=$1
  [ -f "$FAKE/net/$n" ] && { echo "Error response from daemon: network with name $n already exists" >&2; exit 1; }
  if [ $co = 1 ]; then echo "$n|local|true|$owner|$ident" > "$FAKE/net/$n"; else echo "$n|swarm|macvlan|$from" > "$FAKE/net/$n"; fi
  echo "id-$n"; exit 0 ;;
esac
echo "fake docker: unexpected: $*" >&2; exit 3
`;
        beforeEach(() => {
            dir = mkdtempSync(path.join(tmpdir(), "mvl-swarm-run-"));
            mkdirSync(path.join(dir, "bin"));
            mkdirSync(path.join(dir, "net"));
            mkdirSync(path.join(dir, "inuse"));
            writeFileSync(path.join(dir, "bin", "docker"), FAKE_DOCKER);
            chmodSync(path.join(dir, "bin", "docker"), 0o755);
            writeFileSync(path.join(dir, "swarm"), "active true\n");
        });
        afterEach(() => rmSync(dir, { recursive: true, force: true }));

        const run = (stdin: string, cmd: string) => {
            const r = spawnSync("/bin/sh", ["-c", cmd], { input: stdin, encoding: "utf8", env: { PATH: `${dir}/bin:/usr/bin:/bin`, FAKE: dir } });
            return { code: r.status, out: r.stdout, err: r.stderr };
        };
        const net = (n: string) => (existsSync(path.join(dir, "net", n)) ? readFileSync(path.join(dir, "net", n), "utf8").trim() : undefined);
        const creates = () => readFileSync(path.join(dir, "log"), "utf8").split("\n").filter((l) => l.startsWith("network create")).length;

        it("create is an ensure: created once, then found as wanted; delete removes it, then finds it gone", () => {
            const r = renderConfigOnlyNetwork(CONFIG);
            const a = run(r.stdin, r.create);
            assert.equal(a.code, 0, a.err);
            assert.match(a.out, /network pub_net-config created \(id-pub_net-config\)/);
            assert.equal(net("pub_net-config"), `pub_net-config|local|true|proj/dev/node1|${configOnlyIdentity(CONFIG)}`);
            const b = run(r.stdin, r.create);
            assert.equal(b.code, 0, b.err);
            assert.match(b.out, /is already there as wanted/);
            assert.equal(creates(), 1, "the second create created nothing");
            assert.equal(run(r.stdin, r.delete).code, 0);
            assert.equal(net("pub_net-config"), undefined);
            const again = run(r.stdin, r.delete);
            assert.equal(again.code, 0, again.err);
            assert.match(again.out, /is already gone/);
        });

        it("refuses a network of the same name that is not its own, changing nothing; its delete leaves it", () => {
            writeFileSync(path.join(dir, "net", "pub_net-config"), "pub_net-config|local|false|<no value>|<no value>\n");
            const r = renderConfigOnlyNetwork(CONFIG);
            const a = run(r.stdin, r.create);
            assert.equal(a.code, 1);
            assert.match(a.err, /error: a network named pub_net-config already exists on this host and is not this one .*nothing was changed/);
            const d = run(r.stdin, r.delete);
            assert.equal(d.code, 0, d.err);
            assert.match(d.out, /is not the one this created .*left as it is/);
            assert.equal(net("pub_net-config"), "pub_net-config|local|false|<no value>|<no value>");
        });

        it("replaces its own earlier network with other values (a create whose result was lost)", () => {
            const old = renderConfigOnlyNetwork({ ...CONFIG, pools: [{ subnet: "198.51.100.0/24", gateway: "198.51.100.1", ipRange: "198.51.100.144/28" }] });
            assert.equal(run(old.stdin, old.create).code, 0);
            const r = renderConfigOnlyNetwork(CONFIG);
            const a = run(r.stdin, r.create);
            assert.equal(a.code, 0, a.err);
            assert.match(a.out, /of an earlier create with other values .*removing it first/);
            assert.equal(net("pub_net-config"), `pub_net-config|local|true|proj/dev/node1|${configOnlyIdentity(CONFIG)}`);
        });

        it("a config-only delete waits while the engine still holds it, then fails naming the swarm network after PM_WAIT", () => {
            const r = renderConfigOnlyNetwork(CONFIG);
            assert.equal(run(r.stdin, r.create).code, 0);
            writeFileSync(path.join(dir, "inuse", "pub_net-config"), "2\n");
            const d = run(r.stdin, r.delete);
            assert.equal(d.code, 0, d.err);
            assert.match(d.out, /network pub_net-config removed/);
            assert.equal(run(r.stdin, r.create).code, 0);
            writeFileSync(path.join(dir, "inuse", "pub_net-config"), "1000\n");
            const short = r.stdin.replace("PM_WAIT='60'", "PM_WAIT='2'");
            const f = run(short, r.delete);
            assert.equal(f.code, 1);
            assert.match(f.err, /still in use after 2 s .*a swarm network made from it \(--config-from\) still exists; remove that first/);
            assert.ok(net("pub_net-config") !== undefined);
        });

        it("the swarm network needs a manager of an active swarm, and refuses a same-named network made otherwise", () => {
            const r = renderSwarmScopedNetwork(SWARM);
            writeFileSync(path.join(dir, "swarm"), "inactive false\n");
            const a = run(r.stdin, r.create);
            assert.equal(a.code, 1);
            assert.match(a.err, /not a manager of an active swarm \(swarm state: inactive false\).*docker swarm init or join first; nothing was changed/);
            writeFileSync(path.join(dir, "swarm"), "active true\n");
            const b = run(r.stdin, r.create);
            assert.equal(b.code, 0, b.err);
            assert.equal(net("pub_net"), "pub_net|swarm|macvlan|pub_net-config");
            assert.match(run(r.stdin, r.create).out, /already there as wanted/);
            assert.equal(run(r.stdin, r.delete).code, 0);
            writeFileSync(path.join(dir, "net", "pub_net"), "pub_net|swarm|overlay|\n");
            const c = run(r.stdin, r.create);
            assert.equal(c.code, 1);
            assert.match(c.err, /already exists on this host and is not this one/);
        });
    });

    describe("plan and components under mocks", () => {
        const hosts = [
            { name: "node1", parent: "eth0", ipRange: "198.51.100.128/28" },
            { name: "node2", parent: "eth0", ipRange: "198.51.100.144/28" },
        ];
        const ipam = [{ subnet: "198.51.100.0/24", gateway: "198.51.100.1", ipRange: "198.51.100.128/26" }];

        it("plans a config-only command per host with its slice, and the swarm command on the first host", () => {
            const { problems, plan } = planSwarmNetwork("lan", { networkName: "lan", mode: "bridge", ipam, hosts }, "proj", "dev");
            assert.deepEqual(problems, []);
            assert.ok(plan !== undefined);
            assert.equal(plan.manager, "node1");
            assert.deepEqual(plan.configOnly.map((c) => [c.name, c.host, c.triggers]), [
                ["lan-node1-config", "node1", ["config-only parent=eth0 mode=bridge pool=subnet=198.51.100.0/24,gateway=198.51.100.1,range=198.51.100.128/28"]],
                ["lan-node2-config", "node2", ["config-only parent=eth0 mode=bridge pool=subnet=198.51.100.0/24,gateway=198.51.100.1,range=198.51.100.144/28"]],
            ]);
            assert.equal(plan.swarm.name, "lan-swarm");
            assert.deepEqual(plan.swarm.triggers.slice(0, 2), ["swarm macvlan config-from=lan-config", "manager=node1"]);
            const bad = planSwarmNetwork("lan", { networkName: "lan", mode: "passthru" as "bridge", ipam, hosts, manager: "node9" }, "proj", "dev");
            assert.deepEqual(bad.problems, [
                'MacvlanSwarmNetwork lan: mode "passthru" is not one of bridge, vepa, private (passthru hands the parent to one container)',
                "MacvlanSwarmNetwork lan: manager node9 is not one of its hosts (node1, node2)",
            ]);
        });

        it("MacvlanSwarmNetwork registers the commands under itself, the swarm one after every config-only one, each replaced delete-first", async () => {
            reset();
            await runUnderMocks(() => {
                const connection = (host: string) => ({ host, user: "root", hostKey: ED25519, privateKey: "k" });
                return new MacvlanSwarmNetwork("lan", { ipam, hosts: hosts.map((h) => ({ ...h, connection: connection(h.name) })), manager: "node2" });
            });
            assert.deepEqual(summary(recorded), [
                "command:remote:Command lan-node1-config parent=lan",
                "command:remote:Command lan-node2-config parent=lan",
                "command:remote:Command lan-swarm parent=lan",
                "macvlan:index:MacvlanSwarmNetwork lan",
            ]);
            const sw = byName(recorded, "lan-swarm");
            assert.deepEqual(dependencyNames(recorded, sw).sort(), ["lan-node1-config", "lan-node2-config"]);
            // Its triggers take the config-only commands' ids: a replaced one replaces it too, deleted first.
            const urns = ["lan-node1-config", "lan-node2-config"].map((n) => byName(recorded, n).urn).sort();
            assert.deepEqual([...(sw.propertyDependencies["triggers"] ?? [])].sort(), urns);
            assert.equal((unwrapSecrets(sw.inputs["connection"]) as { host: string }).host, "node2");
            for (const n of ["lan-node1-config", "lan-node2-config", "lan-swarm"]) {
                const c = byName(recorded, n);
                assert.equal(c.deleteBeforeReplace, true, n);
                assert.equal(c.inputs["create"], "/bin/sh -s create");
                assert.equal(c.inputs["delete"], "/bin/sh -s delete");
            }
            assert.equal((unwrapSecrets(byName(recorded, "lan-node2-config").inputs["connection"]) as { host: string }).host, "node2");
        });

        it("buildStack registers a MacvlanSwarmNetwork for a swarm network, after each host, and no docker.Network", async () => {
            reset();
            const model = parseStackConfig(cfg([node1(), node2()], [pubNet({ swarm: true, ...SLICED })]));
            await runUnderMocks(() => buildStack(model, { privateKey: "k" }).outputs);
            const names = summary(recorded);
            assert.ok(names.includes("macvlan:index:MacvlanSwarmNetwork pub_net"), names.join("\n"));
            assert.ok(!names.some((n) => n.startsWith("docker:index/network:Network")), names.join("\n"));
            // dependsOn the MacvlanHost component: the engine gets its children.
            assert.deepEqual(dependencyNames(recorded, byName(recorded, "pub_net-node2-config")), ["node2-docker", "node2-ipforward", "node2-preflight", "node2-promisc"]);
            assert.match(String(byName(recorded, "pub_net-node2-config").inputs["stdin"]), /'--ip-range' '198\.51\.100\.208\/28'/);
        });
    });
});
