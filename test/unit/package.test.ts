/**
 * The published package: what `package.json` exports is what `npm run build` compiles, and a
 * plain Node process (no mocks, no tsx) can load it and finds both components with their typings.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { runtimeFiles } from "../../scripts/build";
import { builtPackage } from "../support/builtPackage";

const REPO = path.resolve(__dirname, "../..");

interface PackageJson {
    main: string;
    types: string;
    exports: { ".": { types: string; default: string } };
    files: string[];
    scripts: { build: string };
}

describe("the package", function () {
    this.timeout(120_000);
    const pkg = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as PackageJson;
    // The build (`npm run build`) under the checkout's gitignored .scratch/, shared with the examples'
    // test (test/support/builtPackage.ts), so the package's own dependencies resolve from the
    // checkout's node_modules, as they would from a consumer's.
    let root: string;
    let consumer: string;

    before(() => {
        root = builtPackage();
        assert.equal(pkg.scripts.build, "tsx scripts/build.ts");
        consumer = mkdtempSync(path.join(path.dirname(root), "consumer-"));
        mkdirSync(path.join(consumer, "node_modules"), { recursive: true });
        // Its own package.json, or Node would take require("pulumi-macvlan") as the checkout's self-reference.
        writeFileSync(path.join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true }));
        symlinkSync(root, path.join(consumer, "node_modules", "pulumi-macvlan"));
    });
    after(() => rmSync(consumer, { recursive: true, force: true }));

    const built = (p: string): string => path.join(root, p);

    it("types and exports point at the compiled components, which `files` publishes (main is the component package's entry, provider/index.ts)", () => {
        // `exports` decides what require("pulumi-macvlan") and TypeScript load; `main` is what the
        // nodejs language host runs for PulumiPlugin.yaml (test/unit/componentPackage.test.ts).
        assert.equal(pkg.main, "provider/index.ts");
        assert.equal(pkg.exports["."].default, "./bin/components/index.js");
        assert.equal(pkg.exports["."].types, `./${pkg.types}`);
        for (const p of [pkg.exports["."].default, pkg.types]) assert.ok(existsSync(built(p)), `${p} is built`);
        assert.deepEqual(pkg.files, ["bin/components/**"]);
    });

    it("require(\"pulumi-macvlan\") in a plain Node process gives both components, the validator and the stack builder", () => {
        const script = `const m = require("pulumi-macvlan");
            console.log(JSON.stringify(["MacvlanHost", "MacvlanNetwork", "parseStackConfig", "buildStack", "MacvlanConfigError"].map((k) => [k, typeof m[k]])));`;
        const r = spawnSync(process.execPath, ["-e", script], { cwd: consumer, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(JSON.parse(r.stdout), [
            ["MacvlanHost", "function"],
            ["MacvlanNetwork", "function"],
            ["parseStackConfig", "function"],
            ["buildStack", "function"],
            ["MacvlanConfigError", "function"],
        ]);
    });

    it("ships the static files the components read at run time (the host scripts' shell), which tsc does not copy", () => {
        const files = runtimeFiles();
        assert.ok(files.includes("components/host/lib/core.sh") && files.includes("components/host/kinds/vlan.sh"), files.join(" "));
        for (const rel of files) assert.equal(readFileSync(built(`bin/${rel}`), "utf8"), readFileSync(path.join(REPO, rel), "utf8"), rel);
    });

    it("ships typings for the components and their Args", () => {
        const dts = readFileSync(built(pkg.types), "utf8");
        for (const name of ["MacvlanHost", "MacvlanHostArgs", "MacvlanNetwork", "MacvlanNetworkArgs"]) assert.match(dts, new RegExp(`\\b${name}\\b`), name);
        assert.match(readFileSync(built("bin/components/macvlanHost.d.ts"), "utf8"), /export declare class MacvlanHost extends pulumi\.ComponentResource/);
        assert.match(readFileSync(built("bin/components/macvlanNetwork.d.ts"), "utf8"), /export declare class MacvlanNetwork extends pulumi\.ComponentResource/);
    });

    it("the README's example program type-checks (strict) against the built package", () => {
        const readme = readFileSync(path.join(REPO, "README.md"), "utf8");
        const section = readme.slice(readme.indexOf("## Using the components in your own program"));
        const example = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
        assert.ok(example !== undefined && example.includes('from "pulumi-macvlan"'), "the README has the example");
        writeFileSync(path.join(consumer, "index.ts"), example);
        writeFileSync(
            path.join(consumer, "tsconfig.json"),
            JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: "commonjs", moduleResolution: "node", target: "ES2022", types: [], skipLibCheck: true }, files: ["index.ts"] }),
        );
        const tsc = spawnSync(process.execPath, [path.join(REPO, "node_modules/typescript/bin/tsc"), "-p", consumer], { cwd: consumer, encoding: "utf8" });
        assert.equal(tsc.status, 0, `the example does not compile:\n${tsc.stdout}${tsc.stderr}`);
    });

    it("publishes no test code: the compiled components require nothing outside components/", () => {
        const root = built("bin/components");
        const lines = spawnSync("grep", ["-rHoE", `require\\("\\.\\.?/[^"]*"\\)`, root], { encoding: "utf8" }).stdout;
        const requires = lines.split("\n").filter((l) => l !== "");
        assert.ok(requires.length > 0, "the components require each other");
        for (const line of requires) {
            const [file, call] = [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1)];
            const target = path.resolve(path.dirname(file), (/"([^"]*)"/.exec(call) as RegExpExecArray)[1]);
            assert.ok(target.startsWith(root + path.sep), `${path.relative(root, file)}: ${call} stays inside components/`);
        }
    });
});
