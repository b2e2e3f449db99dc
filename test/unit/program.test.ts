/**
 * The whole program (index.ts) under Pulumi mocks, with the example stacks of stacks/ and edits of
 * them: the exact resource graph, validation before registration, determinism and identity of
 * existing resources, drift tokens, and secrets.
 */
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
// The mocks first (importing them sets them), then the code under test.
import { recorded, reset } from "../support/mocks";
import { defaultSecretKeys, loadMain, memoryKnownHosts, runProgram, runUnderMocks, setConfig } from "../support/program";
import { fakeProber } from "../support/prober";
import { byName, dependencyNames, isSecretValue, nameByUrn, providerName, stringsIn, summary, unwrapSecrets, type RecordedResource } from "../support/records";
import { KEY_MARKER, TEST_PRIVATE_KEY, fakeHostKey } from "../support/keys";
import { STACKS, clone, declaresSecretEnv, secretEnvValue, stackConfig, threeHostsConfig, withKey, type StackName } from "../support/stacks";
import * as pulumi from "@pulumi/pulumi";
import { describeHostKey, type HostProber, type ProbeTarget } from "../../components/stack/probe";
import { renderFeature } from "../../components/host/scripts";
import { planHostFeatures } from "../../components/plan/host";
import { hostSpec } from "../../components/plan/stack";
import { renderTopology } from "../../components/plan/topology";
import { buildStack } from "../../components/stack/build";
import { parseStackConfig } from "../../components/config/parse";
import { MacvlanConfigError } from "../../components/net/problems";

const HOST = "macvlan:index:MacvlanHost";
const NETWORK = "macvlan:index:MacvlanNetwork";
const COMMAND = "command:remote:Command";
const PROVIDER = "pulumi:providers:docker";
const DOCKER_NETWORK = "docker:index/network:Network";
const IMAGE = "docker:index/remoteImage:RemoteImage";
const CONTAINER = "docker:index/container:Container";

/** The resources of one host component (parent = host), in summary form. */
function hostResources(host: string, features: readonly string[]): string[] {
    return [
        `${HOST} ${host}`,
        `${COMMAND} ${host}-preflight parent=${host}`,
        ...features.map((f) => `${COMMAND} ${host}-${f} parent=${host}`),
        `${PROVIDER} ${host}-docker parent=${host}`,
    ];
}

/** The resources of one network on one host with its containers and their images (one per distinct reference), in summary form. */
function networkOnHost(network: string, host: string, containers: readonly string[], images: readonly string[]): string[] {
    return [
        `${DOCKER_NETWORK} ${network}-${host} parent=${network} provider=${host}-docker`,
        ...images.map((i) => `${IMAGE} ${network}-${host}-images/${i} parent=${network} provider=${host}-docker`),
        ...containers.map((c) => `${CONTAINER} ${network}-${host}-${c} parent=${network} provider=${host}-docker`),
    ];
}

/** The complete expected graph of each example stack. */
const EXPECTED: Record<StackName, string[]> = {
    twohosts: [
        ...hostResources("centos1", ["promisc", "ipforward", "shim", "shim-route-198-51-100-10-32"]),
        ...hostResources("centos2", ["promisc", "ipforward", "shim", "shim-route-198-51-100-11-32"]),
        `${NETWORK} mynet`,
        ...networkOnHost("mynet", "centos1", ["test1"], ["centos:7"]),
        ...networkOnHost("mynet", "centos2", ["test2"], ["centos:7"]),
    ],
    compose: [
        ...hostResources("docker1", ["promisc", "ipforward", "vlan50", "vlan60"]),
        `${NETWORK} pub_net`,
        ...networkOnHost("pub_net", "docker1", ["nginx", "mysql"], ["nginx:latest", "mysql:5.7"]),
        `${NETWORK} pub_net_low`,
        ...networkOnHost("pub_net_low", "docker1", ["kodexplorer", "kodexplorer_bak"], ["registry.example.com:5000/hp_kodexplorer_a1223"]),
        `${NETWORK} pub_net_mid`,
        ...networkOnHost("pub_net_mid", "docker1", ["mongodb", "mongodb_bak"], ["mongo:latest"]),
    ],
    modes: [
        ...hostResources("node1", ["promisc", "ipforward", "vlan70"]),
        ...hostResources("node2", ["promisc", "ipforward"]),
        `${NETWORK} priv_net`,
        ...networkOnHost("priv_net", "node1", ["a1", "a2"], ["busybox:1.36"]),
        ...networkOnHost("priv_net", "node2", ["b1"], ["busybox:1.36"]),
        `${NETWORK} pass_net`,
        ...networkOnHost("pass_net", "node1", ["solo"], ["busybox:1.36"]),
    ],
};

/** Expected docker network inputs per `<network>-<host>`. */
const NETWORK_INPUTS: Record<StackName, Record<string, unknown>> = {
    twohosts: Object.fromEntries(
        // Each host's network hands out addresses from its own slice only.
        [
            ["centos1", "198.51.100.192/27"],
            ["centos2", "198.51.100.224/27"],
        ].map(([h, slice]) => [
            `mynet-${h}`,
            {
                name: "mynet",
                driver: "macvlan",
                options: { parent: "ens33", macvlan_mode: "bridge" },
                ipamConfigs: [
                    {
                        subnet: "198.51.100.0/24",
                        gateway: "198.51.100.1",
                        ipRange: slice,
                        auxAddress: { "centos1-shim": "198.51.100.250", "centos2-shim": "198.51.100.251" },
                    },
                ],
            },
        ]),
    ),
    compose: {
        "pub_net-docker1": {
            name: "pub_net",
            driver: "macvlan",
            options: { parent: "eth0", macvlan_mode: "bridge" },
            ipamConfigs: [{ subnet: "198.51.100.0/24", gateway: "198.51.100.1" }],
        },
        "pub_net_low-docker1": {
            name: "pub_net_low",
            driver: "macvlan",
            options: { parent: "eth0.50", macvlan_mode: "bridge" },
            ipamConfigs: [{ subnet: "192.0.2.0/24", gateway: "192.0.2.1" }],
        },
        "pub_net_mid-docker1": {
            name: "pub_net_mid",
            driver: "macvlan",
            options: { parent: "eth0.60", macvlan_mode: "bridge" },
            ipamConfigs: [{ subnet: "203.0.113.0/24", gateway: "203.0.113.1" }],
        },
    },
    modes: {
        ...Object.fromEntries(
            [
                ["node1", "198.51.100.192/27"],
                ["node2", "198.51.100.224/27"],
            ].map(([h, slice]) => [
                `priv_net-${h}`,
                {
                    name: "priv_net",
                    driver: "macvlan",
                    options: { parent: "eth0", macvlan_mode: "private" },
                    ipamConfigs: [{ subnet: "198.51.100.0/24", gateway: "198.51.100.1", ipRange: slice }],
                },
            ]),
        ),
        "pass_net-node1": {
            name: "pass_net",
            driver: "macvlan",
            options: { parent: "eth0.70", macvlan_mode: "passthru" },
            ipamConfigs: [{ subnet: "192.0.2.0/24", gateway: "192.0.2.1" }],
        },
    },
};

/**
 * Expected container facts per `<network>-<host>-<container>`: network, address, MAC (the default
 * derived from the address), extras; `envs` is the plaintext, secret where the stack's
 * macvlan:networks is a secret key (`declaresSecretEnv`).
 */
