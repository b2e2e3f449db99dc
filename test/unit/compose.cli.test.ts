/**
 * The two npm scripts as processes (`npm run import-compose`, `npm run export-compose`): exit
 * codes, the files they write, and that a refused import writes nothing. Pure: no mocks; each
 * script is a child process (tsx), about a second each.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const REPO = path.resolve(__dirname, "../..");
const FIXTURES = "test/fixtures/compose";

function npmRun(script: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync("npm", ["run", "--silent", script, "--", ...args], { cwd: REPO, encoding: "utf8", timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("compose in and out: the npm scripts", () => {
    let dir: string;
    before(() => {
        dir = mkdtempSync(path.join(os.tmpdir(), "mvl-compose-"));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it("import-compose <file> --host docker1 --stack compose --out <file>: exit 0, the expected fragment in the file", () => {
        const out = path.join(dir, "fragment.yaml");
        const r = npmRun("import-compose", [`${FIXTURES}/notes-external.yaml`, "--host", "docker1", "--stack", "compose", "--out", out]);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(readFileSync(out, "utf8"), readFileSync(path.join(REPO, FIXTURES, "notes-external.fragment.yaml"), "utf8"));
        assert.equal(r.stderr, `wrote ${out}\nchecked in stacks/Pulumi.compose.yaml: valid\n`);
    });

    it("import-compose without --out writes the fragment on stdout", () => {
        const r = npmRun("import-compose", [`${FIXTURES}/notes-macvlan.yaml`, "--host", "docker1"]);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, readFileSync(path.join(REPO, FIXTURES, "notes-macvlan.fragment.yaml"), "utf8"));
    });

    it("export-compose --stack compose --host docker1 --out <file>: exit 0, the expected compose file", () => {
        const out = path.join(dir, "docker-compose.yaml");
        const r = npmRun("export-compose", ["--stack", "compose", "--host", "docker1", "--out", out]);
        assert.equal(r.status, 0, r.stderr);
        // stacks/Pulumi.compose.yaml: the round trip's containers, and the mongodb root users the stack adds (their passwords secrets).
        assert.equal(readFileSync(out, "utf8"), readFileSync(path.join(REPO, FIXTURES, "stack-compose.docker1.compose.yaml"), "utf8"));
        assert.equal(r.stderr, `wrote ${out}\n`);
    });

    it("a refused import: exit 1, every problem on stderr, no file written", () => {
        const out = path.join(dir, "refused.yaml");
        const r = npmRun("import-compose", [`${FIXTURES}/notes-ports.yaml`, "--host", "docker1", "--out", out]);
        assert.equal(r.status, 1);
        assert.match(r.stderr, /^error: compose file test\/fixtures\/compose\/notes-ports\.yaml has 14 problems:\n/);
        assert.match(r.stderr, /^ {2}services\.nginx\.ports is not supported: macvlan ignores published ports/m);
        assert.match(r.stderr, /\nnothing was written\n$/);
        assert.equal(existsSync(out), false);
        assert.equal(r.stdout, "");
    });

    it("bad arguments: exit 2 with the usage (a --stack that would leave stacks/, a host name that is not one)", () => {
        const a = npmRun("export-compose", ["--stack", "../etc/passwd", "--host", "docker1"]);
        assert.equal(a.status, 2);
        assert.match(a.stderr, /^error: --stack "\.\.\/etc\/passwd" is not a stack name: A-Z, a-z, 0-9, _, \. and -\nusage: /);
        const b = npmRun("import-compose", [`${FIXTURES}/notes-macvlan.yaml`, "--host", "Docker 1"]);
        assert.equal(b.status, 2);
        assert.match(b.stderr, /^error: --host "Docker 1" is not a host name of the stack/);
    });
});
