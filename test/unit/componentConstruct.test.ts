/**
 * The component package's provider constructs each component without the CLI: `construct` of
 * MacvlanComponentProvider (what the engine calls for a Python, Go, C# or YAML program) with the
 * inputs of examples/yaml/Pulumi.yaml, under the SDK's mocks. It registers exactly the children the
 * TypeScript classes register, under the tokens existing stacks hold, and returns the schema's
 * outputs; a network given by its hosts' SSH endpoints makes a pinned Docker provider per host.
 */
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
// The mocks first (importing them sets them), then the code under test.
import { recorded, reset } from "../support/mocks";
import { runUnderMocks } from "../support/program";
import { summary, unwrapSecrets, byName, dependencyNames, isSecretValue } from "../support/records";
import { TEST_PRIVATE_KEY } from "../support/keys";
import * as yaml from "js-yaml";
import * as pulumi from "@pulumi/pulumi";
import { MacvlanComponentProvider } from "../../provider/package";
import { MacvlanConfigError } from "../../components/net/problems";

const REPO = path.resolve(__dirname, "../..");
const HOST = "macvlan:index:MacvlanHost";
const NETWORK = "macvlan:index:MacvlanNetwork";
const KEY_1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID/+SHU3A0MeYeyfISlSU6RQTMfJk9joeSFlDMlRALYA";

/** The YAML example's resources, with `${sshPrivateKey}` given the test key (what the engine would send). */
function exampleResources(): Record<string, { type: string; properties: Record<string, unknown> }> {
    const text = readFileSync(path.join(REPO, "examples/yaml/Pulumi.yaml"), "utf8").replaceAll("${sshPrivateKey}", JSON.stringify(TEST_PRIVATE_KEY));
    return (yaml.load(text) as { resources: Record<string, { type: string; properties: Record<string, unknown> }> }).resources;
}

