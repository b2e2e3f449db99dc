/**
 * The policy pack (policy/): each policy on passing and violating resources, their props wrapped
 * in the runtime's `unknownCheckingProxy` as the policy runtime does, with the exact messages; the
 * enforcement levels and config; and what the pack imports. Pure: loads no mocks.
 */
import * as assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { DEFAULT_LEVELS, macvlanPolicies, POLICY_NAMES } from "../../policy/policies";
import { isUnknownValueError } from "../../policy/rules/read";
import { runResourcePolicy, runStackPolicy, runStackPolicySettled, UNKNOWN_STRING, unknownCheckingProxy, UnknownValueError, urnOf, type TestResource } from "../support/policy";

const REPO = path.resolve(__dirname, "../..");
const NETWORK = "docker:index/network:Network";
const CONTAINER = "docker:index/container:Container";
const COMMAND = "command:remote:Command";
const HOST = "macvlan:index:MacvlanHost";
const P1 = "urn:pulumi:test::macvlan::macvlan:index:MacvlanHost$pulumi:providers:docker::centos1-docker";
const P2 = "urn:pulumi:test::macvlan::macvlan:index:MacvlanHost$pulumi:providers:docker::centos2-docker";
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID/+SHU3A0MeYeyfISlSU6RQTMfJk9joeSFlDMlRALYA";

/** A macvlan network as MacvlanNetwork registers it (mynet on one host), with overrides. */
function network(name: string, provider: string | undefined, over: Record<string, unknown> = {}): TestResource {
    return {
        type: NETWORK,
        name,
        ...(provider === undefined ? {} : { provider }),
        parentType: "macvlan:index:MacvlanNetwork",
        props: {
            driver: "macvlan",
            name: "mynet",
            options: { macvlan_mode: "bridge", parent: "ens33" },
            ipamConfigs: [{ subnet: "198.51.100.0/24", gateway: "198.51.100.1", ipRange: "198.51.100.192/27" }],
            ...over,
        },
    };
}

/** A container pinned on mynet, as MacvlanNetwork registers it, with endpoint and prop overrides. */
function container(name: string, provider: string | undefined, endpoint: Record<string, unknown>, over: Record<string, unknown> = {}): TestResource {
    return {
        type: CONTAINER,
        name,
        ...(provider === undefined ? {} : { provider }),
        parentType: "macvlan:index:MacvlanNetwork",
        props: { name: name.split("-").pop(), image: "sha256:00", networkMode: "bridge", restart: "unless-stopped", networksAdvanced: [{ name: "mynet", ...endpoint }], ...over },
    };
}

const pinned = (ip: string, mac: string) => ({ ipv4Address: ip, macAddress: mac });

/** A remote command; `parentType` null: a command of the program's own, under no component. */
function command(name: string, connection: Record<string, unknown>, parentType: string | null = HOST): TestResource {
    return { type: COMMAND, name, ...(parentType === null ? {} : { parentType }), props: { connection: { host: "198.51.100.145", port: 22, user: "root", privateKey: "k", ...connection }, create: "true" } };
}

