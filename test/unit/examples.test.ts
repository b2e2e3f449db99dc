/**
 * The TypeScript examples (examples/fleet-ts, examples/outputs-ts) as a consumer has them: each
 * copied beside the package `npm run build` makes, `pulumi-macvlan` linked in its node_modules as
 * `npm install` links `file:../..` (test/support/builtPackage.ts). Each is type-checked (strict, its
 * own tsconfig) and linted (the project's rules) against the built package's typings, then run under
 * the mocks: the resources it registers (types, names, parents, providers, key inputs) and its
 * stack outputs.
 */
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
// The mocks first (importing them sets them), then the code under test.
import { recorded, reset, setStackOutputs } from "../support/mocks";
import * as pulumi from "@pulumi/pulumi";
import { runProgram, runUnderMocks, setConfig } from "../support/program";
import { builtPackage, exampleConsumer, lint, loadExample, typeCheck } from "../support/builtPackage";
import { byName, dependencyNames, isSecretValue, summary, unwrapSecrets } from "../support/records";
import { fakeHostKey, TEST_PRIVATE_KEY } from "../support/keys";
import { stackConfig, withKey } from "../support/stacks";

const REPO = path.resolve(__dirname, "../..");
const EXAMPLES = ["fleet-ts", "outputs-ts"] as const;

