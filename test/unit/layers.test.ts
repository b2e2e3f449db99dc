/**
 * The layers of components/ (docs/architecture.md): every import goes down, never up, and the pure
 * layers import no resource package. Read from the source files, so a new import that breaks the
 * order fails here with the file and the import named.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";

const REPO = path.resolve(__dirname, "../..");

/**
 * Top to bottom; a module may import its own layer and any layer below it. The first holds the two
 * entry points: the program (index.ts) and the package (components/index.ts).
 */
const LAYERS = ["entry points", "components/stack", "components", "components/plan", "components/config", "components/host", "components/net"] as const;
const ENTRY_POINTS = new Set(["index.ts", "components/index.ts"]);
/** Layers that hold no resource code: no runtime import of a Pulumi package or ssh2. */
const PURE = new Set(["components/plan", "components/config", "components/host", "components/net"]);

function layerOf(file: string): number {
    const rel = path.relative(REPO, file);
    if (ENTRY_POINTS.has(rel)) return 0;
    const dir = path.dirname(rel);
    // The deepest layer folder that holds the file (components/host/kinds/x.ts is in components/host).
    let at = -1;
    LAYERS.forEach((l, i) => {
        if ((dir === l || dir.startsWith(`${l}/`)) && (at < 0 || l.length > (LAYERS[at] as string).length)) at = i;
    });
    if (at < 0) throw new Error(`${rel} is in no layer (${LAYERS.join(", ")})`);
    return at;
}

function sources(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) return sources(p);
        return e.name.endsWith(".ts") ? [p] : [];
    });
}

/** `import … from "x"`, `export … from "x"`, `import("x")`, `require("x")`, with whether it is type-only. */
function imports(text: string): { spec: string; typeOnly: boolean }[] {
    const out: { spec: string; typeOnly: boolean }[] = [];
    const re = /^\s*(import|export)\s+(type\s+)?[^;]*?\sfrom\s+["']([^"']+)["']|^\s*import\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|require\(\s*["']([^"']+)["']\s*\)/gms;
    for (const m of text.matchAll(re)) {
        const spec = m[3] ?? m[4] ?? m[5] ?? m[6];
        if (spec !== undefined) out.push({ spec, typeOnly: m[2] !== undefined });
    }
    return out;
}

describe("layers", () => {
    const files = [path.join(REPO, "index.ts"), ...sources(path.join(REPO, "components"))];

    it("every file of components/ is in a layer, and each layer folder has files", () => {
        const used = new Set(files.map(layerOf));
        assert.deepEqual([...used].sort(), LAYERS.map((_, i) => i));
    });

    it("no module imports a layer above its own", () => {
        const bad: string[] = [];
        for (const f of files) {
            for (const { spec } of imports(fs.readFileSync(f, "utf8"))) {
                if (!spec.startsWith(".")) continue;
                const target = path.resolve(path.dirname(f), spec) + ".ts";
                const resolved = fs.existsSync(target) ? target : path.join(path.resolve(path.dirname(f), spec), "index.ts");
                if (layerOf(resolved) < layerOf(f)) bad.push(`${path.relative(REPO, f)} imports ${spec} (${LAYERS[layerOf(resolved)]}, above ${LAYERS[layerOf(f)]})`);
            }
        }
        assert.deepEqual(bad, []);
    });

    it("the pure layers import no Pulumi package or ssh2 at run time (types only)", () => {
        const bad: string[] = [];
        for (const f of files) {
            if (!PURE.has(LAYERS[layerOf(f)])) continue;
            for (const { spec, typeOnly } of imports(fs.readFileSync(f, "utf8"))) {
                if (!typeOnly && (spec.startsWith("@pulumi/") || spec === "ssh2")) bad.push(`${path.relative(REPO, f)} imports ${spec}`);
            }
        }
        assert.deepEqual(bad, []);
    });

    it("the check is not vacuous: an upward import is found", () => {
        const found = imports('import { x } from "../stack/build";\nimport type { Y } from "@pulumi/docker";\nimport "./side";\nconst z = import(\n  \'../a\'\n);\n');
        assert.deepEqual(found, [
            { spec: "../stack/build", typeOnly: false },
            { spec: "@pulumi/docker", typeOnly: true },
            { spec: "./side", typeOnly: false },
            { spec: "../a", typeOnly: false },
        ]);
    });
});
