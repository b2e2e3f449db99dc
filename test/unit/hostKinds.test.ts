/**
 * The host feature kinds and their static shell (components/host/kinds/, components/host/lib/):
 * the registry is complete and consistent, the .sh files follow their format, values the shell
 * repeats literally agree with the TypeScript ones, the rendered scripts of a reference set of
 * features are exactly the checked-in snapshots (test/unit/__snapshots__/host/; run with
 * UPDATE_SNAPSHOTS=1 to rewrite them after a deliberate change, then review the diff), and
 * shellcheck finds nothing in any rendered script or static .sh file.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { HOST_PATHS } from "../../components/host/feature";
import { ipforward } from "../../components/host/kinds/ipforward";
import { promisc } from "../../components/host/kinds/promisc";
import { shim } from "../../components/host/kinds/shim";
import { vlan } from "../../components/host/kinds/vlan";
import { checkFeature, featureKey, FEATURE_KEY_RE, KINDS, kindOf, type HostFeature, type HostFeatureKind } from "../../components/host/registry";
import {
    BOOT_RUNNER_TEXT,
    BOOT_UNIT_TEXT,
    bootFragmentPath,
    renderBootFragment,
    renderFeature,
    renderUndo,
    renderPreflight,
    renderProbe,
    ShellValueError,
    SHIM_SYSCTLS,
} from "../../components/host/scripts";
import { unwrapSh, unwrapStdin, wrapSh } from "../../components/host/shell";
import { parseShellParts, parseShellText, readHostFile, SHELL_FILE_FIRST_LINE } from "../../components/host/shellFiles";
import { MacvlanConfigError } from "../../components/net/problems";

/** Who runs the reference scripts: host entry node1 of stack dev of project proj. */
const AT = { host: "node1", owner: "proj/dev/node1" };

const HOST_DIR = path.resolve(__dirname, "../../components/host");
const SNAPSHOTS = path.join(__dirname, "__snapshots__", "host");

/** The reference set: one feature of each kind (the snapshots). */
const REFERENCE: { readonly [K in HostFeatureKind]: Extract<HostFeature, { kind: K }> } = {
    promisc: { kind: "promisc", parent: "eth0" },
    ipforward: { kind: "ipforward" },
    vlan: { kind: "vlan", parent: "eth0", id: 50 },
    shim: { kind: "shim", lower: "eth0.50", link: "macvlan-shim", address: "198.51.100.250/32" },
    route: { kind: "route", link: "macvlan-shim", cidr: "198.51.100.12/32" },
};

/** More features of every kind (shellcheck runs on all of their scripts). */
const MORE: readonly HostFeature[] = [
    { kind: "promisc", parent: "ens33" },
    { kind: "vlan", parent: "ens33", id: 4094 },
    { kind: "shim", lower: "eth0", link: "mv-shim", address: "10.1.2.3/32" },
    { kind: "route", link: "mv-shim", cidr: "10.0.0.0/8" },
];

// A registry missing a kind does not compile (tsc --noEmit checks this file).
// @ts-expect-error: route is missing
const incomplete: typeof KINDS = { promisc, ipforward, vlan, shim };
void incomplete;

/** Every static shell file under components/host/, relative to it. */
function staticShellFiles(): string[] {
    return readdirSync(HOST_DIR, { recursive: true, encoding: "utf8" })
        .filter((f) => f.endsWith(".sh"))
        .sort();
}

describe("host kinds: the registry", () => {
    it("has every kind under its own name, with a two-digit boot order and a key its pattern matches", () => {
        assert.deepEqual(Object.keys(KINDS), ["promisc", "ipforward", "vlan", "shim", "route"]);
        for (const [name, kind] of Object.entries(KINDS)) {
            assert.equal(kind.kind, name);
            assert.match(kind.bootOrder, /^[0-9]{2}$/);
            const f = REFERENCE[name as HostFeatureKind];
            assert.equal(kindOf(f), kind);
            assert.match(featureKey(f), new RegExp(`^(?:${kind.keyPattern})$`));
            assert.match(featureKey(f), FEATURE_KEY_RE);
            assert.equal(bootFragmentPath(f), `${HOST_PATHS.bootDir}/${kind.bootOrder}-${featureKey(f)}.sh`);
        }
    });

    it("refuses an unknown kind, even one named like an Object property, with the one error type", () => {
        for (const kind of ["nope", "constructor", "toString", "__proto__", 5, undefined]) {
            assert.throws(
                () => checkFeature({ kind } as unknown as HostFeature),
                (e: unknown) =>
                    e instanceof ShellValueError &&
                    e instanceof MacvlanConfigError &&
                    e.message === `feature.kind ${typeof kind === "string" ? JSON.stringify(kind) : String(kind)} must be one of promisc, ipforward, vlan, shim, route` &&
                    e.problems.length === 1 &&
                    e.problems[0] === e.message,
            );
        }
    });

    it("gives each kind's check the function name the probe calls, and a boot fragment that waits only when it says so", () => {
        for (const [name, kind] of Object.entries(KINDS)) {
            assert.ok(kind.shell.check.startsWith(`pm_check_${name}() {\n`), name);
            assert.equal(kind.shell.boot.includes("pm_wait_link"), kind.bootWaitsForLinks, name);
        }
    });
});