describe("the TypeScript examples, against the built package", function () {
    this.timeout(240_000);
    const dirs: Record<string, string> = {};

    before(() => {
        for (const x of EXAMPLES) dirs[x] = exampleConsumer(x);
    });

    for (const x of EXAMPLES) {
        it(`${x} depends on pulumi-macvlan by name (file:../..) and imports it by name only, never a path into the source`, () => {
            const pkg = JSON.parse(readFileSync(path.join(REPO, "examples", x, "package.json"), "utf8")) as { dependencies: Record<string, string> };
            assert.equal(pkg.dependencies["pulumi-macvlan"], "file:../..");
            assert.ok(pkg.dependencies["@pulumi/pulumi"] !== undefined, "@pulumi/pulumi is a dependency");
            const source = readFileSync(path.join(REPO, "examples", x, "index.ts"), "utf8");
            const imports = [...source.matchAll(/^import\s[^;]*?from\s+"([^"]+)";/gm)].map((m) => m[1]);
            assert.deepEqual(imports, ["@pulumi/pulumi", "pulumi-macvlan"]);
            const yaml = readFileSync(path.join(REPO, "examples", x, "Pulumi.yaml"), "utf8");
            assert.match(yaml, /^runtime:\n {2}name: nodejs\n/m);
        });

        it(`${x} type-checks (tsc --noEmit -p, strict) with pulumi-macvlan resolved to the built package's typings`, () => {
            const r = typeCheck(dirs[x]);
            assert.equal(r.status, 0, `tsc failed:\n${r.output}`);
            const typings = path.join(builtPackage(), "bin/components/index.d.ts");
            assert.ok(r.files.includes(typings), `tsc read ${typings}; it read:\n${r.files.filter((f) => !f.includes("node_modules")).join("\n")}`);
            assert.ok(!r.files.some((f) => f.startsWith(path.join(REPO, "components") + path.sep)), "tsc read no file of the checkout's components/ (only the build)");
        });

        it(`${x} passes the project's eslint rules (type-aware, @pulumi/eslint-plugin) against the built package`, () => {
            const r = lint(dirs[x]);
            assert.equal(r.status, 0, `eslint:\n${r.output}`);
        });
    }

    it("from an example's folder, pulumi-macvlan is the build, and the build's @pulumi/pulumi is the one the mocks set (one instance)", () => {
        for (const x of EXAMPLES) {
            // As the example's index.ts resolves (its own package.json scope, not the checkout's self-reference).
            const fromExample = createRequire(path.join(dirs[x], "index.ts"));
            const pkg = fromExample.resolve("pulumi-macvlan");
            assert.equal(pkg, path.join(builtPackage(), "bin/components/index.js"));
            assert.equal(createRequire(pkg).resolve("@pulumi/pulumi"), require.resolve("@pulumi/pulumi"));
            assert.equal(fromExample.resolve("@pulumi/pulumi"), require.resolve("@pulumi/pulumi"));
        }
    });

    describe("fleet-ts under the mocks", () => {
        let outputs: Record<string, unknown>;

        before(async () => {
            reset();
            // Under the mocks the project is `macvlan`, so `new pulumi.Config()` reads `macvlan:*`.
            setConfig({ "macvlan:sshPrivateKey": TEST_PRIVATE_KEY }, ["macvlan:sshPrivateKey"]);
            outputs = (await runUnderMocks(() => loadExample(dirs["fleet-ts"]))) as Record<string, unknown>;
        });

        it("registers three hosts (VLANs 50 and 60 where asked, node1's shim and its route) and three networks with their images and pinned containers, each on its host's provider", () => {
            const host = (n: string, ...features: string[]) => [
                ...[...features, "ipforward", "preflight", "promisc"].map((f) => `command:remote:Command ${n}-${f} parent=${n}`),
                `macvlan:index:MacvlanHost ${n}`,
                `pulumi:providers:docker ${n}-docker parent=${n}`,
            ];
            const net = (n: string, on: Array<[string, string, string]>) => [
                ...on.map(([h, c]) => `docker:index/container:Container ${n}-${h}-${c} parent=${n} provider=${h}-docker`),
                ...on.map(([h]) => `docker:index/network:Network ${n}-${h} parent=${n} provider=${h}-docker`),
                ...on.map(([h, , image]) => `docker:index/remoteImage:RemoteImage ${n}-${h}-images/${image} parent=${n} provider=${h}-docker`),
                `macvlan:index:MacvlanNetwork ${n}`,
            ];
            const expected = [
                ...host("node1", "shim", "shim-route-198-51-100-10-32"),
                ...host("node2", "vlan50"),
                ...host("node3", "vlan50", "vlan60"),
                ...net("lan", [["node1", "web", "nginx:1.27"], ["node2", "db", "postgres:17"], ["node3", "cache", "redis:7"]]),
                ...net("apps", [["node2", "api-a", "nginx:1.27"], ["node3", "api-b", "nginx:1.27"]]),
                ...net("lab", [["node3", "probe", "busybox:1.37"]]),
            ].sort();
            assert.deepEqual(summary(recorded), expected);
        });

        it("pins each host's commands and Docker engine to its address and (made-up, well-formed) host key, the connection a secret", () => {
            for (const [h, address] of [["node1", "192.0.2.11"], ["node2", "192.0.2.12"], ["node3", "192.0.2.13"]] as const) {
                const commands = recorded.filter((r) => r.type === "command:remote:Command" && r.name.startsWith(`${h}-`));
                assert.ok(commands.length >= 4, h);
                for (const r of commands) {
                    assert.ok(isSecretValue(r.inputs["connection"]), `${r.name}: the connection (it holds the key) is a secret`);
                    const conn = unwrapSecrets(r.inputs["connection"]) as Record<string, unknown>;
                    assert.deepEqual([conn["host"], conn["hostKey"], conn["privateKey"]], [address, fakeHostKey(`examples/fleet-ts ${h}`), TEST_PRIVATE_KEY], r.name);
                }
                assert.equal(byName(recorded, `${h}-docker`).inputs["host"], `ssh://root@${address}:22`);
            }
        });

        it("creates each network on the right link (ens18, ens18.50, ens18.60) with each host's slice, the shim's address reserved, after the host is prepared", () => {
            const network = (name: string) => byName(recorded, name).inputs as { name: string; options: Record<string, string>; ipamConfigs: Array<Record<string, unknown>> };
            const cases: Array<[string, string, string, Record<string, unknown>]> = [
                ["lan-node1", "lan", "ens18", { subnet: "198.51.100.0/24", gateway: "198.51.100.1", ipRange: "198.51.100.64/27", auxAddress: { "node1-shim": "198.51.100.250" } }],
                ["lan-node2", "lan", "ens18", { subnet: "198.51.100.0/24", gateway: "198.51.100.1", ipRange: "198.51.100.96/27", auxAddress: { "node1-shim": "198.51.100.250" } }],
                ["lan-node3", "lan", "ens18", { subnet: "198.51.100.0/24", gateway: "198.51.100.1", ipRange: "198.51.100.128/27", auxAddress: { "node1-shim": "198.51.100.250" } }],
                ["apps-node2", "apps", "ens18.50", { subnet: "203.0.113.0/24", gateway: "203.0.113.1", ipRange: "203.0.113.64/27" }],
                ["apps-node3", "apps", "ens18.50", { subnet: "203.0.113.0/24", gateway: "203.0.113.1", ipRange: "203.0.113.96/27" }],
                ["lab-node3", "lab", "ens18.60", { subnet: "198.18.0.0/24", gateway: "198.18.0.1", ipRange: "198.18.0.128/25" }],
            ];
            for (const [child, name, parent, pool] of cases) {
                const n = network(child);
                assert.equal(n.name, name, child);
                assert.deepEqual(n.options, { parent, macvlan_mode: "bridge" }, child);
                assert.deepEqual(n.ipamConfigs, [pool], child);
                const host = child.slice(child.indexOf("-") + 1);
                assert.ok(dependencyNames(recorded, byName(recorded, child)).includes(`${host}-preflight`), `${child} waits for ${host}'s preflight`);
            }
        });

        it("pins every container's address and MAC (02:42 + the IPv4 bytes) on its network", () => {
            const containers = recorded.filter((r) => r.type === "docker:index/container:Container");
            assert.deepEqual(
                containers.map((c) => [c.name, c.inputs["networksAdvanced"]]).sort(),
                [
                    ["apps-node2-api-a", [{ name: "apps", ipv4Address: "203.0.113.10", macAddress: "02:42:cb:00:71:0a" }]],
                    ["apps-node3-api-b", [{ name: "apps", ipv4Address: "203.0.113.11", macAddress: "02:42:cb:00:71:0b" }]],
                    ["lab-node3-probe", [{ name: "lab", ipv4Address: "198.18.0.10", macAddress: "02:42:c6:12:00:0a" }]],
                    ["lan-node1-web", [{ name: "lan", ipv4Address: "198.51.100.10", macAddress: "02:42:c6:33:64:0a" }]],
                    ["lan-node2-db", [{ name: "lan", ipv4Address: "198.51.100.11", macAddress: "02:42:c6:33:64:0b" }]],
                    ["lan-node3-cache", [{ name: "lan", ipv4Address: "198.51.100.12", macAddress: "02:42:c6:33:64:0c" }]],
                ],
            );
        });

        it("exports the hosts (node1's shim), each network per host with its containers, and the web server's URL", () => {
            assert.deepEqual(Object.keys(outputs).sort(), ["fleet", "networks", "webUrl"]);
            assert.deepEqual(outputs["fleet"], {
                node1: { address: "192.0.2.11", parent: "ens18", vlans: [], shim: { link: "macvlan-shim", lower: "ens18", address: "198.51.100.250/32", routes: ["198.51.100.10/32"] } },
                node2: { address: "192.0.2.12", parent: "ens18", vlans: [50] },
                node3: { address: "192.0.2.13", parent: "ens18", vlans: [50, 60] },
            });
            const networks = outputs["networks"] as Record<string, { mode: string; vlan: number | null; hosts: Record<string, { id: string; parent: string; containers: Record<string, unknown> }> }>;
            assert.deepEqual(
                Object.entries(networks).map(([n, v]) => [n, v.mode, v.vlan, Object.entries(v.hosts).map(([h, o]) => [h, o.id, o.parent, Object.keys(o.containers)])]),
                [
                    ["lan", "bridge", null, [["node1", "lan-node1-id", "ens18", ["web"]], ["node2", "lan-node2-id", "ens18", ["db"]], ["node3", "lan-node3-id", "ens18", ["cache"]]]],
                    ["apps", "bridge", 50, [["node2", "apps-node2-id", "ens18.50", ["api-a"]], ["node3", "apps-node3-id", "ens18.50", ["api-b"]]]],
                    ["lab", "bridge", 60, [["node3", "lab-node3-id", "ens18.60", ["probe"]]]],
                ],
            );
            assert.deepEqual(networks["lan"]?.hosts["node1"]?.containers["web"], { host: "node1", ip: "198.51.100.10", mac: "02:42:c6:33:64:0a", id: "lan-node1-web-id" });
            assert.equal(outputs["webUrl"], "http://198.51.100.10/");
        });
    });

    describe("outputs-ts under the mocks: reads this project's stack outputs through a StackReference", () => {
        const STACK = "organization/macvlan/twohosts";
        /** What this project's program exports for stacks/Pulumi.twohosts.yaml (index.ts under the mocks). */
        let twohosts: Record<string, unknown>;

        before(async () => {
            twohosts = (await runProgram(withKey(stackConfig("twohosts")))).outputs as Record<string, unknown>;
        });

        /** Runs outputs-ts with `config` (its keys, without the project prefix) and the twohosts stack published; returns its exports, unresolved. */
        async function load(config: Record<string, string>): Promise<Record<string, pulumi.Output<unknown>>> {
            reset();
            setStackOutputs(STACK, twohosts);
            setConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [`macvlan:${k}`, v])));
            let exported: Record<string, pulumi.Output<unknown>> = {};
            await runUnderMocks(() => {
                exported = loadExample(dirs["outputs-ts"]) as Record<string, pulumi.Output<unknown>>;
            });
            return exported;
        }

        /** Its exports resolved. */
        async function run(config: Record<string, string>): Promise<Record<string, unknown>> {
            const exported = await load(config);
            return (await runUnderMocks(() => exported)) as Record<string, unknown>;
        }

        /** What an export resolves or rejects with (runUnderMocks rejects for a failed Output). */
        function outcome(o: pulumi.Output<unknown>): Promise<unknown> {
            return runUnderMocks(() => o);
        }

        it("registers the StackReference alone and exports a container, the hosts file and the addresses the LAN's DHCP must leave alone", async () => {
            const outputs = await run({ macvlanStack: STACK, network: "mynet", container: "test2" });
            assert.deepEqual(
                recorded.map((r) => [r.type, r.name, r.inputs["name"]]),
                [["pulumi:pulumi:StackReference", "macvlan", STACK]],
            );
            assert.deepEqual(outputs["container"], { network: "mynet", host: "centos2", ip: "198.51.100.11", mac: "02:42:c6:33:64:0b", id: "mynet-centos2-test2-id" });
            assert.equal(outputs["hostsFile"], "198.51.100.10 test1.mynet\n198.51.100.11 test2.mynet\n");
            assert.deepEqual(outputs["reserved"], {
                untagged: {
                    vlan: null,
                    subnets: ["198.51.100.0/24"],
                    enginePools: ["198.51.100.192/27", "198.51.100.224/27"],
                    fixed: ["198.51.100.1", "198.51.100.10", "198.51.100.11", "198.51.100.145", "198.51.100.146", "198.51.100.250", "198.51.100.251"],
                },
            });
        });

        it("refuses a container the network does not have, naming the ones it has", async () => {
            const exported = await load({ macvlanStack: STACK, network: "mynet", container: "web" });
            assert.equal(await outcome(exported["hostsFile"]), "198.51.100.10 test1.mynet\n198.51.100.11 test2.mynet\n");
            await assert.rejects(outcome(exported["container"]), {
                message: `network mynet of stack ${STACK} has no container web (it has: test1, test2)`,
            });
        });

        it("refuses a network the stack does not have, naming the ones it has", async () => {
            const exported = await load({ macvlanStack: STACK, network: "pub_net", container: "web" });
            await assert.rejects(outcome(exported["container"]), {
                message: `stack ${STACK} has no network pub_net (it has: mynet)`,
            });
        });
    });
});
