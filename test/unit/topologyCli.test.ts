/**
 * `npm run topology` as a user runs it, as a process: it prints the compose stack's diagram (the
 * renderer's text for the model the program validates), writes it with `--out`, prints a config
 * the program refuses as the program does (exit 1, nothing on stdout), reads `secure:` values
 * without the Pulumi CLI, refuses a key encrypted whole, and a bad command line (exit 2). Pure:
 * loads no mocks.
 */
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseStackConfig } from "../../components/config/parse";
import { renderTopology } from "../../components/plan/topology";
import { stackConfig, withKey } from "../support/stacks";

const REPO = path.resolve(__dirname, "../..");

interface Run {
    readonly status: number | null;
    readonly stdout: string;
    readonly stderr: string;
}

/** `npm run -s topology -- <args>` in the repository (npm's own header off: stdout is the diagram alone). */
function npmTopology(args: readonly string[]): Promise<Run> {
    return new Promise((resolve, reject) => {
        const child = spawn("npm", ["run", "-s", "topology", "--", ...args], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("close", (status) => resolve({ status, stdout, stderr }));
    });
}

const COMPOSE = readFileSync(path.join(REPO, "stacks", "Pulumi.compose.yaml"), "utf8");

describe("npm run topology (scripts/topology.ts, as a process)", function () {
    this.timeout(120_000);
    let dir: string;
    let runs: Record<string, Run>;
    const out = () => path.join(dir, "out", "compose.mmd");

    before(async () => {
        dir = mkdtempSync(path.join(os.tmpdir(), "topology-cli-"));
        writeFileSync(path.join(dir, "Pulumi.bad.yaml"), COMPOSE.replace("ip: 198.51.100.12", "ip: 10.9.9.9"));
        // The three database passwords set as `pulumi config set --secret --path` leaves them.
        let i = 0;
        writeFileSync(
            path.join(dir, "Pulumi.secrets.yaml"),
            COMPOSE.replace(/env: \{ (TZ: Asia\/Shanghai|MONGO_INITDB_ROOT_USERNAME: admin) \}\n(\s+)secretEnv: \[(\w+)\]/g, (_m, env: string, ind: string, name: string) => `env: { ${env}, ${name}: { secure: "v1:AAAA${i++}" } }\n${ind}secretEnv: [${name}]`),
        );
        writeFileSync(path.join(dir, "Pulumi.sealed.yaml"), COMPOSE.replace(/ {2}macvlan:networks:\n[\s\S]*$/, '  macvlan:networks:\n    secure: "v1:AAAA"\n'));
        writeFileSync(path.join(dir, "Pulumi.probe.yaml"), COMPOSE.replace("config:\n", "config:\n  macvlan:probe: maybe\n"));
        mkdirSync(path.join(dir, "out"));
        const cases: Record<string, string[]> = {
            compose: ["--stack", "compose"],
            out: ["--stack", "compose", "--out", out()],
            bad: ["--stack", "bad", "--stacks-dir", dir],
            secrets: ["--stack", "secrets", "--stacks-dir", dir],
            sealed: ["--stack", "sealed", "--stacks-dir", dir],
            probe: ["--stack", "probe", "--stacks-dir", dir],
            missing: ["--stack", "nosuch", "--stacks-dir", dir],
            usage: ["--stak", "compose"],
            badName: ["--stack", "../compose"],
        };
        const done = await Promise.all(Object.entries(cases).map(async ([k, args]) => [k, await npmTopology(args)] as const));
        runs = Object.fromEntries(done);
    });

    after(() => rmSync(dir, { recursive: true, force: true }));

    it("prints the compose stack's diagram: the renderer's text for the model the program validates, naming every container", () => {
        const c = withKey(stackConfig("compose"));
        const model = parseStackConfig({ hosts: c["macvlan:hosts"], networks: c["macvlan:networks"], networksSecret: true }, {}, { deferred: true });
        const r = runs["compose"];
        assert.equal(r?.status, 0, r?.stderr);
        assert.equal(r.stdout, renderTopology(model));
        for (const name of ["nginx", "mysql", "kodexplorer", "kodexplorer_bak", "mongodb", "mongodb_bak"]) assert.ok(r.stdout.includes(`("${name}<br/>`), name);
        assert.equal(r.stderr, "");
    });

    it("--out writes the same text to the file and prints nothing on stdout", () => {
        const r = runs["out"];
        assert.equal(r?.status, 0, r?.stderr);
        assert.equal(r.stdout, "");
        assert.equal(readFileSync(out(), "utf8"), runs["compose"]?.stdout);
        assert.equal(r.stderr.trim(), `wrote ${out()}`);
    });

    it("prints a config the program refuses as the program does: every problem with its path, exit 1, nothing on stdout", () => {
        const r = runs["bad"];
        assert.equal(r?.status, 1);
        assert.equal(r.stdout, "");
        assert.equal(r.stderr, "macvlan stack config has 1 problem:\n  networks[0].containers[0].ip 10.9.9.9 does not belong to subnet 198.51.100.0/24\n");
    });

    it("reads a stack whose secretEnv values are set as secure: values, without decrypting them", () => {
        const r = runs["secrets"];
        assert.equal(r?.status, 0, r?.stderr);
        assert.equal(r.stdout, runs["compose"]?.stdout);
        assert.equal((readFileSync(path.join(dir, "Pulumi.secrets.yaml"), "utf8").match(/secure: "v1:AAAA\d"/g) ?? []).length, 3);
    });

    it("refuses a key encrypted as a whole, a malformed macvlan:probe, and a stack with no file, each naming it (exit 1)", () => {
        assert.equal(runs["sealed"]?.status, 1);
        assert.match(runs["sealed"].stderr, /^macvlan stack config has 1 problem:\n {2}networks is encrypted as a whole in \S*Pulumi\.sealed\.yaml: only the Pulumi CLI can read it/);
        assert.equal(runs["probe"]?.status, 1);
        assert.equal(runs["probe"].stderr, 'macvlan stack config has 1 problem:\n  probe "maybe" must be true or false\n');
        assert.equal(runs["missing"]?.status, 1);
        assert.match(runs["missing"].stderr, /stack nosuch has no stack file \S*Pulumi\.nosuch\.yaml/);
        for (const k of ["sealed", "probe", "missing"]) assert.equal(runs[k]?.stdout, "", k);
    });

    it("refuses a bad command line with the usage (exit 2): an unknown option, a stack name that is a path", () => {
        assert.equal(runs["usage"]?.status, 2);
        assert.equal(runs["usage"].stderr, 'unknown argument "--stak"\nusage: npm run topology -- --stack <env> [--out <file>] [--stacks-dir <dir>]\n');
        assert.equal(runs["badName"]?.status, 2);
        assert.match(runs["badName"].stderr, /^--stack "\.\.\/compose" must match/);
    });
});