describe("host kinds: the static shell files", () => {
    it("start with the shellcheck line and a comment header, which is not rendered", () => {
        const files = staticShellFiles();
        assert.ok(files.length >= 15, files.join(" "));
        for (const rel of files) {
            const text = readHostFile(rel);
            if (rel === "lib/runner.sh") {
                assert.equal(text, BOOT_RUNNER_TEXT, "the runner is installed as it is");
                continue;
            }
            assert.equal(text.split("\n")[0], SHELL_FILE_FIRST_LINE, rel);
        }
    });

    it("the loader takes the header off, cuts the parts and refuses a malformed file", () => {
        const head = `${SHELL_FILE_FIRST_LINE}\n# doc\n\n`;
        assert.equal(parseShellText("t.sh", `${head}echo a\n# kept\necho b\n`), "echo a\n# kept\necho b");
        assert.deepEqual(parseShellParts("t.sh", `${head}#@ a: doc\necho a\n\n\n#@ b\necho b\n`, ["a", "b"]), { a: "echo a", b: "echo b" });
        assert.deepEqual(parseShellParts("t.sh", `${head}#@ b\necho b\n`, ["a", "b"], ["b"]), { a: "", b: "echo b" });
        const refused = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => e instanceof Error && e.message.startsWith("components/host/t.sh: ") && re.test(e.message));
        refused(() => parseShellText("t.sh", "# doc\n\necho a\n"), /line 1 must be/);
        refused(() => parseShellText("t.sh", `${head}echo a`), /does not end with a newline/);
        refused(() => parseShellText("t.sh", `${SHELL_FILE_FIRST_LINE}\necho a\n`), /no empty line/);
        refused(() => parseShellText("t.sh", `${SHELL_FILE_FIRST_LINE}\necho a\n\necho b\n`), /line 2 of the header is not a comment/);
        refused(() => parseShellText("t.sh", `${head}#@ a\necho a\n`), /marks a part in a file of one part/);
        refused(() => parseShellParts("t.sh", `${head}echo a\n#@ a\n`, ["a"]), /must start with a #@ line/);
        refused(() => parseShellParts("t.sh", `${head}#@ c\necho\n`, ["a"]), /is not one of its parts/);
        refused(() => parseShellParts("t.sh", `${head}#@a\necho\n`, ["a"]), /is not one of its parts/);
        refused(() => parseShellParts("t.sh", `${head}#@ a\necho\n#@ a\necho\n`, ["a"]), /appears twice/);
        refused(() => parseShellParts("t.sh", `${head}#@ b\necho\n#@ a\necho\n`, ["a", "b"]), /in the order a, b/);
        refused(() => parseShellParts("t.sh", `${head}#@ a\necho\n`, ["a", "b"]), /has no part b/);
        refused(() => parseShellParts("t.sh", `${head}#@ a\n\n#@ b\necho\n`, ["a", "b"]), /part a is empty/);
    });

    it("repeat the host paths literally as HOST_PATHS has them", () => {
        assert.match(BOOT_RUNNER_TEXT, new RegExp(`^for f in ${HOST_PATHS.bootDir}/\\*\\.sh; do$`, "m"));
        assert.match(BOOT_UNIT_TEXT, new RegExp(`^ExecStart=/bin/sh ${HOST_PATHS.runner}$`, "m"));
        assert.match(BOOT_UNIT_TEXT, new RegExp(`^Documentation=file:${HOST_PATHS.runner}$`, "m"));
        assert.ok(existsSync(path.join(HOST_DIR, "lib", path.basename(HOST_PATHS.unit))), "lib/ holds the unit under its installed name");
        const state = parseShellText("lib/state.sh", readHostFile("lib/state.sh"));
        const markers = state.match(/\.pulumi-macvlan-[a-z]+/g) ?? [];
        assert.ok(markers.length > 0);
        for (const m of markers) assert.equal(m, HOST_PATHS.createdMarker);
    });

    it("write the shim's sysctls (SHIM_SYSCTLS, read from its boot fragment) alike in measure, ensure, restore and check", () => {
        assert.deepEqual(
            SHIM_SYSCTLS.map(([n]) => n),
            ["rp_filter", "arp_ignore", "arp_announce"],
        );
        const { lib, check } = shim.shell;
        const names = SHIM_SYSCTLS.map(([n]) => n).join(" ");
        assert.equal(lib.split(`for pm_k in ${names}; do`).length, 3, "pm_measure and pm_restore loop over all of them");
        for (const [n, v] of SHIM_SYSCTLS) {
            const read = `pm_m=$(cat "/proc/sys/net/ipv4/conf/$SHIM/${n}")`;
            assert.ok(lib.includes(`    ${read}\n    if [ "$pm_m" != ${v} ]; then\n        echo ${v} > "/proc/sys/net/ipv4/conf/$SHIM/${n}"\n        pm_note "$SHIM ${n}=${v}"\n`), `pm_ensure sets ${n}`);
            assert.ok(check.includes(`        ${read}\n        if [ "$pm_m" != ${v} ]; then\n            pm_add ${n}\n`), `the check reads ${n}`);
        }
    });
});

