/**
 * `npm run build`: compiles the project with tsc (tsconfig.json), then copies the static files the
 * compiled components read at run time, which tsc does not copy (the host scripts' shell,
 * components/**\/*.sh, and the systemd unit, *.service), into the output with the same relative
 * paths: components/host/lib/core.sh -> bin/components/host/lib/core.sh.
 *
 *     tsx scripts/build.ts [--outDir <dir>]     (default: tsconfig's outDir, bin/)
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import * as path from "node:path";

const REPO = path.resolve(__dirname, "..");

/** The files under components/ that the compiled components read at run time. */
export const RUNTIME_FILE_RE = /\.(?:sh|service)$/;

/** Paths (relative to the repository) of every such file under components/, sorted. */
export function runtimeFiles(): string[] {
    return readdirSync(path.join(REPO, "components"), { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile() && RUNTIME_FILE_RE.test(e.name))
        .map((e) => path.relative(REPO, path.join(e.parentPath, e.name)))
        .sort();
}

/** Copies them under `outDir` with the same relative paths; returns what it copied. */
export function copyRuntimeFiles(outDir: string): string[] {
    const files = runtimeFiles();
    for (const rel of files) {
        const to = path.join(outDir, rel);
        mkdirSync(path.dirname(to), { recursive: true });
        copyFileSync(path.join(REPO, rel), to);
    }
    return files;
}

function main(argv: readonly string[]): number {
    const at = argv.indexOf("--outDir");
    if ((at >= 0 && argv.length !== 2) || (at < 0 && argv.length !== 0) || (at >= 0 && !argv[at + 1])) {
        console.error("usage: tsx scripts/build.ts [--outDir <dir>]");
        return 2;
    }
    const outDir = at >= 0 ? path.resolve(argv[at + 1]) : path.join(REPO, "bin");
    const tsc = spawnSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.json", "--outDir", outDir], { cwd: REPO, stdio: "inherit" });
    if (tsc.status !== 0) return tsc.status ?? 1;
    const copied = copyRuntimeFiles(outDir);
    console.log(`build: compiled into ${path.relative(REPO, outDir) || "."} and copied ${copied.length} runtime files`);
    return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