describe("policy pack: macvlan-network-shape", () => {
    const run = (r: TestResource) => runResourcePolicy(POLICY_NAMES.networkShape, r);

    it("passes a network as MacvlanNetwork registers it, and ignores other drivers", async () => {
        assert.deepEqual(await run(network("mynet-centos1", P1)), []);
        assert.deepEqual(await run(network("br", P1, { driver: "bridge", options: {}, ipamConfigs: [] })), []);
        assert.deepEqual(await run({ type: CONTAINER, name: "c", props: { driver: "macvlan" } }), []);
    });

    it("reports a missing parent and missing IPAM config", async () => {
        assert.deepEqual(await run(network("n", P1, { options: { macvlan_mode: "bridge" }, ipamConfigs: [] })), [
            "options.parent is not set: a macvlan network needs the link it hangs off (the NIC, or <nic>.<vlan>)",
            "ipamConfigs is empty: a macvlan network needs an explicit subnet and gateway (the LAN's), else Docker picks a subnet of its own",
        ]);
        assert.deepEqual(await run(network("n", P1, { options: { parent: "" }, ipamConfigs: undefined })), [
            "options.parent is not set: a macvlan network needs the link it hangs off (the NIC, or <nic>.<vlan>)",
            "ipamConfigs is empty: a macvlan network needs an explicit subnet and gateway (the LAN's), else Docker picks a subnet of its own",
        ]);
    });

    it("reports each pool without a subnet or gateway, a bad subnet, a gateway outside it, and a bad parent", async () => {
        const r = network("n", P1, {
            options: { parent: "all" },
            ipamConfigs: [{}, { subnet: "198.51.100.7/24", gateway: "198.51.100.1" }, { subnet: "192.0.2.0/24", gateway: "198.51.100.1" }, { subnet: "2001:db8::/64", gateway: "nope" }],
        });
        assert.deepEqual(await run(r), [
            "options.parent all is reserved: all and default name the global entries of /proc/sys/net/ipv4/conf, not a link",
            "ipamConfigs[0].subnet is not set: give the LAN's subnet",
            "ipamConfigs[0].gateway is not set: give the LAN router's address (engines before 29 would take the subnet's first address)",
            "ipamConfigs[1].subnet 198.51.100.7/24 has host bits set; did you mean 198.51.100.0/24?",
            "ipamConfigs[2].gateway 198.51.100.1 is not inside ipamConfigs[2].subnet 192.0.2.0/24",
            "ipamConfigs[3].gateway nope is not an IPv4 or IPv6 address",
        ]);
    });

    it("an unknown value (preview) throws the runtime's UnknownValueError, which the runtime reports as advisory", async () => {
        await assert.rejects(run(network("n", P1, { options: { parent: UNKNOWN_STRING } })), (e: unknown) => {
            assert.ok(e instanceof UnknownValueError);
            assert.equal(e.message, "string value at .options.parent can't be known during preview");
            return true;
        });
    });
});

describe("policy pack: macvlan-container-pinned", () => {
    const run = (rs: TestResource[]) => runStackPolicy(POLICY_NAMES.containerPinned, rs);
    const net1 = network("mynet-centos1", P1);

    it("passes containers pinned as MacvlanNetwork pins them (and a join on a second network)", async () => {
        const other = network("lan2-centos1", P1, { name: "lan2", options: { parent: "ens33.50" }, ipamConfigs: [{ subnet: "2001:db8::/64", gateway: "2001:db8::1" }, { subnet: "192.0.2.0/24", gateway: "192.0.2.1" }] });
        const c = container("mynet-centos1-test1", P1, pinned("198.51.100.10", "02:42:c6:33:64:0a"), {
            networksAdvanced: [{ name: "mynet", ...pinned("198.51.100.10", "02:42:c6:33:64:0a") }, { name: "lan2", ipv4Address: "192.0.2.10", ipv6Address: "2001:db8::10", macAddress: "02:00:00:00:00:10" }],
        });
        assert.deepEqual(await run([net1, other, c]), []);
    });

    it("reports an endpoint without an address or MAC, with the container's URN", async () => {
        const c = container("mynet-centos1-test1", P1, {});
        assert.deepEqual(await run([net1, c]), [
            { message: "container test1 (mynet-centos1-test1): networksAdvanced[0] (macvlan network mynet).ipv4Address is not set: pin the container's address (the engine would hand out one of its own range)", urn: urnOf(c) },
            { message: "container test1 (mynet-centos1-test1): networksAdvanced[0] (macvlan network mynet).macAddress is not set: pin the container's MAC (the engine derives one that changes with the address)", urn: urnOf(c) },
        ]);
    });

    it("reports an address outside the subnets, the gateway, a bad IPv6 address and a multicast MAC", async () => {
        const outside = container("a", P1, pinned("192.0.2.10", "02:42:00:00:00:01"));
        const gateway = container("b", P1, { ...pinned("198.51.100.1", "01:00:5e:00:00:01"), ipv6Address: "2001:db8::5" });
        const family = container("c", P1, pinned("2001:db8::9", "02:00:00:00:00:0c"));
        const garbage = container("d", P1, pinned("198.51.100.300", "02-00-00-00-00-0d"));
        assert.deepEqual((await run([net1, outside, gateway, family, garbage])).map((v) => v.message), [
            "container a (a): networksAdvanced[0] (macvlan network mynet).ipv4Address 192.0.2.10 is not inside the network's subnets (198.51.100.0/24)",
            "container b (b): networksAdvanced[0] (macvlan network mynet).ipv4Address 198.51.100.1 is the network's gateway",
            "container b (b): networksAdvanced[0] (macvlan network mynet).ipv6Address 2001:db8::5 is not inside the network's subnets (198.51.100.0/24)",
            "container b (b): networksAdvanced[0] (macvlan network mynet).macAddress 01:00:5e:00:00:01 is a multicast MAC (lowest bit of the first byte set); use a unicast MAC such as 02:...",
            "container c (c): networksAdvanced[0] (macvlan network mynet).ipv4Address 2001:db8::9 is not an IPv4 address (an IPv6 address goes in ipv6Address)",
            "container d (d): networksAdvanced[0] (macvlan network mynet).ipv4Address 198.51.100.300 is not an IPv4 or IPv6 address",
            "container d (d): networksAdvanced[0] (macvlan network mynet).macAddress 02-00-00-00-00-0d is not a MAC address xx:xx:xx:xx:xx:xx (hex)",
        ]);
    });

    it("resolves a network by Docker name on the container's own engine only, and checks nothing on other networks", async () => {
        // mynet exists on centos1's engine only: a container on centos2 naming "mynet" is on some other network.
        const elsewhere = container("x", P2, {});
        const onBridge = container("y", P1, {}, { networksAdvanced: [{ name: "bridge" }] });
        assert.deepEqual(await run([net1, elsewhere, onBridge]), []);
        // With the default provider on both sides, the names resolve too.
        assert.equal((await run([network("n", undefined), container("z", undefined, {})])).length, 2);
    });

    it("reports a container that joins a macvlan network through networkMode alone", async () => {
        const c = container("c", P1, {}, { networkMode: "mynet", networksAdvanced: [] });
        assert.deepEqual(await run([net1, c]), [
            { message: "container c (c): networkMode mynet is a macvlan network: attach it through networksAdvanced with a pinned ipv4Address and macAddress", urn: urnOf(c) },
        ]);
    });
});