/** The rendered scripts of the reference set, by snapshot file name, each with the command it came from ("" for files). */
function referenceScripts(): Map<string, { script: string; command: string }> {
    const out = new Map<string, { script: string; command: string }>();
    const cmd = (name: string, command: string) => out.set(name, { script: unwrapSh(command), command });
    for (const f of Object.values(REFERENCE)) {
        const r = renderFeature(AT, f, "new");
        assert.deepEqual([r.create, r.update, r.delete], [`/bin/sh -s create ${featureKey(f)}`, `/bin/sh -s create ${featureKey(f)}`, `/bin/sh -s delete ${featureKey(f)}`]);
        out.set(`${f.kind}.sh`, { script: unwrapStdin(r.stdin), command: "" });
        out.set(`${f.kind}.undo.sh`, { script: unwrapStdin(renderUndo(AT, f)), command: "" });
        out.set(`${f.kind}.boot.sh`, { script: renderBootFragment("node1", f), command: "" });
    }
    // The probe is stdin text, not a command: unwrapStdin checks its wrapping.
    out.set("probe.sh", { script: unwrapStdin(renderProbe("node1", Object.values(REFERENCE), ["eth0", "eth0.50"])), command: "" });
    cmd("preflight.sh", renderPreflight({ host: "node1", parent: "eth0", needsVlan: true, needsDocker: true }));
    return out;
}

describe("host kinds: snapshots of the rendered scripts", () => {
    const update = process.env.UPDATE_SNAPSHOTS === "1";

    it(`match test/unit/__snapshots__/host/ byte for byte${update ? " (UPDATE_SNAPSHOTS=1: rewriting them)" : ""}`, () => {
        const scripts = referenceScripts();
        if (update) {
            mkdirSync(SNAPSHOTS, { recursive: true });
            for (const old of readdirSync(SNAPSHOTS)) if (!scripts.has(old)) unlinkSync(path.join(SNAPSHOTS, old));
            for (const [name, { script }] of scripts) writeFileSync(path.join(SNAPSHOTS, name), script);
        }
        const stored = existsSync(SNAPSHOTS) ? readdirSync(SNAPSHOTS).sort() : [];
        assert.deepEqual(stored, [...scripts.keys()].sort(), "the snapshot files are exactly the reference scripts (UPDATE_SNAPSHOTS=1 rewrites them)");
        for (const [name, { script, command }] of scripts) {
            const want = readFileSync(path.join(SNAPSHOTS, name), "utf8");
            assert.ok(script === want, `${name} differs from its snapshot (if the change is deliberate, run with UPDATE_SNAPSHOTS=1 and review the diff)`);
            if (command) assert.ok(command === wrapSh(want), `${name}: the command is the snapshot in /bin/sh -c '...'`);
        }
    });
});

