/**
 * The component package (issue 12): the SDK's analyzer run on this repository gives the schema of
 * MacvlanHost and MacvlanNetwork under the tokens the classes have always registered; every
 * argument and output with its description (the JSDoc), enum, required/optional and plain/input
 * mark; the plugin's wiring (PulumiPlugin.yaml, package.json `main`); and examples/yaml/Pulumi.yaml
 * against that schema. The schema is also committed in full (test/unit/__snapshots__/package/
 * schema.json; UPDATE_SNAPSHOTS=1 rewrites it) so that any change to it shows in review.
 * Pure: the analyzer reads the TypeScript; nothing is registered (construct: componentConstruct.test.ts).
 */
import * as assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { MACVLAN_MODES, RESTART_POLICIES } from "../../components/config/model";
import { MacvlanComponentProvider, PACKAGE_NAME, TYPESCRIPT_ONLY, withoutTypeScriptOnly, type PackageSchema, type SchemaObject } from "../../provider/package";
import { objectProblems } from "../support/schemaCheck";

const REPO = path.resolve(__dirname, "../..");
const SNAPSHOT = path.join(__dirname, "__snapshots__", "package", "schema.json");
const HOST = "macvlan:index:MacvlanHost";
const NETWORK = "macvlan:index:MacvlanNetwork";

/** `<owner>.<property>` of every property in the schema (resources' inputs as `Resource(in)`, outputs as `Resource(out)`), with its spec. */
function allProperties(schema: PackageSchema): Array<[string, Record<string, unknown>]> {
    const short = (token: string) => token.split(":")[2];
    const out: Array<[string, Record<string, unknown>]> = [];
    for (const [token, r] of Object.entries(schema.resources)) {
        for (const [p, s] of Object.entries(r.inputProperties ?? {})) out.push([`${short(token)}(in).${p}`, s]);
        for (const [p, s] of Object.entries(r.properties ?? {})) out.push([`${short(token)}(out).${p}`, s]);
    }
    for (const [token, t] of Object.entries(schema.types)) for (const [p, s] of Object.entries(t.properties ?? {})) out.push([`${short(token)}.${p}`, s]);
    return out;
}

function type(schema: PackageSchema, name: string): SchemaObject {
    const t = schema.types[`${PACKAGE_NAME}:index:${name}`];
    assert.ok(t !== undefined, `the schema has type ${name}`);
    return t;
}