describe("policy pack: stack policies during preview (values not known yet)", () => {
    const net1 = network("mynet-centos1", P1);

    it("a network whose driver is not known (unset: computed) is not macvlan; a container's unknown name and networkMode fall back", async () => {
        const bridge = network("br", P1, { driver: UNKNOWN_STRING, name: "mynet2", options: {}, ipamConfigs: [] });
        const c = container("mynet-centos1-c", P1, {}, { name: UNKNOWN_STRING, networkMode: UNKNOWN_STRING });
        assert.deepEqual((await runStackPolicy(POLICY_NAMES.containerPinned, [net1, bridge, c])).map((v) => v.message), [
            "container mynet-centos1-c (mynet-centos1-c): networksAdvanced[0] (macvlan network mynet).ipv4Address is not set: pin the container's address (the engine would hand out one of its own range)",
            "container mynet-centos1-c (mynet-centos1-c): networksAdvanced[0] (macvlan network mynet).macAddress is not set: pin the container's MAC (the engine derives one that changes with the address)",
        ]);
    });

    it("a container with an unknown address is left out, the others are still checked, and the policy then throws the runtime's UnknownValueError", async () => {
        const unknownIp = container("u", P1, pinned(UNKNOWN_STRING, "02:00:00:00:00:01"));
        const bad = container("b", P1, pinned("198.51.100.30", "01:00:00:00:00:02"));
        const r = await runStackPolicySettled(POLICY_NAMES.containerPinned, [net1, unknownIp, bad]);
        assert.deepEqual(r.reported.map((v) => v.message), [
            "container b (b): networksAdvanced[0] (macvlan network mynet).macAddress 01:00:00:00:00:02 is a multicast MAC (lowest bit of the first byte set); use a unicast MAC such as 02:...",
        ]);
        assert.ok(r.error instanceof UnknownValueError, String(r.error));
        assert.equal(r.error.message, "string value at .networksAdvanced.0.ipv4Address can't be known during preview");
        // A network with an unknown pool is left out the same way.
        const n = await runStackPolicySettled(POLICY_NAMES.passthruOneContainer, [network("n", P1, { ipamConfigs: [{ subnet: UNKNOWN_STRING }] })]);
        assert.deepEqual(n.reported, []);
        assert.ok(n.error instanceof UnknownValueError);
    });

    it("isUnknownValueError recognizes exactly the runtime's error", () => {
        let thrown: unknown;
        try {
            void unknownCheckingProxy({ a: UNKNOWN_STRING }).a;
        } catch (e) {
            thrown = e;
        }
        assert.ok(thrown instanceof UnknownValueError && isUnknownValueError(thrown));
        assert.equal(isUnknownValueError(new Error("x")), false);
    });
});

