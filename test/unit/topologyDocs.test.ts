/**
 * The topology picture in the README: its ```mermaid block is what `npm run topology -- --stack
 * compose` prints today, and the committed docs/topology-compose.svg names every container and the
 * host of that stack; the SVG script says why it cannot render without a browser, and raises
 * Mermaid's limits to fit the text. Pure: loads no mocks (rendering is test/system/topology.render.test.ts).
 */
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { stackTopology } from "../../scripts/topology";
import { cannotRender, mermaidConfig } from "../../scripts/topologySvg";
import { stackConfig } from "../support/stacks";
import { svgNames } from "../support/svgLabels";

const REPO = path.resolve(__dirname, "../..");

describe("the topology picture in the README (docs/topology-compose.svg)", () => {
    it("the README's mermaid block is the compose stack's diagram as npm run topology prints it now", () => {
        const readme = readFileSync(path.join(REPO, "README.md"), "utf8");
        const section = readme.slice(readme.indexOf("## The topology picture"));
        const block = /```mermaid\n([\s\S]*?)```/.exec(section.slice(0, section.indexOf("\n## ", 1)));
        assert.ok(block?.[1] !== undefined, "a ```mermaid block in ## The topology picture");
        assert.equal(block[1], stackTopology("compose").text);
        assert.ok(section.includes("](docs/topology-compose.svg)"), "the section shows the SVG");
    });

    it("the committed SVG names every container and the host of stacks/Pulumi.compose.yaml", () => {
        const names = svgNames(readFileSync(path.join(REPO, "docs", "topology-compose.svg"), "utf8"));
        const config = stackConfig("compose");
        const containers = (config["macvlan:networks"] as Array<{ containers: Array<{ name: string }> }>).flatMap((n) => n.containers.map((c) => c.name));
        assert.equal(containers.length, 6);
        assert.deepEqual(containers.filter((c) => !names.has(c)), []);
        for (const h of config["macvlan:hosts"] as Array<{ name: string }>) assert.ok(names.has(`host ${h.name}`), h.name);
    });

    it("npm run topology:svg says why it cannot render without chromium, naming the path and the package", () => {
        const saved = process.env["PUPPETEER_EXECUTABLE_PATH"];
        process.env["PUPPETEER_EXECUTABLE_PATH"] = "/nonexistent/chromium";
        try {
            assert.equal(cannotRender(), "no Chromium at /nonexistent/chromium: install Debian's (apt-get install -y chromium; .ci/run does) or set PUPPETEER_EXECUTABLE_PATH");
        } finally {
            if (saved === undefined) delete process.env["PUPPETEER_EXECUTABLE_PATH"];
            else process.env["PUPPETEER_EXECUTABLE_PATH"] = saved;
        }
    });

    it("raises Mermaid's text and edge limits to fit a large diagram, and keeps its defaults for a small one", () => {
        assert.deepEqual(mermaidConfig(stackTopology("compose").text), { maxTextSize: 50_000, maxEdges: 500 });
        const big = `flowchart LR\n${"    a --- b\n".repeat(700)}${"x".repeat(60_000)}`;
        assert.deepEqual(mermaidConfig(big), { maxTextSize: big.length + 1, maxEdges: 701 });
    });
});