describe("the component package", function () {
    this.timeout(120_000);
    let schema: PackageSchema;

    before(async () => {
        schema = JSON.parse(await new MacvlanComponentProvider().getSchema()) as PackageSchema;
    });

    it("is named macvlan, so its tokens are the ones existing stacks hold, and serves exactly MacvlanHost and MacvlanNetwork", () => {
        assert.equal(schema.name, "macvlan");
        assert.deepEqual(Object.keys(schema.resources).sort(), [HOST, NETWORK]);
        for (const r of Object.values(schema.resources)) assert.equal(r["isComponent"], true);
        const pkg = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as { version: string };
        assert.equal(schema.version, pkg.version);
    });

    it("MacvlanHost: every argument, which are required, which are Inputs; every output", () => {
        const r = schema.resources[HOST];
        assert.deepEqual(Object.keys(r.inputProperties ?? {}), ["connection", "parent", "promisc", "ipForward", "vlans", "shim", "needsDocker", "probe"]);
        assert.deepEqual(r.requiredInputs, ["connection", "parent"]);
        assert.deepEqual(Object.keys(r.properties ?? {}), ["address", "parent", "vlans", "shim", "commandIds"]);
        assert.deepEqual(r.required, ["address", "commandIds", "parent", "vlans"]);
        assert.deepEqual(r.inputProperties?.["vlans"], {
            type: "array",
            items: { type: "number", plain: true },
            optional: true,
            plain: true,
            description: "802.1Q VLAN ids 1–4094; each gets a sub-interface `<parent>.<id>`. Default none. Order and duplicates do not matter.",
        });
        assert.deepEqual(r.inputProperties?.["probe"]?.["additionalProperties"], { type: "string" });
        assert.equal(r.inputProperties?.["probe"]?.["plain"], undefined, "probe is an Input");
        assert.deepEqual(r.properties?.["commandIds"]?.["additionalProperties"], { type: "string" });
        assert.deepEqual(Object.keys(type(schema, "MacvlanHostConnection").properties ?? {}), ["address", "port", "user", "hostKey", "privateKey", "identityFile"]);
        assert.deepEqual(type(schema, "MacvlanHostConnection").required, ["address", "hostKey", "privateKey"]);
        assert.deepEqual(type(schema, "MacvlanHostShim").required, ["address", "routes"]);
        assert.match(String(r["description"]), /^One Linux host prepared for macvlan networks\./);
    });

    it("MacvlanNetwork: every argument and output; hosts give their engine as docker (the provider and dependsOn are TypeScript only)", () => {
        const r = schema.resources[NETWORK];
        assert.deepEqual(Object.keys(r.inputProperties ?? {}), ["networkName", "mode", "ipam", "auxAddresses", "vlan", "hosts", "containers"]);
        assert.deepEqual(r.requiredInputs, ["hosts", "ipam"]);
        assert.deepEqual(r.inputProperties?.["mode"], { $ref: "#/types/macvlan:index:MacvlanMode", optional: true, plain: true, description: "macvlan mode (Docker's `macvlan_mode`, always sent explicitly). Default `bridge` (`DEFAULT_MODE`)." });
        assert.deepEqual(r.inputProperties?.["hosts"]?.["items"], { $ref: "#/types/macvlan:index:MacvlanNetworkHost", plain: true });
        assert.deepEqual(Object.keys(r.properties ?? {}), ["networkName", "mode", "vlan", "hostOutputs"]);
        assert.deepEqual(r.required, ["hostOutputs", "mode", "networkName"]);
        const host = type(schema, "MacvlanNetworkHost");
        assert.deepEqual(Object.keys(host.properties ?? {}), ["name", "parent", "docker", "ipRange"]);
        assert.deepEqual(host.required, ["name", "parent"]);
        for (const p of TYPESCRIPT_ONLY["MacvlanNetworkHost"] ?? []) assert.ok(!(p in (host.properties ?? {})), p);
        assert.deepEqual(type(schema, "MacvlanDockerEndpoint").required, ["address", "hostKey"]);
        assert.deepEqual(Object.keys(type(schema, "MacvlanNetworkContainer").properties ?? {}), ["name", "host", "image", "ipv4Address", "ipv6Address", "mac", "joins", "command", "env", "restart"]);
        assert.deepEqual(type(schema, "MacvlanNetworkContainer").required, ["host", "image", "ipv4Address", "mac", "name"]);
        assert.deepEqual(Object.keys(type(schema, "MacvlanContainerOutputs").properties ?? {}), ["host", "ip", "ip6", "mac", "joins", "id"]);
    });

    it("enums: the macvlan modes and restart policies, with names, values and descriptions", () => {
        const mode = type(schema, "MacvlanMode");
        assert.equal(mode["type"], "string");
        const members = mode["enum"] as { name: string; value: string; description?: string }[];
        assert.deepEqual(members.map((e) => [e.name, e.value]), [["Bridge", "bridge"], ["Vepa", "vepa"], ["Private", "private"], ["Passthru", "passthru"]]);
        assert.deepEqual(members.map((e) => e.value), [...MACVLAN_MODES]);
        assert.ok(members.every((e) => (e.description ?? "").length > 0), "every mode has a description");
        const restart = (type(schema, "RestartPolicy")["enum"] as { name: string; value: string }[]).map((e) => [e.name, e.value]);
        assert.deepEqual(restart, [["No", "no"], ["OnFailure", "on-failure"], ["Always", "always"], ["UnlessStopped", "unless-stopped"]]);
        assert.deepEqual(restart.map(([, v]) => v), [...RESTART_POLICIES]);
    });

    it("every property has its JSDoc as description", () => {
        const bare = allProperties(schema).filter(([, s]) => typeof s["description"] !== "string" || (s["description"]).trim() === "").map(([p]) => p);
        assert.deepEqual(bare, []);
        assert.ok(allProperties(schema).length > 60, `${allProperties(schema).length} properties`);
    });

    it("every argument is plain but the values only passed through (Inputs): key, probe tokens, image, env, a join's network", () => {
        const inputs = allProperties(schema)
            .filter(([p]) => !p.includes("(out)") && !/Outputs\.|ShimInfo\./.test(p))
            .filter(([, s]) => s["plain"] !== true)
            .map(([p]) => p);
        assert.deepEqual(inputs.sort(), ["MacvlanHost(in).probe", "MacvlanHostConnection.privateKey", "MacvlanNetworkContainer.env", "MacvlanNetworkContainer.image", "MacvlanNetworkJoin.network"]);
        const plainOutputs = allProperties(schema).filter(([p, s]) => p.includes("(out)") && s["plain"] === true);
        assert.deepEqual(plainOutputs, [], "outputs are never plain");
    });

    it("refers only to its own types, each defined, and depends on no other package", () => {
        const refs = JSON.stringify(schema).match(/"\$ref":"[^"]*"/g) ?? [];
        assert.ok(refs.length > 0);
        for (const r of refs) {
            const to = r.slice('"$ref":"'.length, -1);
            assert.ok(to.startsWith("#/types/macvlan:index:"), `${to} is a type of the package`);
            assert.ok(schema.types[to.slice("#/types/".length)] !== undefined, `${to} is defined`);
        }
        assert.deepEqual(schema["dependencies"], []);
        assert.ok(!("macvlan:index:Resource" in schema.types), "no type made of pulumi.Resource");
    });

    it("withoutTypeScriptOnly refuses a TypeScript-only property the schema does not have (a renamed field)", () => {
        assert.throws(() => withoutTypeScriptOnly(schema, { MacvlanNetworkHost: ["providers"] }), /TYPESCRIPT_ONLY names MacvlanNetworkHost\.providers, which the schema does not have/);
    });

    const update = process.env["UPDATE_SNAPSHOTS"] === "1";
    it(`equals test/unit/__snapshots__/package/schema.json${update ? " (UPDATE_SNAPSHOTS=1: rewriting it)" : ""}`, () => {
        const text = `${JSON.stringify(schema, null, 2)}\n`;
        if (update) {
            mkdirSync(path.dirname(SNAPSHOT), { recursive: true });
            writeFileSync(SNAPSHOT, text);
        }
        assert.equal(text, readFileSync(SNAPSHOT, "utf8"));
    });

    describe("the plugin's wiring", () => {
        it("PulumiPlugin.yaml runs the repository with the nodejs runtime, whose main is provider/index.ts; the npm exports stay the compiled components", () => {
            const plugin = yaml.load(readFileSync(path.join(REPO, "PulumiPlugin.yaml"), "utf8")) as { runtime: unknown };
            assert.deepEqual(plugin, { runtime: "nodejs" });
            const pkg = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as { main: string; exports: { ".": { default: string } } };
            assert.equal(pkg.main, "provider/index.ts");
            assert.ok(existsSync(path.join(REPO, pkg.main)));
            assert.equal(pkg.exports["."].default, "./bin/components/index.js");
        });

        it("provider/index.ts exports nothing (exported components would start a second provider named pulumi-macvlan)", () => {
            const source = readFileSync(path.join(REPO, "provider/index.ts"), "utf8");
            assert.doesNotMatch(source, /^\s*export\b/m);
            assert.match(source, /servePackage\(process\.argv\.slice\(2\)\)/);
        });
    });

    describe("examples/yaml/Pulumi.yaml", () => {
        interface YamlProgram {
            runtime: string;
            packages: Record<string, string>;
            config: Record<string, unknown>;
            resources: Record<string, { type: string; properties: unknown; options?: { dependsOn?: string[] } }>;
            outputs: Record<string, string>;
        }
        const file = path.join(REPO, "examples/yaml/Pulumi.yaml");
        const program = yaml.load(readFileSync(file, "utf8")) as YamlProgram;

        it("is a YAML program whose macvlan package is this repository", () => {
            assert.equal(program.runtime, "yaml");
            assert.equal(path.resolve(path.dirname(file), program.packages["macvlan"]), REPO);
            const types = Object.values(program.resources).map((r) => r.type);
            assert.ok(types.includes(HOST) && types.includes(NETWORK), types.join(" "));
        });

        it("every resource's properties match the schema: names, required ones, types, enums, and no output in a plain property", () => {
            const configKeys = new Set(Object.keys(program.config));
            const problems = Object.entries(program.resources).flatMap(([name, r]) => {
                const res = schema.resources[r.type];
                if (res === undefined) return [`resources.${name}.type ${r.type} is not in the package`];
                return objectProblems(schema, res.inputProperties ?? {}, res.requiredInputs ?? [], r.properties, `resources.${name}.properties`, configKeys);
            });
            assert.deepEqual(problems, []);
        });

        it("dependsOn and outputs name its resources and their outputs in the schema", () => {
            const problems: string[] = [];
            for (const [name, r] of Object.entries(program.resources)) {
                for (const d of r.options?.dependsOn ?? []) if (!/^\$\{[^.}]+\}$/.test(d) || !(d.slice(2, -1) in program.resources)) problems.push(`resources.${name}.options.dependsOn ${d} names no resource`);
            }
            for (const [k, v] of Object.entries(program.outputs)) {
                const m = /^\$\{([^.}]+)\.([^.}]+)\}$/.exec(v);
                const res = m === null ? undefined : program.resources[m[1]];
                const props = res === undefined ? undefined : schema.resources[res.type]?.properties;
                if (m === null || props?.[m[2]] === undefined) problems.push(`outputs.${k} ${v} is no output of a resource`);
            }
            assert.deepEqual(problems, []);
        });

        it("the check finds what is wrong: an unknown property, a missing required one, a wrong type, a bad enum value, an output in a plain property", () => {
            const res = schema.resources[NETWORK];
            const bad = { mode: "Bridge", ipam: [{ subnet: 24 }], hosts: [{ name: "a", parent: "${centos1.parent}", dockr: {} }] };
            assert.deepEqual(objectProblems(schema, res.inputProperties ?? {}, res.requiredInputs ?? [], bad, "p", new Set()), [
                'p.mode "Bridge" is not one of "bridge", "vepa", "private", "passthru"',
                "p.ipam[0].subnet 24 is not a string",
                "p.hosts[0].parent ${centos1.parent} is an output, but the property is plain (needs a known value)",
                "p.hosts[0].dockr is not a property (name, parent, docker, ipRange)",
            ]);
            assert.deepEqual(objectProblems(schema, res.inputProperties ?? {}, res.requiredInputs ?? [], {}, "p", new Set()), ["p.hosts is required", "p.ipam is required"]);
        });
    });
});