describe("policy pack: macvlan-container-no-ports", () => {
    it("reports published ports on a macvlan network only", async () => {
        const net1 = network("mynet-centos1", P1);
        const ports = [{ internal: 80, external: 8080 }, { internal: 443 }];
        const onMacvlan = container("web", P1, pinned("198.51.100.20", "02:42:c6:33:64:14"), { ports });
        const onBridge = container("web2", P1, {}, { networksAdvanced: [{ name: "bridge" }], ports });
        const clean = container("ok", P1, pinned("198.51.100.21", "02:42:c6:33:64:15"), { ports: [] });
        assert.deepEqual(await runStackPolicy(POLICY_NAMES.containerNoPorts, [net1, onMacvlan, onBridge, clean]), [
            {
                message: "container web (web): ports has 2 mapping(s), but it is on macvlan network mynet, where the engine ignores port mappings: the container has its own LAN address; remove ports",
                urn: urnOf(onMacvlan),
            },
        ]);
    });
});

describe("policy pack: macvlan-unique-on-segment", () => {
    const run = (rs: TestResource[], config: Record<string, unknown> = {}) => runStackPolicy(POLICY_NAMES.uniqueOnSegment, rs, config);
    const twoHosts = [network("mynet-centos1", P1), network("mynet-centos2", P2)];

    it("passes distinct addresses and MACs across hosts", async () => {
        assert.deepEqual(await run([...twoHosts, container("mynet-centos1-test1", P1, pinned("198.51.100.10", "02:42:c6:33:64:0a")), container("mynet-centos2-test2", P2, pinned("198.51.100.11", "02:42:c6:33:64:0b"))]), []);
    });

    it("reports one address on two hosts of one subnet, to each holder", async () => {
        const a = container("mynet-centos1-test1", P1, pinned("198.51.100.10", "02:42:c6:33:64:0a"));
        const b = container("mynet-centos2-test2", P2, pinned("198.51.100.10", "02:42:c6:33:64:0b"));
        assert.deepEqual(await run([...twoHosts, a, b]), [
            {
                message: "container test1 (mynet-centos1-test1): networksAdvanced[0] (macvlan network mynet).ipv4Address 198.51.100.10 is also pinned by container test2 (mynet-centos2-test2) networksAdvanced[0] (macvlan network mynet) on the same LAN segment: every address must be unique on a segment",
                urn: urnOf(a),
            },
            {
                message: "container test2 (mynet-centos2-test2): networksAdvanced[0] (macvlan network mynet).ipv4Address 198.51.100.10 is also pinned by container test1 (mynet-centos1-test1) networksAdvanced[0] (macvlan network mynet) on the same LAN segment: every address must be unique on a segment",
                urn: urnOf(b),
            },
        ]);
        // segments: parent keeps each engine's parent link apart: the two hosts are two segments.
        assert.deepEqual(await run([...twoHosts, a, b], { segments: "parent" }), []);
    });

    it("reports one MAC twice (whatever its case) on one engine's parent link, in both views", async () => {
        const other = network("lan9-centos1", P1, { name: "lan9", ipamConfigs: [{ subnet: "192.0.2.0/24", gateway: "192.0.2.1" }] });
        const a = container("a", P1, pinned("198.51.100.10", "02:00:00:00:00:aa"));
        const b = container("b", P1, pinned("192.0.2.10", "02:00:00:00:00:AA"), { networksAdvanced: [{ name: "lan9", ...pinned("192.0.2.10", "02:00:00:00:00:AA") }] });
        const expected = [
            "container a (a): networksAdvanced[0] (macvlan network mynet).macAddress 02:00:00:00:00:aa is also pinned by container b (b) networksAdvanced[0] (macvlan network lan9) on the same LAN segment: every MAC must be unique on a segment",
            "container b (b): networksAdvanced[0] (macvlan network lan9).macAddress 02:00:00:00:00:AA is also pinned by container a (a) networksAdvanced[0] (macvlan network mynet) on the same LAN segment: every MAC must be unique on a segment",
        ];
        assert.deepEqual((await run([network("mynet-centos1", P1), other, a, b])).map((v) => v.message), expected);
        assert.deepEqual((await run([network("mynet-centos1", P1), other, a, b], { segments: "parent" })).map((v) => v.message), expected);
    });

    it("passes one address on two separate segments (other subnet, other parent)", async () => {
        const siteB = network("site-b", P2, { name: "siteb", options: { parent: "eth1" }, ipamConfigs: [{ subnet: "192.0.2.0/24", gateway: "192.0.2.1" }] });
        const a = container("a", P1, pinned("198.51.100.10", "02:00:00:00:00:01"));
        const b = container("b", P2, pinned("198.51.100.10", "02:00:00:00:00:02"), { networksAdvanced: [{ name: "siteb", ...pinned("198.51.100.10", "02:00:00:00:00:02") }] });
        assert.deepEqual(await run([network("mynet-centos1", P1), siteB, a, b]), []);
    });
});

