/**
 * The policy pack as the Pulumi CLI runs it: policy/ started by @pulumi/pulumi's
 * `cmd/run-policy-pack` (what the CLI's Node.js policy analyzer runs, with ts-node) in a child
 * process, which serves the pack's gRPC Analyzer; this spec is the CLI's side of it. It reads the
 * pack's info (policies, default enforcement levels, config schemas), configures enforcement levels
 * and policy config as `--policy-pack-config` does, and asks for `analyze` (one resource's inputs)
 * and `analyzeStack` (every resource), checking the diagnostics the CLI would print. Pure: loads
 * no mocks (the pack runs in its own process).
 */
import * as assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import * as analyzerPb from "@pulumi/pulumi/proto/analyzer_pb";
import type { AnalyzerClient as AnalyzerClientType } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import { DEFAULT_LEVELS, POLICY_NAMES } from "../../policy/policies";
import { policyNamed, UNKNOWN_STRING } from "../support/policy";

const REPO = path.resolve(__dirname, "../..");
const POLICY_DIR = path.join(REPO, "policy");
/** Module paths resolved from @pulumi/pulumi's own location, so that the client shares its grpc-js and google-protobuf. */
const PULUMI_DIR = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
const fromPulumi = (m: string) => require.resolve(m, { paths: [PULUMI_DIR] });

// eslint-disable-next-line @typescript-eslint/no-require-imports
const grpc = require(fromPulumi("@grpc/grpc-js")) as { credentials: { createInsecure(): unknown } };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { AnalyzerClient } = require(fromPulumi("@pulumi/pulumi/proto/analyzer_grpc_pb")) as { AnalyzerClient: new (address: string, credentials: unknown) => AnalyzerClientType };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Struct } = require(fromPulumi("google-protobuf/google/protobuf/struct_pb")) as { Struct: { fromJavaScript(v: Record<string, unknown>): never } };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Empty } = require(fromPulumi("google-protobuf/google/protobuf/empty_pb")) as { Empty: new () => never };

/** A diagnostic as the CLI prints it: policy, level, URN's name, message. */
interface Diagnostic {
    readonly policy: string;
    readonly level: string;
    readonly name: string;
    readonly message: string;
}

const LEVEL_NAMES: Record<number, string> = { 0: "advisory", 1: "mandatory", 2: "disabled", 3: "remediate" };
const LEVELS: Record<string, analyzerPb.EnforcementLevel> = { advisory: 0, mandatory: 1, disabled: 2, remediate: 3 };

function call<Req, Res>(fn: (req: Req, cb: (e: Error | null, r: Res) => void) => unknown, req: Req): Promise<Res> {
    return new Promise((resolve, reject) => fn(req, (e, r) => (e === null ? resolve(r) : reject(e))));
}

function diagnostics(resp: analyzerPb.AnalyzeResponse): Diagnostic[] {
    return resp.getDiagnosticsList().map((d) => ({ policy: d.getPolicyname(), level: LEVEL_NAMES[d.getEnforcementlevel()] ?? "?", name: d.getUrn().split("::").pop() ?? "", message: d.getMessage() }));
}

function options(): analyzerPb.AnalyzerResourceOptions {
    const o = new analyzerPb.AnalyzerResourceOptions();
    o.setCustomtimeouts(new analyzerPb.AnalyzerResourceOptions.CustomTimeouts());
    return o;
}

function provider(urn: string): analyzerPb.AnalyzerProviderResource {
    const p = new analyzerPb.AnalyzerProviderResource();
    p.setType("pulumi:providers:docker");
    p.setUrn(urn);
    p.setName(urn.split("::").pop() ?? "");
    p.setProperties(Struct.fromJavaScript({ host: `ssh://root@${urn.endsWith("centos1-docker") ? "198.51.100.145" : "198.51.100.146"}:22` }));
    return p;
}

const urn = (type: string, name: string) => `urn:pulumi:test::macvlan::${type}::${name}`;
const P1 = urn("macvlan:index:MacvlanHost$pulumi:providers:docker", "centos1-docker");
const P2 = urn("macvlan:index:MacvlanHost$pulumi:providers:docker", "centos2-docker");
const NET = "macvlan:index:MacvlanNetwork$docker:index/network:Network";
const CTR = "macvlan:index:MacvlanNetwork$docker:index/container:Container";

function resource(type: string, name: string, props: Record<string, unknown>, prov?: string): analyzerPb.AnalyzerResource {
    const r = new analyzerPb.AnalyzerResource();
    r.setType(type.split("$").pop() ?? type);
    r.setUrn(urn(type, name));
    r.setName(name);
    r.setProperties(Struct.fromJavaScript(props));
    r.setOptions(options());
    if (prov !== undefined) r.setProvider(provider(prov));
    return r;
}

const mynet = (parent: unknown) => ({ driver: "macvlan", name: "mynet", options: { parent, macvlan_mode: "bridge" }, ipamConfigs: [{ subnet: "198.51.100.0/24", gateway: "198.51.100.1" }] });
const ctr = (name: string, ip: string, mac: string, extra: Record<string, unknown> = {}) => ({ name, networkMode: "bridge", networksAdvanced: [{ name: "mynet", ipv4Address: ip, macAddress: mac }], ...extra });

