/**
 * The component package as the engine runs it, without the CLI: the SDK's plugin runner
 * (`@pulumi/pulumi/cmd/run-plugin`, what the nodejs language host starts for PulumiPlugin.yaml)
 * on this repository loads package.json's `main` (provider/index.ts, through ts-node), which
 * serves the provider over gRPC; GetSchema over that connection returns the committed schema.
 * Pure: a child process and a gRPC client, no mocks.
 */
import * as assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";

const REPO = path.resolve(__dirname, "../..");
const RUN_PLUGIN = path.join(REPO, "node_modules/@pulumi/pulumi/cmd/run-plugin/index.js");

/** The generated gRPC client and messages of the provider protocol, as far as used here. */
interface ProviderClient {
    getSchema(req: unknown, cb: (err: grpc.ServiceError | null, resp: { getSchema(): string }) => void): void;
    close(): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const provrpc = require("@pulumi/pulumi/proto/provider_grpc_pb") as { ResourceProviderClient: new (address: string, creds: grpc.ChannelCredentials) => ProviderClient };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const provproto = require("@pulumi/pulumi/proto/provider_pb") as { GetSchemaRequest: new () => { setVersion(v: number): void } };

describe("the component package's plugin process", function () {
    this.timeout(180_000);
    let child: ChildProcess;
    let port: string;
    let stderr = "";

    before(async () => {
        child = spawn(process.execPath, [RUN_PLUGIN, REPO], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
        child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
        port = await new Promise<string>((resolve, reject) => {
            let out = "";
            child.stdout?.on("data", (d: Buffer) => {
                out += d.toString();
                const m = /^(\d+)\n/.exec(out);
                if (m !== null) resolve(m[1]);
            });
            child.on("exit", (code) => reject(new Error(`the plugin exited (${String(code)}) before printing its port:\n${out}${stderr}`)));
        });
    });
    after(() => {
        child.kill();
    });

    it("prints its port, and GetSchema over gRPC gives the package schema (test/unit/__snapshots__/package/schema.json)", async () => {
        assert.match(port, /^[1-9]\d*$/);
        const client = new provrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
        const req = new provproto.GetSchemaRequest();
        req.setVersion(0);
        const text = await new Promise<string>((resolve, reject) => client.getSchema(req, (err, resp) => (err ? reject(err) : resolve(resp.getSchema()))));
        client.close();
        const schema = JSON.parse(text) as { name: string; resources: Record<string, unknown> };
        assert.equal(schema.name, "macvlan");
        assert.deepEqual(Object.keys(schema.resources), ["macvlan:index:MacvlanHost", "macvlan:index:MacvlanNetwork"]);
        assert.deepEqual(schema, JSON.parse(readFileSync(path.join(__dirname, "__snapshots__", "package", "schema.json"), "utf8")));
        assert.equal(stderr, "", "the plugin wrote nothing to stderr");
    });
});