describe("policy pack: macvlan-command-host-key", () => {
    const run = (r: TestResource, config: Record<string, unknown> = {}) => runResourcePolicy(POLICY_NAMES.commandHostKey, r, config);

    it("passes MacvlanHost's commands with a pinned key", async () => {
        assert.deepEqual(await run(command("centos1-promisc", { hostKey: KEY })), []);
    });

    it("reports a MacvlanHost command without a key, or with a malformed one", async () => {
        assert.deepEqual(await run(command("centos1-promisc", {})), [
            "connection.hostKey is not set: pin the host's SSH key (ssh-keyscan -t ed25519 <address>), else it trusts any key the host shows",
        ]);
        assert.deepEqual(await run(command("centos1-promisc", { hostKey: "ssh-ed25519 AAAA" })), [
            "connection.hostKey ssh-ed25519 AAAA has a key blob that is not SSH wire format",
        ]);
    });

    it("checks a command outside the macvlan components only with scope: all", async () => {
        const loose = command("deploy", {}, null);
        assert.deepEqual(await run(loose), []);
        assert.deepEqual(await run(loose, { scope: "all" }), [
            "connection.hostKey is not set: pin the host's SSH key (ssh-keyscan -t ed25519 <address>), else it trusts any key the host shows",
        ]);
        // A copy to the host connects the same way.
        assert.equal((await run({ ...loose, type: "command:remote:CopyToRemote" }, { scope: "all" })).length, 1);
        assert.deepEqual(await run({ ...loose, type: "command:local:Command" }, { scope: "all" }), []);
        // Under MacvlanSwarmNetwork (any macvlan:* component) it is in the default scope.
        assert.equal((await run(command("mynet-swarm", {}, "macvlan:index:MacvlanSwarmNetwork"))).length, 1);
    });
});

describe("policy pack: macvlan-passthru-one-container", () => {
    it("reports a passthru network with two containers, not with one", async () => {
        const pt = network("pt-centos1", P1, { options: { parent: "ens34", macvlan_mode: "passthru" } });
        const a = container("pt-centos1-a", P1, pinned("198.51.100.10", "02:00:00:00:00:01"));
        const b = container("pt-centos1-b", P1, pinned("198.51.100.11", "02:00:00:00:00:02"));
        assert.deepEqual(await runStackPolicy(POLICY_NAMES.passthruOneContainer, [pt, a]), []);
        assert.deepEqual(await runStackPolicy(POLICY_NAMES.passthruOneContainer, [pt, a, b]), [
            { message: "macvlan network mynet (pt-centos1) is in passthru mode but holds 2 containers (pt-centos1-a, pt-centos1-b): a passthru network gives its parent link to one container", urn: urnOf(pt) },
        ]);
        // In bridge mode the same two are fine.
        assert.deepEqual(await runStackPolicy(POLICY_NAMES.passthruOneContainer, [network("n", P1), a, b]), []);
    });
});

