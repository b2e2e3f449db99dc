/**
 * The package as `npm run build` makes it, and consumer folders that resolve `pulumi-macvlan` to it
 * (the approach of test/unit/package.test.ts); pure: loads no mocks and no code under test.
 *
 * Everything lives under the checkout's gitignored `.scratch/`, so that what the built package and
 * a consumer require besides `pulumi-macvlan` (@pulumi/pulumi, @pulumi/docker, …) resolves from the
 * checkout's node_modules, one instance for the tests (their mocks) and the code under test:
 *
 *     .scratch/built-XXXXXX/pulumi-macvlan/{package.json,bin/}     the build (package.json's exports)
 *     .scratch/built-XXXXXX/<example>/                             a copy of examples/<example>,
 *     .scratch/built-XXXXXX/<example>/node_modules/pulumi-macvlan  -> ../../pulumi-macvlan (what `npm install` links)
 *
 * The build runs once per process (the first call) and its folder goes when the process exits.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import * as path from "node:path";

const REPO = path.resolve(__dirname, "../..");

let scratch: string | undefined;

/** The folder of the build and its consumers, made (and the package built) on first use. */
function scratchDir(): string {
    if (scratch !== undefined) return scratch;
    mkdirSync(path.join(REPO, ".scratch"), { recursive: true });
    const dir = mkdtempSync(path.join(REPO, ".scratch", "built-"));
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    const root = path.join(dir, "pulumi-macvlan");
    mkdirSync(root);
    copyFileSync(path.join(REPO, "package.json"), path.join(root, "package.json"));
    // `npm run build` (tsx scripts/build.ts), with the output in the copy so the checkout's bin/ is left alone.
    const build = spawnSync(process.execPath, [path.join(REPO, "node_modules/tsx/dist/cli.mjs"), "scripts/build.ts", "--outDir", path.join(root, "bin")], {
        cwd: REPO,
        encoding: "utf8",
    });
    if (build.status !== 0) throw new Error(`test/support/builtPackage: the build failed:\n${build.stdout}${build.stderr}`);
    scratch = dir;
    return dir;
}

/** The built package's root (its package.json and bin/), built on first use. */
export function builtPackage(): string {
    return path.join(scratchDir(), "pulumi-macvlan");
}

/**
 * A copy of `examples/<example>` (its files; not its node_modules or bin/, if a user installed or
 * built it) whose `node_modules/pulumi-macvlan` links the built package, as `npm install` links
 * `"pulumi-macvlan": "file:../.."`. Returns the copy's folder.
 */
export function exampleConsumer(example: string): string {
    const from = path.join(REPO, "examples", example);
    const to = path.join(scratchDir(), example);
    rmSync(to, { recursive: true, force: true });
    mkdirSync(path.join(to, "node_modules"), { recursive: true });
    for (const e of readdirSync(from, { withFileTypes: true })) {
        if (e.isFile()) copyFileSync(path.join(from, e.name), path.join(to, e.name));
    }
    symlinkSync(path.relative(path.join(to, "node_modules"), builtPackage()), path.join(to, "node_modules", "pulumi-macvlan"));
    return to;
}

/** `tsc --noEmit -p <dir>` with the checkout's TypeScript: exit status, output, and the files the program took in (`--listFiles`, real paths). */
export function typeCheck(dir: string): { status: number | null; output: string; files: string[] } {
    const r = spawnSync(process.execPath, [path.join(REPO, "node_modules/typescript/bin/tsc"), "--noEmit", "--listFiles", "-p", dir], { cwd: dir, encoding: "utf8" });
    const lines = r.stdout.split("\n").filter((l) => l !== "");
    const files = lines.filter((l) => path.isAbsolute(l) && /\.tsx?$/.test(l));
    return { status: r.status, output: `${lines.filter((l) => !files.includes(l)).join("\n")}${r.stderr}`, files };
}

/**
 * `eslint` on `<dir>/index.ts` with the checkout's config (its rules, type-aware against `<dir>`'s
 * tsconfig.json); `--no-ignore`, as the config ignores examples/ and .scratch/ (there
 * `pulumi-macvlan` does not resolve). Exit status and output.
 */
export function lint(dir: string): { status: number | null; output: string } {
    const r = spawnSync(process.execPath, [path.join(REPO, "node_modules/eslint/bin/eslint.js"), "--no-ignore", "-c", path.join(REPO, "eslint.config.mjs"), path.join(dir, "index.ts")], {
        cwd: REPO,
        encoding: "utf8",
    });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/**
 * Loads `<dir>/index.ts` afresh (out of require's cache, so each call runs the program again):
 * what `pulumi up` does with an example. Call it under the mocks (runUnderMocks); returns its exports.
 */
export function loadExample(dir: string): unknown {
    const file = require.resolve(path.join(dir, "index.ts"));
    delete require.cache[file];
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(file) as unknown;
}