describe("policy pack served by the policy runtime (as `pulumi preview --policy-pack policy` runs it)", function () {
    this.timeout(240_000);
    let child: ChildProcess | undefined;
    let client: AnalyzerClientType;
    let stderr = "";
    let startMs = 0;
    let runnerPath = "";

    before(async () => {
        // policy/node_modules's runner (and its ts-node) after `npm install` there, else the root's (CI).
        const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack/index.js", { paths: [POLICY_DIR] });
        runnerPath = path.relative(REPO, runner);
        const started = Date.now();
        const c = spawn(process.execPath, [runner, "127.0.0.1:1", "."], { cwd: POLICY_DIR, stdio: ["ignore", "pipe", "pipe"] });
        child = c;
        c.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
        const port = await new Promise<string>((resolve, reject) => {
            let out = "";
            c.stdout?.on("data", (d: Buffer) => {
                out += d.toString();
                const m = /^(\d+)\s*$/m.exec(out);
                if (m !== null) resolve(m[1] ?? "");
            });
            c.on("exit", (code) => reject(new Error(`the policy pack exited (${code}) before serving:\n${out}\n${stderr}`)));
        });
        startMs = Date.now() - started;
        client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    });

    after(() => {
        client?.close();
        child?.kill();
    });

    it("serves the pack: its name, version, policies and their default enforcement levels", async () => {
        const info = await call<never, analyzerPb.AnalyzerInfo>(client.getAnalyzerInfo.bind(client), new Empty());
        assert.equal(info.getName(), "pulumi-macvlan");
        assert.equal(info.getVersion(), "0.1.0");
        const levels = Object.fromEntries(info.getPoliciesList().map((p) => [p.getName(), LEVEL_NAMES[p.getEnforcementlevel()]]));
        assert.deepEqual(levels, DEFAULT_LEVELS);
        assert.ok(startMs > 0, `started in ${startMs} ms`);
        console.log(`      (${runnerPath} served the pack after ${startMs} ms${stderr === "" ? "" : `; stderr: ${stderr.trim()}`})`);
    });

    it("analyze: a resource's violations at its default level; an unknown value is an advisory 'can't run during preview'", async () => {
        const req = new analyzerPb.AnalyzeRequest();
        req.setType("docker:index/network:Network");
        req.setUrn(urn(NET, "mynet-centos1"));
        req.setName("mynet-centos1");
        req.setOptions(options());
        req.setProperties(Struct.fromJavaScript({ ...mynet("ens33"), ipamConfigs: [{ subnet: "198.51.100.0/24" }] }));
        assert.deepEqual(diagnostics(await call(client.analyze.bind(client), req)), [
            {
                policy: POLICY_NAMES.networkShape,
                level: "mandatory",
                // A resource's diagnostic carries no URN (the CLI knows the resource it asked about), and
                // the runtime puts the policy's description before the message.
                name: "",
                message: `${policyNamed(POLICY_NAMES.networkShape).description}\nipamConfigs[0].gateway is not set: give the LAN router's address (engines before 29 would take the subnet's first address)`,
            },
        ]);
        req.setProperties(Struct.fromJavaScript(mynet(UNKNOWN_STRING)));
        const unknown = diagnostics(await call(client.analyze.bind(client), req));
        assert.equal(unknown.length, 1);
        assert.equal(unknown[0]?.level, "advisory");
        assert.match(unknown[0]?.message ?? "", /^can't run policy 'macvlan-network-shape' from policy pack 'pulumi-macvlan@v0\.1\.0' during preview: string value at \.options\.parent can't be known during preview$/);
    });

    it("analyzeStack, then the same after configure (the pack config): levels and policy config take effect", async () => {
        const stack = new analyzerPb.AnalyzeStackRequest();
        stack.setResourcesList([
            resource(NET, "mynet-centos1", mynet("ens33"), P1),
            resource(NET, "mynet-centos2", mynet("ens33"), P2),
            resource(CTR, "mynet-centos1-test1", ctr("test1", "198.51.100.10", "02:42:c6:33:64:0a", { ports: [{ internal: 80 }] }), P1),
            resource(CTR, "mynet-centos2-test2", ctr("test2", "198.51.100.10", "02:42:c6:33:64:0b"), P2),
        ]);
        const before = diagnostics(await call(client.analyzeStack.bind(client), stack)).map((d) => `${d.policy} ${d.level} ${d.name}`);
        assert.deepEqual(before, [
            `${POLICY_NAMES.containerNoPorts} advisory mynet-centos1-test1`,
            `${POLICY_NAMES.uniqueOnSegment} mandatory mynet-centos1-test1`,
            `${POLICY_NAMES.uniqueOnSegment} mandatory mynet-centos2-test2`,
        ]);
        // What `--policy-pack-config` sends: ports mandatory, and segments by parent link (the two hosts apart).
        const configure = new analyzerPb.ConfigureAnalyzerRequest();
        const ports = new analyzerPb.PolicyConfig();
        ports.setEnforcementlevel(LEVELS["mandatory"]);
        ports.setProperties(Struct.fromJavaScript({}));
        const unique = new analyzerPb.PolicyConfig();
        unique.setEnforcementlevel(LEVELS["mandatory"]);
        unique.setProperties(Struct.fromJavaScript({ segments: "parent" }));
        configure.getPolicyconfigMap().set(POLICY_NAMES.containerNoPorts, ports).set(POLICY_NAMES.uniqueOnSegment, unique);
        await call(client.configure.bind(client), configure);
        const after = diagnostics(await call(client.analyzeStack.bind(client), stack)).map((d) => `${d.policy} ${d.level} ${d.name}`);
        assert.deepEqual(after, [`${POLICY_NAMES.containerNoPorts} mandatory mynet-centos1-test1`]);
    });
});
