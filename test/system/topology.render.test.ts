/**
 * The topology picture rendered for real: `npm run topology:svg` draws the compose example stack
 * with @mermaid-js/mermaid-cli in Debian's chromium (PUPPETEER_EXECUTABLE_PATH, default
 * /usr/bin/chromium; .ci/run installs it), and the SVG names every container and the host; the
 * small stack of test/support/topology.ts (joins, a swarm network, a shim, IPv6) and the other
 * example stacks render too, so every shape and edge the renderer writes is Mermaid that parses.
 * Needs chromium: fails, never skips, without it.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseStackConfig } from "../../components/config/parse";
import { renderTopology } from "../../components/plan/topology";
import { stackTopology } from "../../scripts/topology";
import { cannotRender, renderSvg } from "../../scripts/topologySvg";
import { fleetConfig } from "../support/fleet";
import { stackConfig } from "../support/stacks";
import { svgLabels, svgNames } from "../support/svgLabels";
import { topologyFixture } from "../support/topology";

const REPO = path.resolve(__dirname, "../..");

/** The container names a raw stack config lists, read from the YAML itself (not through the renderer). */
function containerNames(config: Record<string, unknown>): string[] {
    const networks = config["macvlan:networks"] as Array<{ containers?: Array<{ name: string }> }>;
    return networks.flatMap((n) => (n.containers ?? []).map((c) => c.name));
}

describe("topology SVG (mermaid-cli + chromium)", function () {
    this.timeout(240_000);
    const work = mkdtempSync(path.join(os.tmpdir(), "topology-svg-"));
    after(() => rmSync(work, { recursive: true, force: true }));

    before(() => {
        const why = cannotRender();
        if (why !== undefined) throw new Error(`cannot run here: ${why}`);
    });

    it("npm run topology:svg -- --stack compose: an SVG that names every container of the stack file and its host", () => {
        const out = path.join(work, "compose.svg");
        const r = spawnSync("npm", ["run", "-s", "topology:svg", "--", "--stack", "compose", "--out", out], { cwd: REPO, encoding: "utf8", timeout: 200_000 });
        assert.equal(r.status, 0, `${r.stderr}${r.stdout}`);
        const svg = readFileSync(out, "utf8");
        assert.match(svg, /^<svg [^>]*aria-roledescription="flowchart-v2"/);
        assert.doesNotMatch(svg, /Syntax error/i);
        const names = svgNames(svg);
        const config = stackConfig("compose");
        const containers = containerNames(config);
        assert.equal(containers.length, 6);
        assert.deepEqual(containers.filter((c) => !names.has(c)), [], `labels: ${[...names].join(" | ")}`);
        for (const h of config["macvlan:hosts"] as Array<{ name: string }>) assert.ok(names.has(`host ${h.name}`), `host ${h.name}`);
        for (const n of ["pub_net", "pub_net_low", "pub_net_mid"]) assert.ok(names.has(n), `network ${n}`);
    });

    it("a stack past Mermaid's default 50,000-character limit (16 hosts of the bench fleet, 320 containers) is drawn, not refused", () => {
        const c = fleetConfig(16);
        const text = renderTopology(parseStackConfig({ hosts: c["macvlan:hosts"], networks: c["macvlan:networks"] }, {}, { deferred: true }));
        assert.ok(text.length > 50_000, `${text.length} characters`);
        const out = path.join(work, "fleet16.svg");
        renderSvg(text, out);
        const containers = containerNames(c);
        assert.equal(containers.length, 320);
        // The fleet reuses container names on every host: count the container nodes drawn.
        const names = new Set(containers);
        const drawn = svgLabels(readFileSync(out, "utf8")).filter((lines) => names.has(lines[0] ?? ""));
        assert.equal(drawn.length, 320);
    });

    it("every shape and edge the renderer writes parses: the small stack (joins, swarm, shim, IPv6) and the other example stacks render, naming every container and host", () => {
        const diagrams: Array<[string, string, string[], string[]]> = [
            ["small", renderTopology(parseStackConfig(topologyFixture())), ["web.1", "app"], ["edge-1", "edge-2"]],
            ...(["twohosts", "modes"] as const).map((s): [string, string, string[], string[]] => [
                s,
                stackTopology(s).text,
                containerNames(stackConfig(s)),
                (stackConfig(s)["macvlan:hosts"] as Array<{ name: string }>).map((h) => h.name),
            ]),
        ];
        for (const [name, text, containers, hosts] of diagrams) {
            const out = path.join(work, `${name}.svg`);
            renderSvg(text, out);
            const svg = readFileSync(out, "utf8");
            assert.doesNotMatch(svg, /Syntax error/i, name);
            const names = svgNames(svg);
            assert.deepEqual([...containers, ...hosts.map((h) => `host ${h}`)].filter((c) => !names.has(c)), [], `${name}: ${[...names].join(" | ")}`);
        }
    });
});