describe("the component package's construct (under the mocks)", function () {
    this.timeout(120_000);
    const provider = new MacvlanComponentProvider();
    const resources = exampleResources();

    before(async () => {
        // The analyzer runs once (construct needs the schema's outputs); not part of any test's time.
        await provider.getSchema();
    });
    beforeEach(() => reset());

    /** construct, with every registration settled and the result's Outputs resolved. */
    async function construct(name: string, type: string, inputs: Record<string, unknown>): Promise<{ urn: unknown; state: Record<string, unknown> }> {
        return (await runUnderMocks(() => provider.construct(name, type, inputs as pulumi.Inputs, {}))) as { urn: unknown; state: Record<string, unknown> };
    }

    it("MacvlanHost (centos1 of the YAML example): its commands and Docker provider under macvlan:index:MacvlanHost, and the schema's outputs", async () => {
        const r = resources["centos1"];
        assert.equal(r?.type, HOST);
        const { urn, state } = await construct("centos1", HOST, r.properties);
        assert.equal(urn, "urn:pulumi:test::macvlan::macvlan:index:MacvlanHost::centos1");
        const cmd = (n: string) => `command:remote:Command centos1-${n} parent=centos1`;
        assert.deepEqual(summary(recorded), [
            cmd("ipforward"),
            cmd("preflight"),
            cmd("promisc"),
            cmd("shim"),
            cmd("shim-route-198-51-100-10-32"),
            `${HOST} centos1`,
            "pulumi:providers:docker centos1-docker parent=centos1",
        ]);
        assert.deepEqual(dependencyNames(recorded, byName(recorded, "centos1-shim")), ["centos1-preflight"]);
        // The whole connection is a secret (it holds the key), pinned to the host key.
        const sent = byName(recorded, "centos1-preflight").inputs["connection"];
        assert.ok(isSecretValue(sent), "the connection is sent as a secret");
        const connection = unwrapSecrets(sent) as Record<string, unknown>;
        assert.equal(connection["hostKey"], KEY_1);
        assert.equal(connection["privateKey"], TEST_PRIVATE_KEY);
        assert.deepEqual(Object.keys(state).sort(), ["address", "commandIds", "parent", "shim", "vlans"]);
        assert.equal(state["address"], "198.51.100.145");
        assert.deepEqual(state["vlans"], []);
        assert.deepEqual(state["shim"], { link: "macvlan-shim", lower: "ens33", address: "198.51.100.250/32", routes: ["198.51.100.10/32"] });
        assert.deepEqual(state["commandIds"], {
            "centos1-promisc": "centos1-promisc-id",
            "centos1-ipforward": "centos1-ipforward-id",
            "centos1-shim": "centos1-shim-id",
            "centos1-shim-route-198-51-100-10-32": "centos1-shim-route-198-51-100-10-32-id",
        });
    });

    it("MacvlanNetwork (mynet of the YAML example): a pinned Docker provider per host from its SSH endpoint, the networks, images and containers through it", async () => {
        const r = resources["mynet"];
        assert.equal(r?.type, NETWORK);
        const { urn, state } = await construct("mynet", NETWORK, r.properties);
        assert.equal(urn, "urn:pulumi:test::macvlan::macvlan:index:MacvlanNetwork::mynet");
        const on = (h: string, c: string) => [
            `docker:index/container:Container mynet-${h}-${c} parent=mynet provider=mynet-${h}-docker`,
            `docker:index/network:Network mynet-${h} parent=mynet provider=mynet-${h}-docker`,
            `docker:index/remoteImage:RemoteImage mynet-${h}-images/centos:7 parent=mynet provider=mynet-${h}-docker`,
        ];
        assert.deepEqual(summary(recorded), [
            ...on("centos1", "test1"),
            ...on("centos2", "test2"),
            `${NETWORK} mynet`,
            "pulumi:providers:docker mynet-centos1-docker parent=mynet",
            "pulumi:providers:docker mynet-centos2-docker parent=mynet",
        ].sort());
        const docker1 = byName(recorded, "mynet-centos1-docker").inputs;
        assert.equal(docker1["host"], "ssh://root@198.51.100.145:22");
        assert.ok(
            // A provider gets its non-string inputs as JSON text.
            (JSON.parse(String(docker1["sshOpts"])) as string[]).includes(`KnownHostsCommand=/bin/echo 198.51.100.145 ${KEY_1}`),
            `the provider pins the host key: ${String(docker1["sshOpts"])}`,
        );
        const net = byName(recorded, "mynet-centos2").inputs;
        assert.deepEqual(net["options"], { parent: "ens33", macvlan_mode: "bridge" });
        assert.deepEqual(net["ipamConfigs"], [
            { subnet: "198.51.100.0/24", gateway: "198.51.100.1", ipRange: "198.51.100.224/27", auxAddress: { "centos1-shim": "198.51.100.250", "centos2-shim": "198.51.100.251" } },
        ]);
        const c2 = byName(recorded, "mynet-centos2-test2").inputs;
        assert.equal(c2["restart"], "always");
        assert.deepEqual(c2["command"], ["sleep", "infinity"]);
        assert.deepEqual(c2["networksAdvanced"], [{ name: "mynet", ipv4Address: "198.51.100.11", macAddress: "02:42:c6:33:64:0b" }]);
        assert.deepEqual(Object.keys(state).sort(), ["hostOutputs", "mode", "networkName", "vlan"]);
        assert.equal(state["networkName"], "mynet");
        assert.equal(state["mode"], "bridge");
        const hosts = state["hostOutputs"] as Record<string, { id: string; parent: string; containers: Record<string, Record<string, unknown>> }>;
        assert.deepEqual(Object.keys(hosts), ["centos1", "centos2"]);
        assert.equal(hosts["centos1"]?.id, "mynet-centos1-id");
        assert.deepEqual(hosts["centos1"]?.containers["test1"], { host: "centos1", ip: "198.51.100.10", mac: "02:42:c6:33:64:0a", id: "mynet-centos1-test1-id" });
    });

    it("refuses a host with neither a provider nor a docker endpoint, and one with a docker endpoint without a pinned key, before registering anything", async () => {
        const props = JSON.parse(JSON.stringify(resources["mynet"]?.properties)) as { hosts: Record<string, unknown>[] };
        delete props.hosts[0]?.["docker"];
        delete (props.hosts[1]?.["docker"] as Record<string, unknown>)["hostKey"];
        await assert.rejects(construct("mynet", NETWORK, props), (e: unknown) => {
            assert.ok(e instanceof MacvlanConfigError);
            assert.deepEqual(e.problems, [
                "MacvlanNetwork mynet: hosts[0] (centos1) needs exactly one of provider (MacvlanHost.dockerProvider, in TypeScript) and docker (the engine's SSH endpoint)",
                "MacvlanNetwork mynet: hosts[1] (centos2) docker.hostKey is required: the remote commands, the drift probe and the Docker provider accept only the pinned host key (\"<type> <base64>\", e.g. the ed25519 key from `ssh-keyscan -t ed25519 -p 22 198.51.100.146`)",
            ]);
            return true;
        });
        assert.deepEqual(recorded, []);
    });

    it("refuses a token of another package name: the provider is macvlan, as the tokens the classes register", async () => {
        await assert.rejects(provider.construct("centos1", "pulumi-macvlan:index:MacvlanHost", resources["centos1"]?.properties, {}), /Invalid package name pulumi-macvlan, expected 'macvlan'/);
    });
});