/**
 * shellcheck's exclusions, each for a reason that holds for the whole category:
 * - SC3013 everywhere: pm_lock (lib/state.sh) compares the locked file with `[ "$LOCK" -ef
 *   /proc/$$/fd/9 ]`. `-ef` is not in POSIX test, but every /bin/sh the scripts run under has it
 *   (dash, bash, busybox ash, ksh, mksh, zsh), and the lock needs it to see a replaced lock file.
 * - SC2034 in the probe: it assigns the same fixed path variables (and H) as the other scripts and
 *   uses only some of them.
 * - SC2154 in the static files: each is one piece of a script; the variables it reads are assigned
 *   by the renderer or by another piece (pm_v by pm_get in lib/state.sh, pm_who by the script).
 */
const EXCLUDE = {
    rendered: ["SC3013"],
    probe: ["SC3013", "SC2034"],
    static: ["SC3013", "SC2154"],
} as const;

/** Fails, saying how to install it, when shellcheck is missing: these tests never skip. */
function requireShellcheck(): void {
    const r = spawnSync("shellcheck", ["--version"], { encoding: "utf8" });
    if (r.error || r.status !== 0) {
        assert.fail("shellcheck is not installed: install it (Debian/Ubuntu: apt-get install -y shellcheck; .ci/run does) and run the tests again");
    }
}

/** Runs `shellcheck -s sh` on the files; returns its findings (empty when clean). */
function shellcheck(files: readonly string[], exclude: readonly string[]): string {
    const r = spawnSync("shellcheck", ["--norc", "-s", "sh", "-f", "gcc", "-e", exclude.join(","), ...files], { encoding: "utf8" });
    if (r.error) throw r.error;
    assert.ok(r.status === 0 || r.status === 1, `shellcheck failed to run (status ${r.status}): ${r.stderr}`);
    return r.stdout + r.stderr;
}

describe("host kinds: shellcheck", function () {
    this.timeout(120_000);
    let dir: string;
    const write = (name: string, script: string): string => {
        const file = path.join(dir, name);
        writeFileSync(file, script);
        return file;
    };
    before(() => {
        requireShellcheck();
        dir = mkdtempSync(path.join(tmpdir(), "pm-shellcheck-"));
        // It does find things: an unquoted expansion.
        assert.match(shellcheck([write("bad.sh", 'echo $1\n')], EXCLUDE.rendered), /SC2086/);
    });
    after(() => {
        if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("finds nothing in any rendered script of any feature of any kind, nor in the runner", () => {
        const files: string[] = [];
        const features = [...Object.values(REFERENCE), ...MORE];
        features.forEach((f, i) => {
            for (const token of ["new", "drift:new,boot@1234567890"]) {
                const r = renderFeature(AT, f, token);
                files.push(write(`${i}-${f.kind}-${files.length}.sh`, r.stdin));
            }
            files.push(write(`${i}-${f.kind}.undo.sh`, renderUndo(AT, f)));
            files.push(write(`${i}-${f.kind}.boot.sh`, renderBootFragment("node1", f)));
        });
        for (const needsVlan of [false, true]) {
            for (const needsDocker of [false, true]) {
                files.push(write(`preflight-${needsVlan}-${needsDocker}.sh`, unwrapSh(renderPreflight({ host: "node1", parent: "eth0", needsVlan, needsDocker }))));
            }
        }
        files.push(write("runner.sh", BOOT_RUNNER_TEXT));
        assert.equal(shellcheck(files, EXCLUDE.rendered), "");
    });

    it("finds nothing in the probe, of all features and of each kind alone", () => {
        const all = [...Object.values(REFERENCE), ...MORE];
        const files = [write("probe-all.sh", unwrapStdin(renderProbe("node1", all))), write("probe-none.sh", unwrapStdin(renderProbe("node1", [])))];
        for (const kind of Object.keys(KINDS)) files.push(write(`probe-${kind}.sh`, unwrapStdin(renderProbe("node1", all.filter((f) => f.kind === kind)))));
        assert.equal(shellcheck(files, EXCLUDE.probe), "");
    });

    it("finds nothing in any static .sh file", () => {
        const files = staticShellFiles().map((rel) => path.join(HOST_DIR, rel));
        assert.equal(shellcheck(files, EXCLUDE.static), "");
    });
});
