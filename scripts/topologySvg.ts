/**
 * `npm run topology:svg -- --stack <env> [--out <file>]`: the stack's topology diagram
 * (scripts/topology.ts) rendered to SVG with `@mermaid-js/mermaid-cli` (a devDependency) in the
 * system's Chromium (Debian's `chromium`, at PUPPETEER_EXECUTABLE_PATH, default /usr/bin/chromium;
 * puppeteer downloads no browser), sandbox off (scripts/puppeteer-config.json: Chromium refuses to
 * run as root with it). Default output: `docs/topology-<env>.svg`, the picture the README shows.
 *
 *     tsx scripts/topologySvg.ts --stack <env> [--out <file>] [--stacks-dir <dir>]
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MacvlanConfigError } from "../components/net/problems";
import { parseArgs, stackTopology, userPath } from "./topology";

const REPO = path.resolve(__dirname, "..");
/** mermaid-cli's entry point (its `mmdc` bin), run with this Node. */
const MMDC = path.join(REPO, "node_modules", "@mermaid-js", "mermaid-cli", "src", "cli.js");
/** Puppeteer's launch options for mmdc: `--no-sandbox`. */
export const PUPPETEER_CONFIG = path.join(REPO, "scripts", "puppeteer-config.json");
/** Where Debian's chromium package puts the browser. */
export const DEFAULT_CHROMIUM = "/usr/bin/chromium";

/** The browser mmdc will drive: PUPPETEER_EXECUTABLE_PATH, else Debian's. */
export function chromiumPath(): string {
    const set = process.env["PUPPETEER_EXECUTABLE_PATH"];
    return set === undefined || set === "" ? DEFAULT_CHROMIUM : set;
}

/** Why the SVG cannot be rendered on this machine (no browser), or undefined when it can. */
export function cannotRender(): string | undefined {
    const browser = chromiumPath();
    if (!existsSync(browser)) return `no Chromium at ${browser}: install Debian's (apt-get install -y chromium; .ci/run does) or set PUPPETEER_EXECUTABLE_PATH`;
    if (!existsSync(MMDC)) return `no mermaid-cli at ${MMDC}: run npm ci`;
    return undefined;
}

/** What Mermaid writes into the SVG, with mmdc exiting 0, when it did not draw the diagram. */
const MERMAID_REFUSALS = ["Maximum text size in diagram exceeded", "Syntax error in text"];

/**
 * Mermaid's limits raised to fit the text: `maxTextSize` (default 50,000 characters: about 15 hosts
 * of the bench fleet's 20 containers each) and `maxEdges` (default 500), so a larger stack is drawn,
 * slowly (100 such hosts: over a minute), instead of a one-node "Maximum text size" picture.
 */
export function mermaidConfig(mermaid: string): { readonly maxTextSize: number; readonly maxEdges: number } {
    const edges = mermaid.split("\n").filter((l) => / (?:---|-\.-)/.test(l)).length;
    return { maxTextSize: Math.max(50_000, mermaid.length + 1), maxEdges: Math.max(500, edges + 1) };
}

/** Renders Mermaid text to the SVG file `out` with mmdc and the system's Chromium; throws with mmdc's output when it fails. */
export function renderSvg(mermaid: string, out: string): void {
    const why = cannotRender();
    if (why !== undefined) throw new Error(`cannot render the SVG: ${why}`);
    const dir = mkdtempSync(path.join(os.tmpdir(), "topology-"));
    try {
        const input = path.join(dir, "topology.mmd");
        writeFileSync(input, mermaid);
        const config = path.join(dir, "mermaid.json");
        writeFileSync(config, JSON.stringify(mermaidConfig(mermaid)));
        const r = spawnSync(process.execPath, [MMDC, "--quiet", "--configFile", config, "--puppeteerConfigFile", PUPPETEER_CONFIG, "--input", input, "--output", out], {
            encoding: "utf8",
            env: { ...process.env, PUPPETEER_EXECUTABLE_PATH: chromiumPath(), PUPPETEER_SKIP_DOWNLOAD: "1" },
            timeout: 120_000,
        });
        if (r.status !== 0) throw new Error(`mmdc failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`}):\n${r.stderr}${r.stdout}`);
        // Mermaid draws some refusals as a diagram and mmdc exits 0: a one-node picture of the error.
        const svg = readFileSync(out, "utf8");
        const refused = MERMAID_REFUSALS.find((m) => svg.includes(m));
        if (refused !== undefined) throw new Error(`mermaid refused the diagram: ${refused} (${out})`);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

function main(argv: readonly string[]): number {
    const args = parseArgs(argv);
    if ("problem" in args) {
        console.error(`${args.problem}\nusage: npm run topology:svg -- --stack <env> [--out <file>] [--stacks-dir <dir>]`);
        return 2;
    }
    let text: string;
    try {
        text = stackTopology(args.stack, args.dir === undefined ? undefined : userPath(args.dir)).text;
    } catch (e) {
        if (!(e instanceof MacvlanConfigError)) throw e;
        console.error(e.message);
        return 1;
    }
    const out = args.out === undefined ? path.join(REPO, "docs", `topology-${args.stack}.svg`) : userPath(args.out);
    renderSvg(text, out);
    console.error(`wrote ${path.relative(process.cwd(), out) || out}`);
    return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