const CONTAINERS: Record<StackName, Record<string, { net: string; ip: string; mac: string; image: string; extra?: Record<string, unknown> }>> = {
    twohosts: {
        "mynet-centos1-test1": { net: "mynet", ip: "198.51.100.10", mac: "02:42:c6:33:64:0a", image: "centos:7", extra: { command: ["sleep", "infinity"] } },
        "mynet-centos2-test2": { net: "mynet", ip: "198.51.100.11", mac: "02:42:c6:33:64:0b", image: "centos:7", extra: { command: ["sleep", "infinity"] } },
    },
    compose: {
        "pub_net-docker1-nginx": { net: "pub_net", ip: "198.51.100.12", mac: "02:42:c6:33:64:0c", image: "nginx:latest" },
        "pub_net-docker1-mysql": {
            net: "pub_net",
            ip: "198.51.100.8",
            mac: "02:42:c6:33:64:08",
            image: "mysql:5.7",
            extra: {
                command: ["mysqld", "--character-set-server=utf8"],
                envs: [`MYSQL_ROOT_PASSWORD=${secretEnvValue("mysql", "MYSQL_ROOT_PASSWORD")}`, "TZ=Asia/Shanghai"],
                restart: "always",
            },
        },
        "pub_net_low-docker1-kodexplorer": { net: "pub_net_low", ip: "192.0.2.15", mac: "02:42:c0:00:02:0f", image: "registry.example.com:5000/hp_kodexplorer_a1223" },
        "pub_net_low-docker1-kodexplorer_bak": { net: "pub_net_low", ip: "192.0.2.16", mac: "02:42:c0:00:02:10", image: "registry.example.com:5000/hp_kodexplorer_a1223" },
        "pub_net_mid-docker1-mongodb": {
            net: "pub_net_mid",
            ip: "203.0.113.20",
            mac: "02:42:cb:00:71:14",
            image: "mongo:latest",
            extra: { envs: [`MONGO_INITDB_ROOT_PASSWORD=${secretEnvValue("mongodb", "MONGO_INITDB_ROOT_PASSWORD")}`, "MONGO_INITDB_ROOT_USERNAME=admin"] },
        },
        "pub_net_mid-docker1-mongodb_bak": {
            net: "pub_net_mid",
            ip: "203.0.113.21",
            mac: "02:42:cb:00:71:15",
            image: "mongo:latest",
            extra: { envs: [`MONGO_INITDB_ROOT_PASSWORD=${secretEnvValue("mongodb_bak", "MONGO_INITDB_ROOT_PASSWORD")}`, "MONGO_INITDB_ROOT_USERNAME=admin"] },
        },
    },
    modes: {
        "priv_net-node1-a1": { net: "priv_net", ip: "198.51.100.131", mac: "02:42:c6:33:64:83", image: "busybox:1.36", extra: { command: ["sleep", "infinity"] } },
        "priv_net-node1-a2": { net: "priv_net", ip: "198.51.100.132", mac: "02:42:c6:33:64:84", image: "busybox:1.36", extra: { command: ["sleep", "infinity"] } },
        "priv_net-node2-b1": { net: "priv_net", ip: "198.51.100.141", mac: "02:42:c6:33:64:8d", image: "busybox:1.36", extra: { command: ["sleep", "infinity"] } },
        "pass_net-node1-solo": { net: "pass_net", ip: "192.0.2.10", mac: "02:42:c0:00:02:0a", image: "busybox:1.36", extra: { command: ["sleep", "infinity"] } },
    },
};

/** Each host command's feature identity (the first of its triggers), per stack: what it sets on which link. */
const FEATURES: Record<StackName, Record<string, string>> = {
    twohosts: {
        "centos1-promisc": "promisc parent=ens33",
        "centos1-ipforward": "ipforward",
        "centos1-shim": "shim lower=ens33 link=macvlan-shim address=198.51.100.250/32",
        "centos1-shim-route-198-51-100-10-32": "route link=macvlan-shim cidr=198.51.100.10/32",
        "centos2-promisc": "promisc parent=ens33",
        "centos2-ipforward": "ipforward",
        "centos2-shim": "shim lower=ens33 link=macvlan-shim address=198.51.100.251/32",
        "centos2-shim-route-198-51-100-11-32": "route link=macvlan-shim cidr=198.51.100.11/32",
    },
    compose: {
        "docker1-promisc": "promisc parent=eth0",
        "docker1-ipforward": "ipforward",
        "docker1-vlan50": "vlan parent=eth0 id=50",
        "docker1-vlan60": "vlan parent=eth0 id=60",
    },
    modes: {
        "node1-promisc": "promisc parent=eth0",
        "node1-ipforward": "ipforward",
        "node1-vlan70": "vlan parent=eth0 id=70",
        "node2-promisc": "promisc parent=eth0",
        "node2-ipforward": "ipforward",
    },
};

/** The Docker provider's ssh options for a host pinned to `key` on port 22 (then `extra`). */
function pinnedOpts(address: string, key: string, extra: readonly string[] = []): string[] {
    return [
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        `KnownHostsCommand=/bin/echo ${address} ${key}`,
        ...extra,
    ];
}

/** Children of a component, by name. */
function childrenOf(resources: readonly RecordedResource[], parent: string): string[] {
    const urn = byName(resources, parent).urn;
    return resources.filter((r) => r.parent === urn).map((r) => r.name).sort();
}

/** Each resource as `name -> JSON of its inputs with secrets unwrapped`. */
function inputsByName(resources: readonly RecordedResource[]): Map<string, string> {
    return new Map(resources.map((r) => [`${r.type}::${r.name}`, JSON.stringify(unwrapSecrets(r.inputs))]));
}

/** Names whose inputs differ between two runs (resources only in `a` or only in `b` included). */
function changed(a: readonly RecordedResource[], b: readonly RecordedResource[]): string[] {
    const ia = inputsByName(a);
    const ib = inputsByName(b);
    const names = new Set([...ia.keys(), ...ib.keys()]);
    return [...names].filter((n) => ia.get(n) !== ib.get(n)).sort();
}

/**
 * The problems a failed program run reports: the program's edge throws a `pulumi.RunError` (printed
 * without a stack trace) whose message is a header line, then one indented problem per line.
 */
function programProblems(e: unknown): string[] {
    assert.ok(pulumi.RunError.isInstance(e), `a RunError, not ${String(e)}`);
    const [header, ...lines] = (e).message.split("\n");
    assert.match(header ?? "", /^macvlan stack config has [0-9]+ problems?:$/);
    return lines.map((l) => l.replace(/^ {2}/, ""));
}