describe("policy pack: enforcement levels, config and files", () => {
    it("lists each policy once with its default enforcement level", () => {
        assert.deepEqual(macvlanPolicies.map((p) => p.name), Object.values(POLICY_NAMES));
        for (const p of macvlanPolicies) assert.equal(p.enforcementLevel, DEFAULT_LEVELS[p.name as keyof typeof DEFAULT_LEVELS], p.name);
        assert.equal(DEFAULT_LEVELS["macvlan-container-no-ports"], "advisory");
    });

    it("the example pack config names only policies (or all), valid levels and config values of their schemas", () => {
        const config = JSON.parse(readFileSync(path.join(REPO, "policy/config.example.json"), "utf8")) as Record<string, unknown>;
        const levels = ["advisory", "mandatory", "remediate", "disabled"];
        for (const [k, v] of Object.entries(config)) {
            if (typeof v === "string") {
                assert.ok(k === "all" || (Object.values(POLICY_NAMES) as string[]).includes(k), k);
                assert.ok(levels.includes(v), `${k}: ${v}`);
                continue;
            }
            const policy = macvlanPolicies.find((p) => p.name === k);
            assert.ok(policy !== undefined, k);
            for (const [field, value] of Object.entries(v as Record<string, unknown>)) {
                if (field === "enforcementLevel") assert.ok(levels.includes(value as string), `${k}.${field}`);
                else assert.ok(((policy.configSchema?.properties[field]?.enum ?? []) as unknown[]).includes(value), `${k}.${field} ${String(value)}`);
            }
        }
    });

    it("the README's Policy pack section shows `pulumi preview --policy-pack policy` and exactly policy/config.example.json", () => {
        const readme = readFileSync(path.join(REPO, "README.md"), "utf8");
        const section = readme.slice(readme.indexOf("## Policy pack"), readme.indexOf("## Stack outputs"));
        assert.match(section, /^pulumi preview --policy-pack policy$/m);
        assert.match(section, /^pulumi preview --policy-pack policy --policy-pack-config policy\/config\.example\.json$/m);
        const shown = /```json\n([\s\S]*?)```/.exec(section)?.[1];
        assert.ok(shown !== undefined, "the section shows the config");
        assert.deepEqual(JSON.parse(shown), JSON.parse(readFileSync(path.join(REPO, "policy/config.example.json"), "utf8")));
        for (const name of Object.values(POLICY_NAMES)) assert.ok(section.includes(`| \`${name}\` |`), `the table lists ${name}`);
    });

    it("PulumiPolicy.yaml and package.json make policy/ a Node.js policy pack with @pulumi/policy 1.21 (as the root's devDependency)", () => {
        const manifest = yaml.load(readFileSync(path.join(REPO, "policy/PulumiPolicy.yaml"), "utf8")) as Record<string, unknown>;
        assert.equal(manifest["runtime"], "nodejs");
        const pkg = JSON.parse(readFileSync(path.join(REPO, "policy/package.json"), "utf8")) as { version: string; dependencies: Record<string, string> };
        const root = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as { devDependencies: Record<string, string> };
        assert.match(pkg.version, /^\d+\.\d+\.\d+$/, "PolicyPack reads its version from package.json");
        assert.equal(pkg.dependencies["@pulumi/policy"], root.devDependencies["@pulumi/policy"]);
        assert.match(pkg.dependencies["@pulumi/policy"] ?? "", /^~1\.21\./);
    });

    it("the runtime's proxy is the one @pulumi/policy re-exports", () => {
        assert.equal(typeof unknownCheckingProxy, "function");
        const p = unknownCheckingProxy({ a: { b: UNKNOWN_STRING } });
        assert.throws(() => p.a.b, UnknownValueError);
    });

    it("the pack imports no resource code: only @pulumi/policy (types, but index.ts) and the pure layers components/net and components/config", () => {
        const files = readdirSync(path.join(REPO, "policy"), { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts") && !f.startsWith("node_modules"));
        assert.ok(files.length >= 8, files.join(" "));
        const bad: string[] = [];
        for (const f of files) {
            const text = readFileSync(path.join(REPO, "policy", f), "utf8");
            for (const m of text.matchAll(/^import\s+(type\s+)?[^;]*?from\s+"([^"]+)";/gms)) {
                const spec = m[2] ?? "";
                const typeOnly = m[1] !== undefined;
                if (spec === "@pulumi/policy" && (typeOnly || f === "index.ts")) continue;
                if (spec.startsWith("./")) continue;
                if (spec.startsWith("../")) {
                    const target = path.relative(REPO, path.resolve(path.dirname(path.join(REPO, "policy", f)), spec));
                    if (target.startsWith("policy/") || /^components\/(net|config)\//.test(target)) continue;
                }
                bad.push(`${f} imports ${spec}${typeOnly ? " (type)" : ""}`);
            }
        }
        assert.deepEqual(bad, []);
    });
});
