/**
 * Where the Pulumi mocks load: only in specs that register resources, first, and once per process.
 * A spec that imports test/support/mocks.ts must do so before any code under test; every other unit
 * spec is pure and must load the mocks neither directly nor through what it imports: mocha loads
 * them all (`--dry-run`: every spec file and its imports, no test run) in a child process with
 * MVL_FORBID_MOCKS=1, under which importing the mocks throws. This spec is itself pure.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";

const REPO = path.resolve(__dirname, "../..");
const UNIT = path.join(REPO, "test/unit");
const MOCHA = path.join(REPO, "node_modules/mocha/bin/mocha.js");

/** A spec's imports in source order: the specifier, and whether the import is erased (`import type`). */
function importsOf(source: string): Array<{ readonly from: string; readonly typeOnly: boolean }> {
    const out: Array<{ from: string; typeOnly: boolean }> = [];
    for (const m of source.matchAll(/^import\s+(type\s+)?(?:[^;"]*?\s+from\s+)?"([^"]+)";/gm)) {
        out.push({ from: m[2] ?? "", typeOnly: m[1] !== undefined });
    }
    return out;
}

const isMocks = (from: string): boolean => /^(\.\.?\/)+support\/mocks$/.test(from);
/** Modules whose loading registers resources or whose use needs the mocks (the mocks themselves, the program runner, the engine stand-in, resource code). */
const NEEDS_MOCKS = /^((\.\.?\/)+support\/(mocks|program|engine\/.*)|(\.\.\/)+(index|components\/(index|macvlanHost|macvlanNetwork|stack\/build|stack\/program))|@pulumi\/(docker|command))$/;

const specs = readdirSync(UNIT)
    .filter((f) => f.endsWith(".test.ts"))
    .sort()
    .map((f) => {
        const source = readFileSync(path.join(UNIT, f), "utf8");
        return { file: f, source, imports: importsOf(source) };
    });
const withMocks = specs.filter((s) => s.imports.some((i) => isMocks(i.from)));
const pure = specs.filter((s) => !withMocks.includes(s));

/** `mocha --dry-run` (the repo's .mocharc.json, so tsx/cjs and nothing else is required) in a child with MVL_FORBID_MOCKS=1. */
function dryRun(files: readonly string[]): { status: number | null; out: string } {
    const r = spawnSync(process.execPath, [MOCHA, "--dry-run", ...files.map((f) => path.join("test/unit", f))], {
        cwd: REPO,
        encoding: "utf8",
        env: { ...process.env, MVL_FORBID_MOCKS: "1" },
        timeout: 120_000,
    });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("where the Pulumi mocks load", function () {
    this.timeout(180_000);

    it("the specs that register resources import test/support/mocks before any code under test", () => {
        assert.ok(withMocks.length > 0 && pure.length > 0, "both kinds of spec exist");
        for (const s of withMocks) {
            const at = s.imports.findIndex((i) => isMocks(i.from));
            const before = s.imports.slice(0, at).filter((i) => !i.typeOnly && (i.from.startsWith(".") || i.from.startsWith("@pulumi/")));
            assert.deepEqual(before.map((i) => i.from), [], `${s.file}: imported before the mocks`);
        }
    });

    it("the pure specs import nothing that needs the mocks, not even lazily", () => {
        for (const s of pure) {
            const needs = s.imports.filter((i) => !i.typeOnly && NEEDS_MOCKS.test(i.from)).map((i) => i.from);
            assert.deepEqual(needs, [], `${s.file} imports what needs the mocks, but not the mocks first (import ../support/mocks first, or keep the spec pure)`);
            assert.doesNotMatch(s.source, /["'](\.\.?\/)+support\/(mocks|program)["']/, `${s.file} names the mocks`);
        }
    });

    it("the pure specs, with everything they import, load with the mocks forbidden", () => {
        const r = dryRun(pure.map((s) => s.file));
        assert.equal(r.status, 0, `pure specs (${pure.map((s) => s.file).join(", ")}) under MVL_FORBID_MOCKS=1:\n${r.out}`);
        assert.match(r.out, /[1-9][0-9]* passed, 0 failed/, r.out);
    });

    it("test/support/mocks.ts throws when forbidden (so the check above is not vacuous), and when it would set the mocks twice", () => {
        const script = `
            const file = require.resolve("./test/support/mocks.ts");
            const load = () => { try { require(file); return "loaded"; } catch (e) { return String(e.message); } };
            process.env.MVL_FORBID_MOCKS = "1";
            console.log("forbidden: " + load());
            delete process.env.MVL_FORBID_MOCKS;
            console.log("first: " + load());
            delete require.cache[file];
            console.log("second instance: " + load());`;
        const r = spawnSync(process.execPath, ["--require", "tsx/cjs", "-e", script], { cwd: REPO, encoding: "utf8", timeout: 60_000 });
        assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
        const lines = r.stdout.trim().split("\n");
        assert.match(lines[0] ?? "", /^forbidden: .*mocks loaded by a pure spec/, r.stdout);
        assert.equal(lines[1], "first: loaded", r.stdout);
        assert.match(lines[2] ?? "", /^second instance: .*setMocks would run twice in one process/, r.stdout);
    });
});