describe("program (index.ts) under mocks", () => {
    for (const stack of STACKS) {
        describe(`stacks/Pulumi.${stack}.yaml`, () => {
            let resources: RecordedResource[];
            let outputs: unknown;
            before(async () => {
                ({ resources, outputs } = await runProgram(withKey(stackConfig(stack))));
            });

            it("registers exactly the expected resources, parents and providers", () => {
                assert.deepEqual(summary(resources), [...EXPECTED[stack]].sort());
            });

            it("runs every host command after the preflight; shim routes after the shim", () => {
                for (const r of resources.filter((x) => x.type === COMMAND && !x.name.endsWith("-preflight"))) {
                    const host = nameByUrn(resources)(r.parent);
                    const deps = dependencyNames(resources, r);
                    assert.ok(deps.includes(`${host}-preflight`), `${r.name} depends on ${deps.join(", ")}`);
                    if (r.name.includes("-shim-route-")) assert.ok(deps.includes(`${host}-shim`), `${r.name} after the shim`);
                }
                for (const r of resources.filter((x) => x.name.endsWith("-preflight"))) {
                    assert.deepEqual(r.dependencies, [], `${r.name} depends on nothing`);
                }
            });

            it("gives each host command its feature's rendered scripts, its triggers, and delete-before-replace", () => {
                const commands = resources.filter((r) => r.type === COMMAND && !r.name.endsWith("-preflight"));
                assert.deepEqual(commands.map((r) => r.name).sort(), Object.keys(FEATURES[stack]).sort());
                const cfg = withKey(stackConfig(stack));
                const model = parseStackConfig({ hosts: cfg["macvlan:hosts"], networks: cfg["macvlan:networks"], networksSecret: declaresSecretEnv(cfg) });
                for (const h of model.hosts) {
                    for (const planned of planHostFeatures(h.name, hostSpec(model, h))) {
                        const r = byName(resources, planned.name);
                        // Its own identity, then what it builds on: a route its host's shim (no shim here rides a VLAN).
                        const builtOn = planned.name.includes("-shim-route-") ? [FEATURES[stack][`${h.name}-shim`]] : [];
                        assert.deepEqual(r.inputs["triggers"], [FEATURES[stack][planned.name], ...builtOn], planned.name);
                        // runProgram's fake prober answers every key with the token `ok` (test/support/prober.ts).
                        const rendered = renderFeature({ host: h.name, owner: `macvlan/test/${h.name}` }, planned.feature, "ok");
                        assert.deepEqual(
                            [r.inputs["stdin"], r.inputs["create"], r.inputs["update"], r.inputs["delete"]],
                            [rendered.stdin, rendered.create, rendered.update, rendered.delete],
                            planned.name,
                        );
                        assert.equal(r.deleteBeforeReplace, true, planned.name);
                    }
                }
            });

            it("creates each docker network after every command of its host (the host component)", () => {
                for (const r of resources.filter((x) => x.type === DOCKER_NETWORK)) {
                    const host = providerName(resources, r.provider)!.replace(/-docker$/, "");
                    assert.deepEqual(dependencyNames(resources, r), childrenOf(resources, host), r.name);
                }
            });

            it("gives docker networks exactly the driver, options and IPAM of the config", () => {
                const got = Object.fromEntries(resources.filter((r) => r.type === DOCKER_NETWORK).map((r) => [r.name, r.inputs]));
                assert.deepEqual(got, NETWORK_INPUTS[stack]);
            });

            it("pins each container on its network by address and MAC, from its image; env secret only where macvlan:networks is", () => {
                const containers = resources.filter((r) => r.type === CONTAINER);
                assert.deepEqual(containers.map((c) => c.name).sort(), Object.keys(CONTAINERS[stack]).sort());
                const secretEnv = declaresSecretEnv(withKey(stackConfig(stack)));
                for (const c of containers) {
                    const want = CONTAINERS[stack][c.name];
                    // One image per host and reference, shared by the network's containers there.
                    const image = byName(resources, `${c.name.split("-").slice(0, 2).join("-")}-images/${want.image}`);
                    assert.deepEqual(image.inputs, { name: want.image, keepLocally: true });
                    const { envs, ...rest } = c.inputs;
                    if (envs !== undefined) assert.equal(isSecretValue(envs), secretEnv, `${c.name}.envs is ${secretEnv ? "" : "not "}secret`);
                    // Plain everywhere else: no secret wrapper in any other input.
                    assert.deepEqual({ ...rest, ...(envs === undefined ? {} : { envs: unwrapSecrets(envs) }) }, {
                        name: c.name.split("-").slice(2).join("-"),
                        image: `sha256:${createHash("sha256").update(want.image).digest("hex")}`,
                        networkMode: "bridge",
                        networksAdvanced: [{ name: want.net, ipv4Address: want.ip, macAddress: want.mac }],
                        restart: "unless-stopped",
                        ...want.extra,
                    });
                    const net = byName(resources, c.name.split("-").slice(0, 2).join("-"));
                    assert.deepEqual(c.propertyDependencies["networksAdvanced"], [net.urn], `${c.name} follows its network`);
                    assert.deepEqual(c.propertyDependencies["image"], [image.urn], `${c.name} follows its image`);
                }
            });

            it("points each host's Docker provider at ssh://root@address:22 in batch mode, pinned to the host's key", () => {
                const hosts = (stackConfig(stack)["macvlan:hosts"] as Array<{ name: string; address: string; hostKey: string }>);
                for (const h of hosts) {
                    const p = byName(resources, `${h.name}-docker`);
                    assert.equal(p.inputs["host"], `ssh://root@${h.address}:22`);
                    assert.deepEqual(JSON.parse(String(p.inputs["sshOpts"])), pinnedOpts(h.address, h.hostKey));
                }
            });

            it("pins every remote command to the host's key (the key the probe checked)", () => {
                const hosts = (stackConfig(stack)["macvlan:hosts"] as Array<{ name: string; hostKey: string }>);
                for (const r of resources.filter((x) => x.type === COMMAND)) {
                    const host = hosts.find((h) => r.name.startsWith(`${h.name}-`));
                    assert.equal((unwrapSecrets(r.inputs["connection"]) as Record<string, unknown>)["hostKey"], host?.hostKey, r.name);
                }
            });

            it("exports plain outputs per host, network and container", () => {
                const o = outputs as {
                    hosts: Record<string, { address: string; parent: string; vlans: number[] }>;
                    networks: Record<string, { hosts: Record<string, { id: string; parent: string; containers: Record<string, { host: string; ip: string; mac: string; id: string }> }> }>;
                };
                const hosts = stackConfig(stack)["macvlan:hosts"] as Array<{ name: string; address: string; parent: string }>;
                assert.deepEqual(Object.keys(o.hosts).sort(), hosts.map((h) => h.name).sort());
                for (const h of hosts) {
                    assert.equal(o.hosts[h.name].address, h.address);
                    assert.equal(o.hosts[h.name].parent, h.parent);
                }
                for (const [name, want] of Object.entries(CONTAINERS[stack])) {
                    const [net, host, ...rest] = name.split("-");
                    const c = o.networks[want.net].hosts[host].containers[rest.join("-")];
                    assert.deepEqual(c, { host, ip: want.ip, mac: want.mac, id: `${name}-id` });
                    assert.equal(o.networks[net].hosts[host].id, `${net}-${host}-id`);
                }
                assert.equal(stringsIn(o, { intoSecrets: true }).some(([, s]) => s.includes(KEY_MARKER)), false);
            });

            it("exports the topology diagram: a plain string, the renderer's text for the stack's model (what npm run topology prints)", () => {
                const c = withKey(stackConfig(stack));
                const model = parseStackConfig({ hosts: c["macvlan:hosts"], networks: c["macvlan:networks"], networksSecret: declaresSecretEnv(c) }, {}, { deferred: true });
                const topology = (outputs as { topology: unknown }).topology;
                assert.equal(typeof topology, "string");
                assert.equal(topology, renderTopology(model));
                for (const h of model.hosts) assert.ok(topology.includes(`"host ${h.name}<br/>`), h.name);
            });
        });
    }

    it("twohosts: routes each host's own container through its /32 shim", () => {
        return runProgram(withKey(stackConfig("twohosts"))).then(({ outputs }) => {
            const o = outputs as { hosts: Record<string, { shim: unknown }> };
            assert.deepEqual(o.hosts["centos1"].shim, {
                link: "macvlan-shim",
                lower: "ens33",
                address: "198.51.100.250/32",
                routes: ["198.51.100.10/32"],
            });
        });
    });

    describe("bad config", () => {
        it("registers nothing and lists every problem, the missing key included", async () => {
            const config = clone(stackConfig("compose"));
            const hosts = config["macvlan:hosts"] as Array<Record<string, unknown>>;
            const networks = config["macvlan:networks"] as Array<Record<string, unknown>>;
            hosts[0]["parent"] = "eth0; reboot";
            networks[0]["vlan"] = 5000;
            ((networks[1]["containers"] as Array<Record<string, unknown>>)[1])["ip"] = "10.9.9.9";
            await assert.rejects(runProgram(config), (e: unknown) => {
                const problems = programProblems(e);
                for (const path of ["hosts[0].parent", "networks[0].vlan", "networks[1].containers[1].ip", "sshPrivateKey"]) {
                    assert.ok(problems.some((p) => p.startsWith(path)), `no problem for ${path} in:\n${problems.join("\n")}`);
                    assert.ok((e as Error).message.includes(path), `message names ${path}`);
                }
                return true;
            });
            assert.deepEqual(recorded, []);
        });

        it("registers nothing when the config is structurally wrong", async () => {
            await assert.rejects(runProgram(withKey({ "macvlan:hosts": "not a list", "macvlan:networks": [{}] })), /hosts/);
            assert.deepEqual(recorded, []);
        });

        it("refuses an sshIdentityFile that ssh would read as options or tokens, registering nothing", async () => {
            for (const bad of ["-oProxyCommand=sh", "~/.ssh/id %h", "key'file"]) {
                const config = { ...withKey(stackConfig("twohosts")), "macvlan:sshIdentityFile": bad };
                await assert.rejects(runProgram(config), (e: unknown) => {
                    assert.deepEqual(programProblems(e), [
                        `sshIdentityFile ${JSON.stringify(bad)} is not a usable key file path: characters of A-Z, a-z, 0-9, ., _, /, ~, + and -, not starting with -`,
                    ]);
                    return true;
                });
                assert.deepEqual(recorded, []);
            }
        });

        it("buildStack checks every host before it registers the first (a model that skipped validation)", async () => {
            const cfg = stackConfig("twohosts");
            const model = parseStackConfig({ hosts: cfg["macvlan:hosts"], networks: cfg["macvlan:networks"] });
            const bad = { ...model, hosts: model.hosts.map((h, i) => (i === 1 ? { ...h, parent: "all" } : h)) };
            reset();
            await assert.rejects(
                runUnderMocks(() => buildStack(bad, { privateKey: "k" })),
                (e: unknown) => {
                    assert.ok(e instanceof MacvlanConfigError, String(e));
                    assert.deepEqual(e.problems, ['hosts[1]: MacvlanHost centos2: parent "all" is reserved: all and default name the global entries of /proc/sys/net/ipv4/conf, not a link']);
                    return true;
                },
            );
            assert.deepEqual(recorded, [], "not even the first host was registered");
        });

        it("buildStack refuses a network on a host the stack does not have, before registering anything", async () => {
            const cfg = stackConfig("twohosts");
            const model = parseStackConfig({ hosts: cfg["macvlan:hosts"], networks: cfg["macvlan:networks"] });
            const bad = { ...model, hosts: model.hosts.slice(0, 1) };
            reset();
            await assert.rejects(
                runUnderMocks(() => buildStack(bad, { privateKey: "k" })),
                (e: unknown) => {
                    assert.ok(e instanceof MacvlanConfigError, String(e));
                    assert.deepEqual(e.problems, [`networks[0] (${model.networks[0]?.name}) spans host centos2, which is not in hosts`]);
                    return true;
                },
            );
            assert.deepEqual(recorded, [], "no host was registered either");
        });

        it("never calls the prober when the config is bad", async () => {
            const calls: Array<{ target: ProbeTarget; script: string }> = [];
            const config = clone(stackConfig("twohosts"));
            (config["macvlan:hosts"] as Array<Record<string, unknown>>)[0]["port"] = 0;
            await assert.rejects(runProgram(withKey(config), { prober: fakeProber(stackConfig("twohosts"), undefined, calls) }));
            assert.equal(calls.length, 0);
            assert.deepEqual(recorded, []);
        });
    });

    describe("identity", () => {
        for (const stack of STACKS) {
            it(`${stack}: two evaluations register byte-identical inputs, parents, providers and dependencies`, async () => {
                const snapshot = (rs: RecordedResource[]): string =>
                    JSON.stringify(rs.map((r) => [r.type, r.name, r.inputs, r.parent, providerName(rs, r.provider), dependencyNames(rs, r)]));
                const a = await runProgram(withKey(stackConfig(stack)));
                const b = await runProgram(withKey(stackConfig(stack)));
                assert.equal(snapshot(b.resources), snapshot(a.resources));
            });
        }

        it("adding a container adds its image, container and shim route and changes nothing else", async () => {
            const base = withKey(stackConfig("twohosts"));
            const edited = clone(base);
            const net = (edited["macvlan:networks"] as Array<{ containers: unknown[] }>)[0];
            net.containers.push({ name: "test3", host: "centos1", image: "busybox:1.36", ip: "198.51.100.12" });
            const a = await runProgram(base);
            const b = await runProgram(edited, { prober: fakeProber(edited) });
            assert.deepEqual(changed(a.resources, b.resources), [
                `${COMMAND}::centos1-shim-route-198-51-100-12-32`,
                `${CONTAINER}::mynet-centos1-test3`,
                `${IMAGE}::mynet-centos1-images/busybox:1.36`,
            ]);
            for (const r of a.resources) assert.ok(b.resources.some((x) => x.type === r.type && x.name === r.name && x.urn === r.urn), r.name);
        });

        it("adding a host adds its component and its docker network and changes nothing else", async () => {
            const base = withKey(stackConfig("twohosts"));
            const edited = clone(base);
            (edited["macvlan:hosts"] as unknown[]).push({ name: "centos3", address: "198.51.100.147", hostKey: fakeHostKey("centos3"), parent: "ens33" });
            // mynet spans every host: the new one gets its own slice, the others keep theirs.
            const mynet = (edited["macvlan:networks"] as { slices: Record<string, string> }[])[0];
            mynet.slices["centos3"] = "198.51.100.160/27";
            const a = await runProgram(base);
            const b = await runProgram(edited, { prober: fakeProber(edited) });
            assert.deepEqual(changed(a.resources, b.resources), [
                `${COMMAND}::centos3-ipforward`,
                `${COMMAND}::centos3-preflight`,
                `${COMMAND}::centos3-promisc`,
                `${DOCKER_NETWORK}::mynet-centos3`,
                `${HOST}::centos3`,
                `${PROVIDER}::centos3-docker`,
            ]);
        });
    });

    describe("drift probe", () => {
        it("probes each host once, as its configured user, with the key, before registering", async () => {
            const calls: Array<{ target: ProbeTarget; script: string }> = [];
            const config = withKey(stackConfig("modes"));
            await runProgram(config, { prober: fakeProber(config, undefined, calls) });
            assert.deepEqual(
                calls.map((c) => [c.target.host, c.target.address, c.target.port, c.target.user]).sort(),
                [
                    ["node1", "198.51.100.21", 22, "root"],
                    ["node2", "198.51.100.22", 22, "root"],
                ],
            );
            for (const c of calls) assert.equal(c.target.privateKey, TEST_PRIVATE_KEY);
        });

        it("a clean probe changes nothing; a drifted feature changes exactly that feature's command text", async () => {
            const config = withKey(stackConfig("compose"));
            const clean = await runProgram(config, { prober: fakeProber(config, () => "ok") });
            const again = await runProgram(config, { prober: fakeProber(config, () => "ok") });
            assert.deepEqual(changed(clean.resources, again.resources), []);

            const vlan50 = byName(clean.resources, "docker1-vlan50");
            const drifted = await runProgram(config, {
                prober: fakeProber(config, (_h, key) => (key.includes("50") && key.includes("vlan") ? "drift-1" : "ok")),
            });
            assert.deepEqual(changed(clean.resources, drifted.resources), [`${COMMAND}::docker1-vlan50`]);
            const after = byName(drifted.resources, "docker1-vlan50");
            assert.notEqual(after.inputs["stdin"], vlan50.inputs["stdin"], "the script carries the token");
            assert.equal(after.inputs["create"], vlan50.inputs["create"], "the command text stays /bin/sh -s create <key>");
            assert.deepEqual(after.inputs["connection"], vlan50.inputs["connection"], "only the script changes");
        });

        it("macvlan:probe false: no probe, every feature unprobed", async () => {
            const calls: Array<{ target: ProbeTarget; script: string }> = [];
            const config = { ...withKey(stackConfig("twohosts")), "macvlan:probe": "false" };
            const off = await runProgram(config, { prober: fakeProber(config, undefined, calls) });
            assert.equal(calls.length, 0);
            const unprobed = await runProgram(withKey(stackConfig("twohosts")), {
                prober: fakeProber(stackConfig("twohosts"), () => "unprobed"),
            });
            assert.deepEqual(changed(off.resources, unprobed.resources), []);
        });

        it("a failing probe stops the program before anything is registered, naming the host", async () => {
            const config = withKey(stackConfig("twohosts"));
            const prober = (t: { host: string }): Promise<never> => Promise.reject(new Error(`probe of host ${t.host} failed: connection refused`));
            await assert.rejects(runProgram(config, { prober }), /host centos1|host centos2/);
            assert.deepEqual(recorded, []);
        });
    });

    describe("probe: several failing hosts", () => {
        it("names every failing host in one error, a refused host key among them, with the advice for the unreachable one; nothing registers", async () => {
            const config = threeHostsConfig();
            const fake = fakeProber(config, undefined, [], { node1: fakeHostKey("impostor") });
            const prober: HostProber = (t, r) => (t.host === "node3" ? Promise.reject(new Error("probe of host node3 (root@node3.example.net:22) failed: getaddrinfo ENOTFOUND node3.example.net")) : fake(t, r));
            await assert.rejects(runProgram(config, { prober }), (e: unknown) => {
                assert.ok(pulumi.RunError.isInstance(e), String(e));
                const lines = e.message.split("\n");
                assert.equal(lines[0], "the drift probe failed on 2 of 3 hosts; nothing was registered:");
                assert.match(lines[1], /^ {2}probe of host node1 \(root@198\.51\.100\.21:22\) refused: the host key changed: /);
                assert.equal(lines[2], "  probe of host node3 (root@node3.example.net:22) failed: getaddrinfo ENOTFOUND node3.example.net");
                assert.equal(lines[3], "(the drift probe needs SSH to every host; `pulumi config set macvlan:probe false` skips it)");
                assert.equal(lines.length, 4);
                return true;
            });
            assert.deepEqual(recorded, []);
        });

        it("host keys refused on two hosts: one error naming both, without advice to turn the probe off", async () => {
            const config = threeHostsConfig();
            await assert.rejects(runProgram(config, { prober: fakeProber(config, undefined, [], { node1: fakeHostKey("i1"), node3: fakeHostKey("i3") }) }), (e: unknown) => {
                assert.ok(pulumi.RunError.isInstance(e), String(e));
                const lines = e.message.split("\n");
                assert.equal(lines.length, 3, e.message);
                assert.deepEqual(lines.map((l) => /^ {2}probe of host (node\d) .* refused: the host key changed: /.exec(l)?.[1]), [undefined, "node1", "node3"]);
                assert.ok(!e.message.includes("macvlan:probe false"));
                return true;
            });
            assert.deepEqual(recorded, []);
        });
    });

    describe("checks on what the probe found (macvlan:probe on)", () => {
        const ID_A = "0123456789abcdef0123456789abcdef";
        const ID_B = "fedcba9876543210fedcba9876543210";
        const ID_C = "00112233445566778899aabbccddeeff";
        const probed = (config: Record<string, unknown>, facts: Record<string, readonly string[]>) => runProgram(config, { prober: fakeProber(config, undefined, [], {}, facts) });

        it("refuses one machine listed twice (by IP and by DNS name): one problem naming both entries and the rule; nothing registers", async () => {
            await assert.rejects(probed(threeHostsConfig(), { node1: [`@machine-id=${ID_A}`], node2: [`@machine-id=${ID_B}`], node3: [`@machine-id=${ID_A}`] }), (e: unknown) => {
                assert.deepEqual(programProblems(e), [
                    `hosts[2].address node3.example.net (host node3) is the same machine as hosts[0].address 198.51.100.21 (host node1): each reports /etc/machine-id ${ID_A}; ` +
                        "list each machine once (a second entry would apply its settings to the same host twice, under two names). " +
                        "If they are different machines cloned from one image, give each its own machine id (`rm /etc/machine-id && systemd-machine-id-setup`)",
                ]);
                return true;
            });
            assert.deepEqual(recorded, []);
        });

        it("three entries of one machine: one problem naming all three", async () => {
            await assert.rejects(probed(threeHostsConfig(), { node1: [`@machine-id=${ID_A}`], node2: [`@machine-id=${ID_A}`], node3: [`@machine-id=${ID_A}`] }), (e: unknown) => {
                const problems = programProblems(e);
                assert.equal(problems.length, 1);
                assert.ok(
                    problems[0].startsWith("hosts[1].address 198.51.100.22 (host node2) and hosts[2].address node3.example.net (host node3) are the same machine as hosts[0].address 198.51.100.21 (host node1): "),
                    problems[0],
                );
                return true;
            });
        });

        it("no machine id (missing or unreadable on a host): no check; different ids: accepted", async () => {
            const { resources } = await probed(threeHostsConfig(), { node1: [`@machine-id=${ID_A}`], node3: [`@machine-id=${ID_C}`] });
            assert.ok(resources.length > 0);
            const again = await probed(threeHostsConfig(), { node1: [`@machine-id=${ID_A}`], node2: [`@machine-id=${ID_B}`], node3: [`@machine-id=${ID_C}`] });
            assert.ok(again.resources.length > 0);
        });

        it("refuses a container at an untagged address of a host given by DNS name (the probe found it on its parent), naming the path and the rule", async () => {
            // a1 (networks[0].containers[0], untagged priv_net on node1) is at 198.51.100.131.
            await assert.rejects(probed(threeHostsConfig(), { node3: ["@addr=eth0 198.51.100.131/24"] }), (e: unknown) => {
                assert.deepEqual(programProblems(e), [
                    "networks[0].containers[0].ip 198.51.100.131 is an address of host node3 (hosts[2]) itself: the probe found 198.51.100.131/24 on its eth0, on the untagged LAN segment; two holders of one address on one segment break both (choose another address)",
                ]);
                return true;
            });
            assert.deepEqual(recorded, []);
        });

        it("refuses a container at a host's address on a VLAN sub-interface, and not one on another segment (VLAN 70 vs the untagged parent)", async () => {
            // solo (networks[1].containers[0], pass_net on VLAN 70 of node1) is at 192.0.2.10.
            await assert.rejects(probed(threeHostsConfig(), { node3: ["@addr=eth0.70 192.0.2.10/24"] }), (e: unknown) => {
                assert.deepEqual(programProblems(e), [
                    "networks[1].containers[0].ip 192.0.2.10 is an address of host node3 (hosts[2]) itself: the probe found 192.0.2.10/24 on its eth0.70, on LAN segment vlan 70; two holders of one address on one segment break both (choose another address)",
                ]);
                return true;
            });
            // The same address on node3's untagged parent, and a1's address on a VLAN link: other segments.
            const { resources } = await probed(threeHostsConfig(), { node3: ["@addr=eth0 192.0.2.10/24", "@addr=eth0.70 198.51.100.131/24"] });
            assert.ok(resources.length > 0);
        });

        it("refuses a shim at another host's own address on its segment, naming hosts[i].shim.address; addresses of links not asked for are ignored", async () => {
            const config = withKey(stackConfig("twohosts"));
            await assert.rejects(probed(config, { centos2: ["@addr=ens33 198.51.100.250/24", "@addr=docker0 198.51.100.11/24"] }), (e: unknown) => {
                assert.deepEqual(programProblems(e), [
                    "hosts[0].shim.address 198.51.100.250 is an address of host centos2 (hosts[1]) itself: the probe found 198.51.100.250/24 on its ens33, on the untagged LAN segment; two holders of one address on one segment break both (choose another address)",
                ]);
                return true;
            });
            assert.deepEqual(recorded, []);
        });

        it("refuses a parent NIC that does not exist on its host, naming hosts[i].parent; an existing one (any state) passes, a down one with a warning; with the probe off it is not checked", async () => {
            const config = withKey(stackConfig("twohosts"));
            await assert.rejects(probed(config, { centos1: ["@parent=ens33 mtu=1500 state=UP"], centos2: ["@parent=ens33 absent"] }), (e: unknown) => {
                assert.deepEqual(programProblems(e), [
                    "hosts[1].parent ens33 does not exist on host centos2: the probe found no link ens33 there (`ip link show dev ens33`); name the host's LAN NIC (`ip -br link` lists them); nothing was changed on any host",
                ]);
                return true;
            });
            assert.deepEqual(recorded, []);
            const { resources, warnings } = await probed(config, { centos1: ["@parent=ens33 mtu=9000 state=DOWN"], centos2: ["@parent=ens33 mtu=1500 state=UNKNOWN"] });
            assert.ok(resources.length > 0);
            // A parent that is down is applied, with a warning; UNKNOWN (veth, tap, many virtual NICs) is not down.
            assert.deepEqual(warnings, [
                "hosts[0].parent ens33 is DOWN on host centos1 (the probe found state DOWN, MTU 9000): the macvlan networks and VLAN sub-interfaces on it carry nothing until it is up (`ip link set dev ens33 up`, and its cable or switch port)",
            ]);
            reset();
            const off = { ...config, "macvlan:probe": "false" };
            const again = await runProgram(off, { prober: fakeProber(off, undefined, [], {}, { centos2: ["@parent=ens33 absent"] }) });
            assert.ok(again.resources.length > 0);
        });

        describe("the Docker Engine version rules, on each host's effective engine (probed, else declared dockerVersion)", () => {
            /** twohosts plus a second untagged network on centos1 (so two networks share centos1's parent), centos1 entry extended by `centos1`. */
            const shared = (centos1: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Record<string, unknown> => {
                const config = withKey(clone(stackConfig("twohosts")));
                Object.assign((config["macvlan:hosts"] as Array<Record<string, unknown>>)[0], centos1);
                (config["macvlan:networks"] as unknown[]).push({
                    name: "mgmt",
                    subnet: "203.0.113.0/24",
                    gateway: "203.0.113.1",
                    hosts: ["centos1"],
                    containers: [{ name: "m1", host: "centos1", image: "centos:7", ip: "203.0.113.10" }],
                });
                return { ...config, ...extra };
            };
            const SHARED_OLD_DECLARED =
                'networks[1].name mgmt shares its parent with networks[0] (mynet) on host centos1 (parent ens33); Docker before 27 allows one macvlan network per parent: give one of them a vlan, or set hosts[0].dockerVersion ("27.0" or later) if that host runs Docker 27 or later';

            it("several networks on one parent: accepted when the probe finds 27+ on the host, though none is declared", async () => {
                const { resources } = await probed(shared(), { centos1: ["@docker=27.3.1 1.47"] });
                assert.ok(resources.length > 0);
            });

            it("several networks on one parent: refused when the probe finds an engine before 27, naming it", async () => {
                await assert.rejects(probed(shared(), { centos1: ["@docker=26.1.4 1.45"] }), (e: unknown) => {
                    assert.deepEqual(programProblems(e), [
                        "networks[1].name mgmt shares its parent with networks[0] (mynet) on host centos1 (parent ens33); Docker before 27 allows one macvlan network per parent, and host centos1 runs Docker 26.1.4 (API 1.45, found by the probe): give one of them a vlan, or upgrade that engine to Docker 27 or later",
                    ]);
                    return true;
                });
                assert.deepEqual(recorded, []);
            });

            it("the probe finds no engine (docker missing or silent): no version check against it, the declared version is used", async () => {
                const { resources } = await probed(shared({ dockerVersion: "27.0" }), {});
                assert.ok(resources.length > 0);
                reset();
                await assert.rejects(probed(shared(), {}), (e: unknown) => {
                    assert.deepEqual(programProblems(e), [SHARED_OLD_DECLARED]);
                    return true;
                });
            });

            it("with macvlan:probe false the declared dockerVersion decides, as before", async () => {
                const off = shared({ dockerVersion: "27.0" }, { "macvlan:probe": "false" });
                const { resources } = await runProgram(off, { prober: fakeProber(off, undefined, [], {}, { centos1: ["@docker=26.1.4 1.45"] }) });
                assert.ok(resources.length > 0, "the probe does not run, so its 26.1.4 is not seen");
                reset();
                const old = shared({}, { "macvlan:probe": "false" });
                await assert.rejects(runProgram(old, { prober: fakeProber(old) }), (e: unknown) => {
                    assert.deepEqual(programProblems(e), [SHARED_OLD_DECLARED]);
                    return true;
                });
            });

            it("a declared dockerVersion that the probed engine contradicts is a problem (path and both values), listed with the rule it then breaks", async () => {
                await assert.rejects(probed(shared({ dockerVersion: "27.0" }), { centos1: ["@docker=26.1.4 1.45"] }), (e: unknown) => {
                    assert.deepEqual(programProblems(e), [
                        'hosts[0].dockerVersion 27.0 disagrees with the Docker Engine the probe found on host centos1: 26.1.4 (API 1.45); set dockerVersion to "26.1" or remove it (with the probe on, the probed version is the one used)',
                        "networks[1].name mgmt shares its parent with networks[0] (mynet) on host centos1 (parent ens33); Docker before 27 allows one macvlan network per parent, and host centos1 runs Docker 26.1.4 (API 1.45, found by the probe): give one of them a vlan, or upgrade that engine to Docker 27 or later",
                    ]);
                    return true;
                });
                assert.deepEqual(recorded, []);
            });

            it("a declared dockerVersion that agrees (same major.minor, any patch or suffix) is accepted", async () => {
                const { resources } = await probed(shared({ dockerVersion: "27.3" }), { centos1: ["@docker=27.3.1+dfsg1 1.47"], centos2: ["@docker=20.10.24+dfsg1 1.41"] });
                assert.ok(resources.length > 0);
            });

            it("a container's own MAC needs API 1.44: refused on a probed 24.0 (API 1.43), accepted on 25.0 (API 1.44); its default MAC needs nothing", async () => {
                const config = withKey(clone(stackConfig("twohosts")));
                const nets = config["macvlan:networks"] as Array<{ containers: Array<Record<string, unknown>> }>;
                nets[0].containers[0].mac = "02:00:00:00:00:0a";
                await assert.rejects(probed(config, { centos1: ["@docker=24.0.7 1.43"] }), (e: unknown) => {
                    assert.deepEqual(programProblems(e), [
                        "networks[0].containers[0].mac 02:00:00:00:00:0a needs Docker Engine 25 or later (API 1.44) on host centos1, which runs Docker 24.0.7 (API 1.43, found by the probe): an older engine ignores a per-network MAC and gives the container 02:42:c6:33:64:0a; remove mac, or upgrade the engine",
                    ]);
                    return true;
                });
                assert.deepEqual(recorded, []);
                const { resources } = await probed(config, { centos1: ["@docker=25.0.0 1.44"] });
                assert.ok(resources.length > 0);
                reset();
                const unknown = await probed(config, {});
                assert.ok(unknown.resources.length > 0, "an unknown engine: not checked");
                reset();
                const plain = await probed(withKey(stackConfig("twohosts")), { centos1: ["@docker=20.10.24 1.41"], centos2: ["@docker=20.10.24 1.41"] });
                assert.ok(plain.resources.length > 0);
            });

            it("a custom MAC on a declared engine before 25, with the probe off, is refused naming the declared version", async () => {
                const config = withKey(clone(stackConfig("twohosts")));
                Object.assign((config["macvlan:hosts"] as Array<Record<string, unknown>>)[0], { dockerVersion: "24.0" });
                (config["macvlan:networks"] as Array<{ containers: Array<Record<string, unknown>> }>)[0].containers[0].mac = "02:00:00:00:00:0a";
                const off = { ...config, "macvlan:probe": "false" };
                await assert.rejects(runProgram(off, { prober: fakeProber(off) }), (e: unknown) => {
                    assert.deepEqual(programProblems(e), [
                        "networks[0].containers[0].mac 02:00:00:00:00:0a needs Docker Engine 25 or later (API 1.44) on host centos1, which runs Docker 24.0 (hosts[0].dockerVersion): an older engine ignores a per-network MAC and gives the container 02:42:c6:33:64:0a; remove mac, or upgrade the engine",
                    ]);
                    return true;
                });
            });
        });

        it("lists every fact problem at once; with macvlan:probe false none of these checks runs", async () => {
            const facts = { node1: [`@machine-id=${ID_A}`], node3: [`@machine-id=${ID_A}`, "@addr=eth0 198.51.100.132/24"] };
            await assert.rejects(probed(threeHostsConfig(), facts), (e: unknown) => {
                const problems = programProblems(e);
                assert.equal(problems.length, 2, problems.join("\n"));
                assert.match(problems[0], /^hosts\[2\]\.address node3\.example\.net \(host node3\) is the same machine as hosts\[0\]/);
                assert.match(problems[1], /^networks\[0\]\.containers\[1\]\.ip 198\.51\.100\.132 is an address of host node3 \(hosts\[2\]\) itself/);
                return true;
            });
            const off = { ...threeHostsConfig(), "macvlan:probe": "false" };
            const { resources } = await runProgram(off, { prober: fakeProber(off, undefined, [], {}, facts) });
            assert.ok(resources.length > 0);
        });
    });

    describe("host keys", () => {
        /** twohosts with centos2's hostKey removed, plus `extra` config. */
        const unpinned = (extra: Record<string, unknown> = {}): Record<string, unknown> => {
            const config = withKey(clone(stackConfig("twohosts")));
            delete (config["macvlan:hosts"] as Array<Record<string, unknown>>)[1]["hostKey"];
            return { ...config, ...extra };
        };
        const CENTOS2 = "198.51.100.146";
        const SCAN = `run \`ssh-keyscan -t ed25519 -p 22 ${CENTOS2}\` from a network you trust and set hostKey to the "ssh-ed25519 AAAA…" part of the line it prints`;
        const commandKeys = (resources: readonly RecordedResource[], host: string): unknown[] =>
            resources.filter((r) => r.type === COMMAND && r.name.startsWith(`${host}-`)).map((r) => (unwrapSecrets(r.inputs["connection"]) as Record<string, unknown>)["hostKey"]);

        it("refuses a host whose key is not pinned, with the ssh-keyscan line to run, probing and registering nothing", async () => {
            const calls: Array<{ target: ProbeTarget; script: string }> = [];
            await assert.rejects(runProgram(unpinned(), { prober: fakeProber(unpinned(), undefined, calls) }), (e: unknown) => {
                assert.deepEqual(programProblems(e), [
                    `hosts[1].hostKey is required: the SSH host key of ${CENTOS2} port 22 is not pinned, and without it whatever answers at that address would be sent the host scripts; ${SCAN} (or set macvlan:trustOnFirstUse: true to learn it on first contact)`,
                ]);
                return true;
            });
            assert.equal(calls.length, 0);
            assert.deepEqual(recorded, []);
        });

        it("with the probe off there is nothing to learn a key with: refused, saying so", async () => {
            await assert.rejects(runProgram(unpinned({ "macvlan:trustOnFirstUse": "true", "macvlan:probe": "false" })), (e: unknown) => {
                assert.deepEqual(programProblems(e), [
                    `hosts[1].hostKey is required: the SSH host key of ${CENTOS2} port 22 is not pinned, and macvlan:probe is false, so there is no probe to learn it on first contact (macvlan:trustOnFirstUse learns keys through the probe); ${SCAN}`,
                ]);
                return true;
            });
            assert.deepEqual(recorded, []);
        });

        it("refuses an ssh-rsa pin (pulumi-command would offer SHA-1 ssh-rsa only), naming the ed25519 way", async () => {
            const rsa = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCZDreAVJ6hEB7Kk5w4EtiSFfw5cYGkuITIMWlRW8YRONZAkyvzHTuXRMQ5Z3gX8RrO7Zs68jHOnj3HpghTQygXb5mlbkLf6MdNG8c2WdXHDRNwGJGt9fI6mAMw0USiNWTbwGS4bwTy566nK0XMqKfw2oqX62CdaBuKtK/xFgy1dMR+jqdTC5U7bthzZIY25l/eUE1TaiUfwZBOmjLTc8hD3o1AKD5mxk01Y7dH0jbmfXi7fdEWlR4l+m7ZdR0tbkemYiHc+8fNZfbXNr3tsCk6cTgotC+/n5I4mWOtIcwHrIX6WLV6PdfPiN2ojE+0DxvWjj2rqKtEeZUVvZt+nCdP";
            const config = withKey(clone(stackConfig("twohosts")));
            (config["macvlan:hosts"] as Array<Record<string, unknown>>)[0]["hostKey"] = rsa;
            await assert.rejects(runProgram(config), (e: unknown) => {
                const problems = programProblems(e);
                assert.equal(problems.length, 1);
                assert.ok(problems[0].startsWith(`hosts[0].hostKey ${JSON.stringify(rsa).slice(0, 79)}… is an ssh-rsa key: `), problems[0]);
                assert.ok(problems[0].includes("which OpenSSH 8.8 and later refuse; pin the host's ed25519 key instead (`ssh-keyscan -t ed25519 -p 22 198.51.100.145`, see docs/host-keys.md)"), problems[0]);
                return true;
            });
            assert.deepEqual(recorded, []);
        });

        it("refuses a pinned key that the server does not present, before anything registers (no advice to turn the probe off)", async () => {
            const config = withKey(stackConfig("twohosts"));
            const pinned = (config["macvlan:hosts"] as Array<Record<string, string>>)[0]["hostKey"];
            const impostor = fakeHostKey("impostor");
            await assert.rejects(runProgram(config, { prober: fakeProber(config, undefined, [], { centos1: impostor }) }), (e: unknown) => {
                assert.ok(pulumi.RunError.isInstance(e), String(e));
                assert.equal(
                    (e).message,
                    `probe of host centos1 (root@198.51.100.145:22) refused: the host key changed: the pinned hostKey is ${describeHostKey(pinned)}, the server presented ${describeHostKey(impostor)}. ` +
                        "Someone may be intercepting the connection, or the host was reinstalled: check the new key on the host itself (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`) before you pin it. Nothing was registered.",
                );
                return true;
            });
            assert.deepEqual(recorded, []);
        });

        describe("trust on first use (macvlan:trustOnFirstUse: true)", () => {
            const tofu = (): Record<string, unknown> => unpinned({ "macvlan:trustOnFirstUse": "true" });
            const learned = fakeHostKey("centos2"); // what fakeProber's centos2 presents

            it("the probe learns the key; every command and the Docker provider are pinned to it; the user is told; the key is recorded", async () => {
                const calls: Array<{ target: ProbeTarget; script: string }> = [];
                const store = memoryKnownHosts();
                const { resources, warnings } = await runProgram(tofu(), { prober: fakeProber(tofu(), undefined, calls), knownHosts: store });
                const byHost = new Map(calls.map((c) => [c.target.host, c.target]));
                assert.equal(byHost.get("centos2")?.hostKey, undefined);
                assert.equal(byHost.get("centos2")?.learnHostKey, true);
                assert.equal(byHost.get("centos1")?.learnHostKey, undefined, "a pinned host is checked, not learned");
                const c2 = commandKeys(resources, "centos2");
                assert.equal(c2.length, 5);
                assert.deepEqual(new Set(c2), new Set([learned]));
                assert.deepEqual(JSON.parse(String(byName(resources, "centos2-docker").inputs["sshOpts"])), pinnedOpts(CENTOS2, learned));
                const pinnedCentos1 = (stackConfig("twohosts")["macvlan:hosts"] as Array<Record<string, string>>)[0]["hostKey"];
                assert.deepEqual(new Set(commandKeys(resources, "centos1")), new Set([pinnedCentos1]));
                assert.deepEqual(warnings, [
                    `host centos2 (root@${CENTOS2}:22): trusted on first use: its ${describeHostKey(learned)} was accepted without verification and is recorded in stacks/Pulumi.test.known_hosts; ` +
                        "later runs refuse the host if that key changes. Check the fingerprint on the host itself (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`), then pin it in the stack file under hosts[1] (name: centos2):\n" +
                        `      hostKey: ${JSON.stringify(learned)}`,
                ]);
                assert.equal(store.text(), `${CENTOS2} ${learned} pulumi-macvlan:centos2\n`);
            });

            it("the next run checks the recorded key instead of learning again: same inputs, no warning", async () => {
                const store = memoryKnownHosts();
                const first = await runProgram(tofu(), { knownHosts: store });
                const calls: Array<{ target: ProbeTarget; script: string }> = [];
                const again = await runProgram(tofu(), { prober: fakeProber(tofu(), undefined, calls), knownHosts: store });
                assert.deepEqual(again.warnings, []);
                const target = calls.find((c) => c.target.host === "centos2")?.target;
                assert.equal(target?.hostKey, learned);
                assert.equal(target?.learnHostKey, undefined);
                assert.deepEqual(changed(first.resources, again.resources), []);
                assert.equal(store.text(), `${CENTOS2} ${learned} pulumi-macvlan:centos2\n`, "recorded once");
            });

            it("a recorded key that changed is refused, naming the host, both fingerprints and the file; nothing registers", async () => {
                const store = memoryKnownHosts(`${CENTOS2} ${learned} pulumi-macvlan:centos2\n`);
                const impostor = fakeHostKey("impostor");
                await assert.rejects(runProgram(tofu(), { prober: fakeProber(tofu(), undefined, [], { centos2: impostor }), knownHosts: store }), (e: unknown) => {
                    assert.ok(pulumi.RunError.isInstance(e), String(e));
                    assert.ok(
                        (e).message.startsWith(
                            `probe of host centos2 (root@${CENTOS2}:22) refused: the host key changed: the key learned on first use (in stacks/Pulumi.test.known_hosts: delete its line there once the new key is checked) is ${describeHostKey(learned)}, the server presented ${describeHostKey(impostor)}.`,
                        ),
                        (e).message,
                    );
                    return true;
                });
                assert.deepEqual(recorded, []);
                assert.equal(store.text(), `${CENTOS2} ${learned} pulumi-macvlan:centos2\n`, "not re-learned");
            });

            it("a pinned hostKey wins over a recorded one; an unreadable known_hosts file is a config problem", async () => {
                const config = withKey(stackConfig("twohosts"));
                const store = memoryKnownHosts(`198.51.100.145 ${fakeHostKey("old")} pulumi-macvlan:centos1\n`);
                const { resources } = await runProgram({ ...config, "macvlan:trustOnFirstUse": "true" }, { knownHosts: store });
                const pinned = (config["macvlan:hosts"] as Array<Record<string, string>>)[0]["hostKey"];
                assert.deepEqual(new Set(commandKeys(resources, "centos1")), new Set([pinned]));
                await assert.rejects(runProgram(tofu(), { knownHosts: memoryKnownHosts("198.51.100.146 ssh-ed25519 AAAA\n") }), (e: unknown) => {
                    assert.deepEqual(programProblems(e), ["stacks/Pulumi.test.known_hosts line 1 has a key blob that is not SSH wire format"]);
                    return true;
                });
                assert.deepEqual(recorded, []);
            });
        });
    });

    describe("secrets", () => {
        for (const stack of STACKS) {
            it(`${stack}: the private key is only inside secret connections, never in command text or elsewhere`, async () => {
                const { resources } = await runProgram(withKey(stackConfig(stack)));
                for (const r of resources) {
                    for (const [at, s] of stringsIn(r.inputs)) assert.ok(!s.includes(KEY_MARKER), `${r.name}.${at} holds the key`);
                    if (r.type === COMMAND) {
                        assert.ok(isSecretValue(r.inputs["connection"]), `${r.name}.connection is secret`);
                        const conn = unwrapSecrets(r.inputs["connection"]) as Record<string, unknown>;
                        assert.equal(conn["privateKey"], TEST_PRIVATE_KEY);
                        for (const k of ["create", "update", "delete"]) {
                            if (k in r.inputs) assert.equal(typeof r.inputs[k], "string", `${r.name}.${k} is plain text (drift tokens are not secret)`);
                        }
                    }
                }
            });
        }

        it("reads the key from macvlan:sshPrivateKeyPath and keeps it secret", async () => {
            const config = { ...stackConfig("twohosts"), "macvlan:sshPrivateKeyPath": "/keys/id_test" };
            const read: string[] = [];
            const { resources } = await runProgram(config, {
                secretKeys: [],
                readFile: (p) => {
                    read.push(p);
                    return TEST_PRIVATE_KEY;
                },
            });
            assert.deepEqual(read, ["/keys/id_test"]);
            const cmd = byName(resources, "centos1-promisc");
            assert.ok(isSecretValue(cmd.inputs["connection"]));
            assert.equal((unwrapSecrets(cmd.inputs["connection"]) as Record<string, unknown>)["privateKey"], TEST_PRIVATE_KEY);
        });

        it("pins the host key in the commands and in the Docker provider's ssh options", async () => {
            const hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAMKERgfJi00O0JJUFdeZWxzeoGIj5adpKuyucDHztXc";
            const config = withKey(clone(stackConfig("twohosts")));
            const h = (config["macvlan:hosts"] as Array<Record<string, unknown>>)[1];
            h["hostKey"] = hostKey;
            h["port"] = 2222;
            h["user"] = "admin";
            const { resources } = await runProgram(config, { prober: fakeProber(config) });
            const conn = unwrapSecrets(byName(resources, "centos2-shim").inputs["connection"]) as Record<string, unknown>;
            assert.equal(conn["hostKey"], hostKey);
            assert.equal(conn["port"], 2222);
            assert.equal(conn["user"], "admin");
            const p = byName(resources, "centos2-docker");
            assert.equal(p.inputs["host"], "ssh://admin@198.51.100.146:2222");
            assert.deepEqual(JSON.parse(String(p.inputs["sshOpts"])), [
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-o",
                `KnownHostsCommand=/bin/echo [198.51.100.146]:2222 ${hostKey}`,
            ]);
            const centos1 = (config["macvlan:hosts"] as Array<Record<string, string>>)[0];
            assert.deepEqual(JSON.parse(String(byName(resources, "centos1-docker").inputs["sshOpts"])), pinnedOpts(centos1["address"], centos1["hostKey"]));
        });

        it("passes macvlan:sshIdentityFile to the Docker provider only", async () => {
            const config: Record<string, unknown> = { ...withKey(stackConfig("twohosts")), "macvlan:sshIdentityFile": "~/.ssh/id_macvlan" };
            const { resources } = await runProgram(config);
            const centos1 = (config["macvlan:hosts"] as Array<Record<string, string>>)[0];
            assert.deepEqual(
                JSON.parse(String(byName(resources, "centos1-docker").inputs["sshOpts"])),
                pinnedOpts(centos1["address"], centos1["hostKey"], ["-o", "IdentityFile=~/.ssh/id_macvlan", "-o", "IdentitiesOnly=yes"]),
            );
            const conn = unwrapSecrets(byName(resources, "centos1-promisc").inputs["connection"]) as Record<string, unknown>;
            assert.equal(conn["privateKey"], TEST_PRIVATE_KEY);
        });
    });

    describe("secret env (macvlan:networks set with `pulumi config set --secret --path`)", () => {
        const ENV = "docker:index/container:Container";

        /** The paths of the secret Outputs inside a program's result, before anything is resolved. */
        async function secretOutputs(v: unknown, at = "outputs"): Promise<string[]> {
            if (pulumi.Output.isInstance(v)) {
                const inner = await new Promise<unknown>((resolve) => v.apply(resolve));
                return [...((await pulumi.isSecret(v)) ? [at] : []), ...(await secretOutputs(inner, at))];
            }
            if (typeof v !== "object" || v === null) return [];
            const nested = await Promise.all(Object.entries(v).map(([k, x]) => secretOutputs(x, `${at}.${k}`)));
            return nested.flat();
        }

        /** Runs index.ts with `config` and `secretKeys`, returning what it returned, unresolved. */
        async function rawOutputs(config: Record<string, unknown>, secretKeys: readonly string[]): Promise<unknown> {
            reset();
            setConfig(config, secretKeys);
            const main = loadMain();
            let raw: unknown;
            await runUnderMocks(async () => (raw = await main({ prober: fakeProber(config) })));
            return raw;
        }

        it("compose: the SDK says macvlan:networks is secret; every envs input is a secret, and nothing else but the connections", async () => {
            const config = withKey(stackConfig("compose"));
            assert.deepEqual(defaultSecretKeys(config), ["macvlan:sshPrivateKey", "macvlan:networks"]);
            const { resources } = await runProgram(config);
            const withEnv = resources.filter((r) => r.type === ENV && r.inputs["envs"] !== undefined).map((r) => r.name).sort();
            assert.deepEqual(withEnv, ["pub_net-docker1-mysql", "pub_net_mid-docker1-mongodb", "pub_net_mid-docker1-mongodb_bak"]);
            for (const r of resources) {
                for (const [k, v] of Object.entries(r.inputs)) {
                    const secret = (r.type === ENV && k === "envs") || (r.type === COMMAND && k === "connection");
                    assert.equal(isSecretValue(v), secret, `${r.name}.${k}`);
                    if (!secret) assert.deepEqual(v, unwrapSecrets(v), `${r.name}.${k} holds no secret inside`);
                }
            }
            assert.deepEqual(unwrapSecrets(byName(resources, "pub_net_mid-docker1-mongodb").inputs["envs"]), [
                `MONGO_INITDB_ROOT_PASSWORD=${secretEnvValue("mongodb", "MONGO_INITDB_ROOT_PASSWORD")}`,
                "MONGO_INITDB_ROOT_USERNAME=admin",
            ]);
        });

        it("compose: no stack output is a secret", async () => {
            const config = withKey(stackConfig("compose"));
            const raw = await rawOutputs(config, defaultSecretKeys(config));
            assert.ok(typeof raw === "object" && raw !== null && "networks" in raw);
            assert.deepEqual(await secretOutputs(raw), []);
        });

        it("an env marks nothing secret until macvlan:networks is a secret key; then only envs changes", async () => {
            const config = withKey(clone(stackConfig("twohosts")));
            const c = ((config["macvlan:networks"] as Array<{ containers: Array<Record<string, unknown>> }>)[0]).containers[0];
            c["env"] = { TZ: "UTC", API_TOKEN: "t0ken" };
            const plain = await runProgram(config, { secretKeys: ["macvlan:sshPrivateKey"] });
            const envs = byName(plain.resources, "mynet-centos1-test1").inputs["envs"];
            assert.deepEqual(envs, ["API_TOKEN=t0ken", "TZ=UTC"], "plain, as before");

            const secret = await runProgram(config, { secretKeys: ["macvlan:sshPrivateKey", "macvlan:networks"] });
            const sEnvs = byName(secret.resources, "mynet-centos1-test1").inputs["envs"];
            assert.ok(isSecretValue(sEnvs), "a secret");
            assert.deepEqual(unwrapSecrets(sEnvs), ["API_TOKEN=t0ken", "TZ=UTC"]);
            // Byte for byte the same registrations (names, URNs, every other input), envs aside.
            const withoutEnvs = (rs: RecordedResource[]) =>
                JSON.stringify(rs.map((r) => [r.type, r.name, r.urn, r.parent, Object.fromEntries(Object.entries(r.inputs).filter(([k]) => k !== "envs"))]));
            assert.equal(withoutEnvs(secret.resources), withoutEnvs(plain.resources));
            assert.deepEqual(await secretOutputs(await rawOutputs(config, ["macvlan:sshPrivateKey", "macvlan:networks"])), []);
        });

        it("compose: refuses a database password that is missing, or set but not as a secret, without showing it", async () => {
            const missing = { ...stackConfig("compose"), "macvlan:sshPrivateKey": TEST_PRIVATE_KEY };
            await assert.rejects(runProgram(missing), (e: unknown) => {
                assert.deepEqual(
                    programProblems(e).map((p) => p.replace(/:.*/, "")),
                    [
                        "networks[0].containers[1].env.MYSQL_ROOT_PASSWORD is required by networks[0].containers[1].secretEnv",
                        "networks[2].containers[0].env.MONGO_INITDB_ROOT_PASSWORD is required by networks[2].containers[0].secretEnv",
                        "networks[2].containers[1].env.MONGO_INITDB_ROOT_PASSWORD is required by networks[2].containers[1].secretEnv",
                    ],
                );
                assert.ok((e as Error).message.includes("pulumi config set --secret --path 'macvlan:networks[2].containers[0].env.MONGO_INITDB_ROOT_PASSWORD'"));
                return true;
            });
            assert.deepEqual(recorded, []);

            // The values in plain text (macvlan:networks not a secret key).
            const config = withKey(stackConfig("compose"));
            await assert.rejects(runProgram(config, { secretKeys: ["macvlan:sshPrivateKey"] }), (e: unknown) => {
                const problems = programProblems(e);
                assert.equal(problems.length, 3);
                for (const p of problems) assert.match(p, /^networks\[[02]\]\.containers\[[01]\]\.env\.[A-Z_]+_PASSWORD is listed in .* but is not a secret: set it with `pulumi config set --secret --path /);
                assert.ok(!(e as Error).message.includes("s3cret"), "no value shown");
                return true;
            });
            assert.deepEqual(recorded, []);
        });

        it("a macvlan:networks that is not structured config is reported without its value", async () => {
            const config = { ...withKey(stackConfig("twohosts")), "macvlan:networks": "{ PASSWORD=s3cret-x" };
            await assert.rejects(runProgram(config), (e: unknown) => {
                const problems = programProblems(e);
                assert.ok(problems.includes("networks is not structured config (a YAML list under macvlan:networks)"), problems.join("\n"));
                assert.ok(!(e as Error).message.includes("s3cret"), "no value shown");
                return true;
            });
            assert.deepEqual(recorded, []);
        });

        it("the installed SDK answers which config keys are secret (runtime.isConfigSecret, not in its types)", () => {
            const isConfigSecret = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
            assert.equal(typeof isConfigSecret, "function");
            setConfig({ "macvlan:networks": [], "macvlan:hosts": [] }, ["macvlan:networks"]);
            assert.equal(isConfigSecret!("macvlan:networks"), true);
            assert.equal(isConfigSecret!("macvlan:hosts"), false);
        });
    });
});

describe("runUnderMocks (test support): the outputs a test waits for", () => {
    it("resolves nested Outputs, secrets unwrapped, and rejects (does not hang) for an Output that failed", async () => {
        const ok = await runUnderMocks(() => ({ a: pulumi.output(1), b: [pulumi.secret("s")], c: { d: pulumi.output(Promise.resolve("x")) } }));
        assert.deepEqual(ok, { a: 1, b: ["s"], c: { d: "x" } });
        const failed = pulumi.output(1).apply((): number => {
            throw new Error("boom in apply");
        });
        await assert.rejects(runUnderMocks(() => ({ failed })), /boom in apply/);
    });
});
