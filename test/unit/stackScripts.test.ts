/**
 * The scripts of the reference stacks, as reviewers see them: stacks/Pulumi.twohosts.yaml (shims
 * and their routes) and stacks/Pulumi.compose.yaml (VLANs), validated and planned exactly as the
 * program does (parseStackConfig, planStack), and every script their commands would run — each
 * host's preflight, each setting's create and delete (with the token a first run has), and each
 * host's probe — checked in under test/unit/__snapshots__/<stack>/, with the plan as text. A change
 * to script text, plan order, triggers or shim routes shows in review as a diff of those files.
 * UPDATE_SNAPSHOTS=1 rewrites them after a deliberate change; then review the diff.
 */
import * as assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parseStackConfig } from "../../components/config/parse";
import { featureOwner, renderFeature } from "../../components/host/scripts";
import { unwrapSh, unwrapStdin } from "../../components/host/shell";
import { UNPROBED_TOKEN } from "../../components/plan/host";
import { planStack, probePlan, type PlannedHost } from "../../components/plan/stack";
import { stackConfig, withKey, type StackName } from "../support/stacks";

const STACKS: readonly StackName[] = ["twohosts", "compose"];

/** Every script of the reference stack by relative file name (`<host>/<nn>-<child name>.<what>.sh`), plus the plan as text. */
function referenceStack(stack: StackName): Map<string, string> {
    // As a user's stack holds it: the example's secret env values set (the host scripts do not use them).
    const cfg = withKey(stackConfig(stack));
    const model = parseStackConfig({ hosts: cfg["macvlan:hosts"], networks: cfg["macvlan:networks"], networksSecret: true });
    const planned = planStack(model);
    assert.ok(planned.hosts !== undefined, planned.problems.join("\n"));
    const hosts: readonly PlannedHost[] = planned.hosts;
    const out = new Map<string, string>();
    const plan: string[] = [];
    for (const { model: h, plan: p } of hosts) {
        out.set(`${h.name}/00-${p.preflight.name}.sh`, unwrapSh(p.preflight.script));
        plan.push(`${p.preflight.name}`);
        p.features.forEach((f, i) => {
            const n = String(i + 1).padStart(2, "0");
            // As stack <stack> of project pulumi-macvlan would run it.
            const r = renderFeature({ host: h.name, owner: featureOwner("pulumi-macvlan", stack, h.name) }, f.feature, UNPROBED_TOKEN);
            out.set(`${h.name}/${n}-${f.name}.sh`, unwrapStdin(r.stdin));
            plan.push(`${f.name} after [${f.after.join(", ")}] triggers ${JSON.stringify(f.triggers)}`);
        });
        plan.push(`${p.docker.name} ${p.docker.host} ${p.docker.sshOpts.join(" ")}`);
    }
    for (const { target, run } of probePlan(hosts)) {
        assert.equal(run.command, "/bin/sh -s", "the probe script goes on stdin");
        out.set(`${target.host}/probe.sh`, unwrapStdin(run.stdin));
    }
    out.set("plan.txt", plan.join("\n") + "\n");
    return out;
}

function stored(dir: string, at = ""): string[] {
    return readdirSync(path.join(dir, at), { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? stored(dir, path.join(at, e.name)) : [path.join(at, e.name)],
    );
}

for (const stack of STACKS) {
    describe(`the reference stack's scripts (stacks/Pulumi.${stack}.yaml)`, () => {
        const update = process.env.UPDATE_SNAPSHOTS === "1";
        const dir = path.join(__dirname, "__snapshots__", stack);

        it(`match test/unit/__snapshots__/${stack}/ byte for byte${update ? " (UPDATE_SNAPSHOTS=1: rewriting them)" : ""}`, () => {
            const scripts = referenceStack(stack);
            if (update) {
                rmSync(dir, { recursive: true, force: true });
                for (const [name, text] of scripts) {
                    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
                    writeFileSync(path.join(dir, name), text);
                }
            }
            const files = existsSync(dir) ? stored(dir).sort() : [];
            assert.deepEqual(files, [...scripts.keys()].sort(), "the snapshot files are exactly the stack's scripts (UPDATE_SNAPSHOTS=1 rewrites them)");
            for (const [name, text] of scripts) {
                assert.ok(readFileSync(path.join(dir, name), "utf8") === text, `${name} differs from its snapshot (if deliberate, run with UPDATE_SNAPSHOTS=1 and review the diff)`);
            }
        });
    });
}

describe("the reference stacks together", () => {
    it("cover every setting kind, in create and delete scripts", () => {
        const names = STACKS.flatMap((s) => [...referenceStack(s).keys()]);
        for (const kind of ["preflight", "promisc", "ipforward", "vlan", "shim", "shim-route"]) {
            assert.ok(names.some((k) => new RegExp(`-${kind}[0-9]*(-|\\.)`).test(k)), `${kind}: ${names.join(" ")}`);
        }
    });
});
