/**
 * `npm run bench`: the program's own cost against the SDK floors, at 1, 10, 100 and 300 hosts (a
 * generated fleet: 2 VLAN networks spanning every host, 10 pinned containers on each per host,
 * test/support/fleet.ts), and the no-op check (the same config evaluated twice: resources whose
 * inputs changed). Every run is its own process (bench/child.ts), so its peak RSS is its own.
 *
 * Floors: `typed` registers the same custom resources, with the same inputs, bare through the
 * @pulumi/docker and @pulumi/command classes; `raw` as `pulumi.CustomResource`s of the same type
 * tokens; `typed0`/`raw0` the same with `Error.stackTraceLimit = 0`, which index.ts sets while the
 * program runs (so the program is compared with the floor it could reach, too).
 *
 * Environment: BENCH_SIZES (default `1,10,100,300`), BENCH_RUNS (runs per size and mode, median
 * reported; default 3, and 1 from 100 hosts, where the typed floor alone takes minutes),
 * BENCH_TIMEOUT_S (per run, default 600), BENCH_FLEET (the larger fleet's hosts, default 1000), BENCH_GROUP (a group stack of a larger fleet,
 * `<count>@<first>`, default `100@900`: the last 100 hosts of a 1,000-host fleet).
 */
import { spawnSync } from "node:child_process";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import * as path from "node:path";
import { mkdtempSync, rmSync } from "node:fs";

interface Line {
    readonly mode: string;
    readonly hosts: number;
    readonly ms: number;
    readonly maxRssMb: number;
    readonly heapMb: number;
    readonly resources: number;
    readonly changed?: number;
}

const CHILD = path.join(__dirname, "child.ts");

function run(args: readonly string[], timeoutS: number): Line | string {
    const r = spawnSync(process.execPath, ["--import", "tsx", CHILD, ...args], { encoding: "utf8", timeout: timeoutS * 1000, maxBuffer: 1 << 26 });
    if (r.error !== undefined) return `failed: ${r.error.message}`;
    if (r.status !== 0) {
        const err = (r.stderr ?? "").trim().split("\n");
        const oom = err.find((l) => /heap out of memory/i.test(l));
        return `failed (exit ${r.status ?? r.signal}): ${oom ?? err.slice(-3).join(" | ")}`;
    }
    const last = r.stdout.trim().split("\n").pop() ?? "";
    return JSON.parse(last) as Line;
}

function median(xs: readonly number[]): number {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 === 1 ? (s[m]) : Math.round(((s[m - 1]) + (s[m])) / 2);
}

interface Figures {
    readonly ms: number;
    readonly rss: number;
    readonly heap: number;
    readonly resources: number;
    readonly failed?: string;
}

function measure(mode: string, hosts: number, dump: string, runs: number, timeoutS: number): Figures {
    const lines: Line[] = [];
    for (let i = 0; i < runs; i++) {
        // The first program run writes the dump the floors replay.
        const r = run([mode, String(hosts), dump, ...(mode === "program" && i > 0 ? ["--no-dump"] : [])], timeoutS);
        if (typeof r === "string") return { ms: NaN, rss: NaN, heap: NaN, resources: NaN, failed: r };
        lines.push(r);
        process.stderr.write(`  ${mode} ${hosts} hosts: ${r.ms} ms, ${r.maxRssMb} MB max RSS, ${r.resources} resources\n`);
    }
    return { ms: median(lines.map((l) => l.ms)), rss: median(lines.map((l) => l.maxRssMb)), heap: median(lines.map((l) => l.heapMb)), resources: lines[0]?.resources ?? NaN };
}

function ratio(a: number, b: number): string {
    return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : "-";
}

function main(): void {
    const sizes = (process.env["BENCH_SIZES"] ?? "1,10,100,300").split(",").map(Number);
    const timeoutS = Number(process.env["BENCH_TIMEOUT_S"] ?? "600");
    const dir = mkdtempSync(path.join(tmpdir(), "macvlan-bench-"));
    const started = Date.now();
    console.log(`pulumi-macvlan bench, ${new Date().toISOString()}, node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? "?"}, ${Math.round(totalmem() / 2 ** 30)} GB, load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
    console.log("Each figure: median of the runs; time = registering and settling every resource under the mocks; memory = the run's max RSS (MB).");
    const rows: string[][] = [["hosts", "resources", "program ms", "typed ms", "raw ms", "prog/typed", "prog/raw", "own ms/host", "program MB", "typed MB", "raw MB", "MB prog/typed", "MB prog/raw", "typed0 ms", "raw0 ms", "prog/typed0", "prog/raw0", "own0 ms/host", "typed0 MB", "MB prog/typed0"]];
    try {
        for (const hosts of sizes) {
            const runs = Number(process.env["BENCH_RUNS"] ?? (hosts >= 100 ? "1" : "3"));
            const dump = path.join(dir, `fleet-${hosts}.json`);
            process.stderr.write(`${hosts} hosts (${runs} run(s) per mode)\n`);
            const p = measure("program", hosts, dump, runs, timeoutS);
            if (p.failed !== undefined) {
                rows.push([String(hosts), "-", p.failed]);
                continue;
            }
            const t = measure("typed", hosts, dump, runs, timeoutS);
            const r = measure("raw", hosts, dump, runs, timeoutS);
            const t0 = measure("typed0", hosts, dump, runs, timeoutS);
            const r0 = measure("raw0", hosts, dump, runs, timeoutS);
            rows.push([
                String(hosts),
                String(p.resources),
                String(p.ms),
                t.failed ?? String(t.ms),
                r.failed ?? String(r.ms),
                ratio(p.ms, t.ms),
                ratio(p.ms, r.ms),
                Number.isFinite(t.ms) ? ((p.ms - t.ms) / hosts).toFixed(1) : "-",
                String(p.rss),
                String(t.rss),
                String(r.rss),
                ratio(p.rss, t.rss),
                ratio(p.rss, r.rss),
                t0.failed ?? String(t0.ms),
                r0.failed ?? String(r0.ms),
                ratio(p.ms, t0.ms),
                ratio(p.ms, r0.ms),
                Number.isFinite(t0.ms) ? ((p.ms - t0.ms) / hosts).toFixed(1) : "-",
                String(t0.rss),
                ratio(p.rss, t0.rss),
            ]);
        }
        const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length))) ?? [];
        for (const row of rows) console.log(row.map((c, i) => c.padStart(widths[i] ?? 0)).join("  "));
        const group = process.env["BENCH_GROUP"] ?? "100@900";
        const fleetSize = Number(process.env["BENCH_FLEET"] ?? "1000");
        const g = run(["program", group, path.join(dir, "group.json"), `--fleet=${fleetSize}`], timeoutS);
        const peers = Math.ceil(fleetSize / Number(group.split("@")[0])) - 1;
        console.log(
            typeof g === "string"
                ? `group stack ${group}: ${g}`
                : `group stack ${group} (hosts ${group.split("@")[1] ?? 0}.. of a ${fleetSize}-host fleet, checked against the ${peers} other groups' plans read through StackReferences): ${g.ms} ms, ${g.maxRssMb} MB max RSS, ${g.resources} resources`,
        );
        const noopHosts = Number(process.env["BENCH_NOOP_HOSTS"] ?? "10");
        const noop = run(["noop", String(noopHosts), path.join(dir, "noop.json")], timeoutS);
        console.log(
            typeof noop === "string"
                ? `no-op: ${noop}`
                : `no-op: the ${noopHosts}-host config evaluated twice: ${noop.changed ?? "?"} of ${noop.resources} resources with changed inputs (goal 0)`,
        );
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
    console.log(`bench took ${Math.round((Date.now() - started) / 1000)} s`);
}

main();
