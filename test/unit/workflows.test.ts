/**
 * The GitHub workflows (.github/workflows/, issue 13 item 1), read as GitHub reads them: each one
 * parses and converts with GitHub's own parser (`@actions/workflow-parser`) without an error, and
 * broken texts do not; every stack a workflow names is a `stacks/Pulumi.<stack>.yaml` and every such
 * file is in each matrix; the commands the jobs run are the lines the README's section "Pull-request
 * previews and drift" shows, and the test job's `.ci/run` runs the README's test command; the secrets
 * and variables the workflows read are exactly the ones that section lists; the probe is off in the
 * preview and on in the drift job; `.github/require-backend.sh` runs before every `pulumi` step and,
 * run for real with bash, refuses a missing or `file://~` backend and a missing passphrase; no `run`
 * step takes a `${{ }}` expression, and every one passes shellcheck. Pure: no Pulumi, no network.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as yaml from "js-yaml";

type WorkflowParser = typeof import("@actions/workflow-parser");
/** The part of tsx's ES module API used here (its types sit behind package exports, which this project's `moduleResolution: node` does not read). */
interface TsxEsmApi {
    register(options: { readonly namespace: string }): { import(specifier: string, parentUrl: string): Promise<unknown>; unregister(): Promise<void> };
}

const REPO = path.resolve(__dirname, "../..");
const WORKFLOWS = path.join(REPO, ".github/workflows");
const REQUIRE_BACKEND = ".github/require-backend.sh";
const SECTION = "## Pull-request previews and drift";
/** How the README's section writes the stack a matrix job runs on. */
const STACK_PLACEHOLDER = "<stack>";
const MATRIX_STACK = "${{ matrix.stack }}";
const PULUMI_ACTION = /^pulumi\/actions@v\d+$/;

interface Step {
    readonly name?: string;
    readonly uses?: string;
    readonly run?: string;
    readonly with?: Readonly<Record<string, unknown>>;
    readonly env?: Readonly<Record<string, unknown>>;
}
interface Job {
    readonly "runs-on"?: unknown;
    readonly strategy?: { readonly matrix?: { readonly stack?: unknown } };
    readonly env?: Readonly<Record<string, unknown>>;
    readonly permissions?: Readonly<Record<string, unknown>>;
    readonly steps?: readonly Step[];
}
interface Workflow {
    readonly file: string;
    readonly text: string;
    readonly on: Readonly<Record<string, unknown>>;
    readonly permissions?: Readonly<Record<string, unknown>>;
    readonly jobs: Readonly<Record<string, Job>>;
}

const workflowFiles = readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f)).sort();

function loadWorkflow(file: string): Workflow {
    const text = readFileSync(path.join(WORKFLOWS, file), "utf8");
    const doc = yaml.load(text) as { on?: unknown; permissions?: Record<string, unknown>; jobs?: Record<string, Job> };
    // `on: pull_request` (a string) and `on: { pull_request: … }` name the same trigger.
    const on = typeof doc.on === "string" ? { [doc.on]: null } : ((doc.on ?? {}) as Record<string, unknown>);
    return { file, text, on, permissions: doc.permissions, jobs: doc.jobs ?? {} };
}
const workflows = workflowFiles.map(loadWorkflow);
const workflow = (file: string): Workflow => {
    const w = workflows.find((x) => x.file === file);
    assert.ok(w, `.github/workflows/${file} exists`);
    return w;
};

/** Every job of every workflow, with where it is. */
const allJobs = workflows.flatMap((w) => Object.entries(w.jobs).map(([id, job]) => ({ where: `${w.file} jobs.${id}`, workflow: w, job })));
const stepsOf = (job: Job): readonly Step[] => job.steps ?? [];
const isPulumiStep = (s: Step): boolean => s.uses !== undefined && PULUMI_ACTION.test(s.uses);
const pulumiJobs = allJobs.filter((j) => stepsOf(j.job).some(isPulumiStep));

/** The stacks: `stacks/Pulumi.<stack>.yaml` files the repository keeps (not those .gitignore leaves out, like the lab's). */
function stackNames(): string[] {
    const ignored = new Set(
        readFileSync(path.join(REPO, ".gitignore"), "utf8")
            .split("\n")
            .map((l) => l.trim())
            .filter((l) => l.startsWith("/stacks/"))
            .map((l) => l.slice("/stacks/".length)),
    );
    return readdirSync(path.join(REPO, "stacks"))
        .filter((f) => !ignored.has(f))
        .flatMap((f) => /^Pulumi\.([A-Za-z0-9_.-]+)\.yaml$/.exec(f)?.[1] ?? [])
        .sort();
}

/** The README section's lines inside ```sh blocks, without trailing comments, blank lines and comment lines. */
function readme(): { readonly text: string; readonly section: string; readonly commands: readonly string[] } {
    const text = readFileSync(path.join(REPO, "README.md"), "utf8");
    const start = text.indexOf(`\n${SECTION}\n`);
    assert.ok(start >= 0, `README.md has a section "${SECTION}"`);
    const next = text.indexOf("\n## ", start + SECTION.length + 1);
    const section = text.slice(start + 1, next < 0 ? undefined : next);
    const commands = [...section.matchAll(/```sh\n([\s\S]*?)```/g)]
        .flatMap((m) => (m[1] ?? "").split("\n"))
        .map((l) => l.replace(/\s+#.*$/, "").trim())
        .filter((l) => l !== "" && !l.startsWith("#"));
    return { text, section, commands };
}

/** The README's test command: the line under `# The tests` in "The two commands". */
function readmeTestCommand(text: string): string {
    const m = /\n# The tests[^\n]*\n([^\n]+)\n/.exec(text);
    assert.ok(m?.[1], "README.md's two commands include the tests' command under '# The tests'");
    return m[1].trim();
}

/** The probe's config key: `<project>:probe`, declared in Pulumi.yaml. */
function probeKey(): string {
    const project = yaml.load(readFileSync(path.join(REPO, "Pulumi.yaml"), "utf8")) as { name: string; config?: Record<string, { type?: string }> };
    assert.equal(project.config?.probe?.type, "boolean", "Pulumi.yaml declares the boolean config key probe");
    return `${project.name}:probe`;
}

/** A pulumi/actions step's `config-map` (YAML text, as the action parses it), as key → value. */
function configMap(step: Step, where: string): Record<string, string> {
    const raw = step.with?.["config-map"];
    if (raw === undefined) return {};
    assert.equal(typeof raw, "string", `${where}: config-map is YAML text`);
    const parsed = yaml.load(raw as string) as Record<string, { value?: unknown; secret?: unknown }>;
    const out: Record<string, string> = {};
    for (const [key, entry] of Object.entries(parsed)) {
        assert.equal(typeof entry.value, "string", `${where}: config-map ${key}.value is a string`);
        assert.equal(entry.secret, false, `${where}: config-map ${key}.secret is false`);
        out[key] = entry.value as string;
    }
    return out;
}

/** The CLI command a pulumi/actions step amounts to, as the README writes it. */
function pulumiCommand(step: Step, where: string): string {
    const w = step.with ?? {};
    const stack = w["stack-name"] === MATRIX_STACK ? STACK_PLACEHOLDER : String(w["stack-name"]);
    const config = Object.entries(configMap(step, where))
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => ` --config ${k}=${v}`)
        .join("");
    const expect = w["expect-no-changes"] === true ? " --expect-no-changes" : "";
    return `pulumi ${String(w.command)} --stack ${stack}${config}${expect}`;
}

/** What a job runs, in order: its one-line `run` steps and its pulumi/actions steps as CLI commands. */
function commandsOf(job: Job, where: string): string[] {
    return stepsOf(job).flatMap((s): string[] => {
        if (isPulumiStep(s)) return [pulumiCommand(s, where)];
        if (s.run !== undefined && !s.run.trim().includes("\n")) return [s.run.trim()];
        return [];
    });
}

/** Names read from a context (`secrets`, `vars`) anywhere in a workflow's text. */
function contextNames(context: string, texts: readonly string[]): string[] {
    const re = new RegExp(`\\b${context}\\.([A-Za-z_][A-Za-z0-9_]*)`, "g");
    return [...new Set(texts.flatMap((t) => [...t.matchAll(re)].map((m) => m[1] ?? "")))].sort();
}

/** Names the README section's table lists with the given kind (`| \`NAME\` | secret | …`). */
function documentedNames(section: string, kind: "secret" | "variable"): string[] {
    return [...section.matchAll(/^\|\s*`([A-Za-z_][A-Za-z0-9_]*)`\s*\|\s*(secret|variable)\s*\|/gm)]
        .filter((m) => m[2] === kind)
        .map((m) => m[1] ?? "")
        .sort();
}

describe("GitHub workflows (.github/workflows)", function () {
    let parser: WorkflowParser;

    before(async function () {
        // The parser is an ES module only (its exports have no `require` condition), and it imports
        // its JSON schemas without `with { type: "json" }`, which Node's own loader refuses: load it
        // through tsx's ES module loader, scoped to this one import (mocha runs under tsx/cjs, which
        // covers CommonJS only).
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const tsx = require("tsx/esm/api") as TsxEsmApi;
        const scoped = tsx.register({ namespace: "workflow-parser" });
        try {
            parser = (await scoped.import("@actions/workflow-parser", __filename)) as WorkflowParser;
        } finally {
            await scoped.unregister();
        }
    });

    /** The parser's errors for a workflow text, after parsing and converting it as GitHub does. */
    async function githubErrors(name: string, content: string): Promise<string[]> {
        const parsed = parser.parseWorkflow({ name, content }, new parser.NoOperationTraceWriter());
        const errors = parsed.context.errors.getErrors().map((e) => e.message);
        if (parsed.value === undefined) return errors.length > 0 ? errors : [`${name}: no workflow parsed`];
        const template = await parser.convertWorkflowTemplate(parsed.context, parsed.value);
        return [...new Set([...errors, ...(template.errors ?? []).map((e) => e.Message)])];
    }

    describe("GitHub's parser", function () {
        it("finds the three workflows, and no error in any of them", async () => {
            assert.deepEqual(workflowFiles, ["drift.yml", "preview.yml", "test.yml"]);
            const problems: string[] = [];
            for (const w of workflows) problems.push(...(await githubErrors(w.file, w.text)));
            assert.deepEqual(problems, []);
        });

        it("reports errors in broken workflow texts (so the check above can fail)", async () => {
            const text = workflow("preview.yml").text;
            const broken: Array<[string, string, RegExp]> = [
                ["a misspelt job key", text.replace("runs-on: ubuntu-latest", "runs_on: ubuntu-latest"), /Unexpected value 'runs_on'/],
                ["secrets where GitHub allows none", text.replace("runs-on: ubuntu-latest", "runs-on: ${{ secrets.PULUMI_BACKEND_URL }}"), /Unrecognized named-value: 'secrets'/],
                ["an unclosed expression", text.replace("stack-name: ${{ matrix.stack }}", "stack-name: ${{ matrix.stack }"), /The expression is not closed/],
                ["no jobs", text.slice(0, text.indexOf("\njobs:")), /Required property is missing: jobs/],
            ];
            const missed: string[] = [];
            for (const [what, content, expected] of broken) {
                assert.notEqual(content, text, `${what}: the text was changed`);
                const errors = await githubErrors("broken.yml", content);
                if (!errors.some((e) => expected.test(e))) missed.push(`${what}: expected an error matching ${String(expected)}, got ${JSON.stringify(errors)}`);
            }
            assert.deepEqual(missed, []);
        });
    });

    describe("stacks", function () {
        it("every job that runs pulumi covers exactly the stacks in stacks/, through its matrix", () => {
            const stacks = stackNames();
            assert.ok(stacks.length > 0, "stacks/ has stack files");
            const problems: string[] = [];
            for (const { where, job } of pulumiJobs) {
                const matrix = job.strategy?.matrix?.stack;
                if (!Array.isArray(matrix)) {
                    problems.push(`${where}: strategy.matrix.stack is not a list`);
                    continue;
                }
                const named = (matrix as unknown[]).map(String);
                for (const s of named.filter((n) => !stacks.includes(n))) problems.push(`${where}: matrix stack ${s} has no stacks/Pulumi.${s}.yaml`);
                for (const s of stacks.filter((n) => !named.includes(n))) problems.push(`${where}: stacks/Pulumi.${s}.yaml is not in the matrix`);
                if (new Set(named).size !== named.length) problems.push(`${where}: the matrix names a stack twice`);
                for (const s of stepsOf(job).filter(isPulumiStep)) {
                    if (s.with?.["stack-name"] !== MATRIX_STACK) problems.push(`${where}: ${s.uses} stack-name is ${String(s.with?.["stack-name"])}, not ${MATRIX_STACK}`);
                }
            }
            assert.deepEqual(pulumiJobs.map((j) => j.where).sort(), ["drift.yml jobs.drift", "preview.yml jobs.preview"]);
            assert.deepEqual(problems, []);
        });
    });

    describe("commands", function () {
        it("each job runs, in order, the commands the README's section shows", () => {
            const { commands } = readme();
            const problems: string[] = [];
            for (const { where, job } of allJobs) {
                const run = commandsOf(job, where);
                assert.ok(run.length > 0, `${where} runs something`);
                // The job's commands appear in the section as one consecutive run of lines.
                const at = commands.findIndex((_, i) => run.every((c, k) => commands[i + k] === c));
                if (at < 0) problems.push(`${where} runs ${JSON.stringify(run)}, which the README's section "${SECTION}" does not show as consecutive lines`);
            }
            assert.deepEqual(problems, []);
        });

        it("the preview comments on the pull request with the probe off; the drift job expects no changes with the probe on", () => {
            const key = probeKey();
            const step = (file: string): Step => {
                const steps = allJobs.filter((j) => j.workflow.file === file).flatMap((j) => stepsOf(j.job).filter(isPulumiStep));
                assert.equal(steps.length, 1, `${file} has one pulumi/actions step`);
                return steps[0];
            };
            const preview = step("preview.yml");
            assert.equal(preview.with?.command, "preview", "preview.yml: command");
            assert.equal(preview.with?.["comment-on-pr"], true, "preview.yml: comment-on-pr");
            assert.equal(preview.with?.["github-token"], "${{ github.token }}", "preview.yml: github-token");
            assert.equal(preview.with?.["expect-no-changes"], undefined, "preview.yml: expect-no-changes");
            assert.deepEqual(configMap(preview, "preview.yml"), { [key]: "false" }, "preview.yml: config-map turns the probe off");
            assert.ok("pull_request" in workflow("preview.yml").on, "preview.yml runs on pull_request");
            assert.equal(workflow("preview.yml").permissions?.["pull-requests"], "write", "preview.yml may comment on the pull request");

            const drift = step("drift.yml");
            assert.equal(drift.with?.command, "preview", "drift.yml: command");
            assert.equal(drift.with?.["expect-no-changes"], true, "drift.yml: expect-no-changes");
            assert.deepEqual(configMap(drift, "drift.yml"), { [key]: "true" }, "drift.yml: config-map turns the probe on");
            const on = workflow("drift.yml").on;
            assert.ok("schedule" in on && "workflow_dispatch" in on, "drift.yml runs on a schedule and by hand");
        });

        it("the pulumi jobs set up Node 22 and run npm ci before pulumi", () => {
            const problems: string[] = [];
            for (const { where, job } of pulumiJobs) {
                const steps = stepsOf(job);
                const node = steps.findIndex((s) => s.uses?.startsWith("actions/setup-node@") === true);
                const ci = steps.findIndex((s) => s.run?.trim() === "npm ci");
                const pulumi = steps.findIndex(isPulumiStep);
                if (node < 0 || String(steps[node]?.with?.["node-version"]) !== "22") problems.push(`${where}: no actions/setup-node step with node-version 22`);
                if (!(node < ci && ci < pulumi)) problems.push(`${where}: setup-node, npm ci and pulumi are not in that order`);
            }
            assert.deepEqual(problems, []);
        });

        it("the test job runs .ci/run, which runs the README's test command", () => {
            const test = workflow("test.yml");
            const jobs = Object.values(test.jobs);
            assert.equal(jobs.length, 1);
            const steps = stepsOf(jobs[0]);
            assert.equal(steps.at(-1)?.run?.trim(), "bash .ci/run", "the test job's last step runs .ci/run");
            assert.ok("pull_request" in test.on && "push" in test.on, "test.yml runs on pull requests and pushes");

            const testCommand = readmeTestCommand(readme().text);
            assert.equal(testCommand, "npm ci && npm test");
            const ciLines = readFileSync(path.join(REPO, ".ci/run"), "utf8")
                .split("\n")
                .map((l) => l.trim())
                .filter((l) => l !== "" && !l.startsWith("#") && !l.startsWith("echo"));
            // Each part of the README's command, in order, starts a line of .ci/run (`npm ci --no-audit …`).
            let from = 0;
            for (const part of testCommand.split("&&").map((p) => p.trim())) {
                const at = ciLines.findIndex((l, i) => i >= from && (l === part || l.startsWith(`${part} `)));
                assert.ok(at >= 0, `.ci/run runs "${part}" (after the parts before it)`);
                from = at + 1;
            }
            assert.equal(ciLines.at(-1), "npm test", ".ci/run ends with the README's test command");
        });

        it("every action is pinned to a major version", () => {
            const loose = allJobs.flatMap(({ where, job }) => stepsOf(job).flatMap((s) => (s.uses === undefined || /^[\w.-]+\/[\w.-]+@v\d+$/.test(s.uses) ? [] : [`${where}: ${s.uses}`])));
            assert.deepEqual(loose, []);
        });
    });

    describe("secrets, variables and the backend", function () {
        it("the workflows read exactly the secrets and variables the README's section lists", () => {
            const texts = workflows.map((w) => w.text);
            const { section } = readme();
            assert.deepEqual(contextNames("secrets", texts), documentedNames(section, "secret"));
            assert.deepEqual(contextNames("vars", texts), documentedNames(section, "variable"));
            assert.deepEqual(contextNames("secrets", texts), ["PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE"]);
        });

        it("every pulumi job takes its backend and passphrase from the secrets and checks them before pulumi runs", () => {
            const problems: string[] = [];
            for (const { where, job } of pulumiJobs) {
                if (job.env?.PULUMI_BACKEND_URL !== "${{ secrets.PULUMI_BACKEND_URL }}") problems.push(`${where}: env.PULUMI_BACKEND_URL is not the secret`);
                if (job.env?.PULUMI_CONFIG_PASSPHRASE !== "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}") problems.push(`${where}: env.PULUMI_CONFIG_PASSPHRASE is not the secret`);
                const steps = stepsOf(job);
                const check = steps.findIndex((s) => s.run?.trim() === `bash ${REQUIRE_BACKEND}`);
                const checkout = steps.findIndex((s) => s.uses?.startsWith("actions/checkout@") === true);
                for (const [i, s] of steps.entries()) {
                    if (!isPulumiStep(s)) continue;
                    if (!(checkout < check && check < i)) problems.push(`${where}: ${REQUIRE_BACKEND} does not run after the checkout and before ${s.uses}`);
                    if (s.with?.["cloud-url"] !== "${{ secrets.PULUMI_BACKEND_URL }}") problems.push(`${where}: ${s.uses} cloud-url is not the secret`);
                }
            }
            assert.deepEqual(problems, []);
        });

        describe(`${REQUIRE_BACKEND}, run with bash`, function () {
            const run = (env: Record<string, string>): { status: number | null; out: string } => {
                const r = spawnSync("bash", [path.join(REPO, REQUIRE_BACKEND)], { encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env } });
                assert.ok(!r.error, `bash runs: ${String(r.error)}`);
                return { status: r.status, out: `${r.stdout}${r.stderr}` };
            };

            it("refuses an empty backend URL and an empty passphrase, naming both", () => {
                const r = run({});
                assert.equal(r.status, 1);
                assert.match(r.out, /^::error::PULUMI_BACKEND_URL is empty: set the repository secret PULUMI_BACKEND_URL/m);
                assert.match(r.out, /^::error::PULUMI_CONFIG_PASSPHRASE is empty: set the repository secret PULUMI_CONFIG_PASSPHRASE/m);
            });

            it("refuses a file://~ backend (the runner's home folder) without printing it", () => {
                const r = run({ PULUMI_BACKEND_URL: "file://~/hidden-path-7f3a", PULUMI_CONFIG_PASSPHRASE: "pass-9c1e" });
                assert.equal(r.status, 1);
                assert.match(r.out, /^::error::PULUMI_BACKEND_URL is a file:\/\/~ URL, the runner's home folder/m);
                assert.doesNotMatch(r.out, /hidden-path-7f3a|pass-9c1e/);
            });

            it("accepts a shared backend and a passphrase, printing neither", () => {
                const r = run({ PULUMI_BACKEND_URL: "s3://team-bucket-5d2b/pulumi-macvlan", PULUMI_CONFIG_PASSPHRASE: "pass-9c1e" });
                assert.equal(r.status, 0, r.out);
                assert.equal(r.out, "backend: PULUMI_BACKEND_URL and PULUMI_CONFIG_PASSPHRASE are set\n");
            });
        });
    });

    describe("run steps", function () {
        const runSteps = allJobs.flatMap(({ where, job }) => stepsOf(job).flatMap((s, i) => (s.run === undefined ? [] : [{ where: `${where}.steps[${i}]`, run: s.run }])));

        it("take values through env, never through a ${{ }} expression in the script", () => {
            assert.ok(runSteps.length >= 5, "the workflows have run steps");
            assert.deepEqual(runSteps.filter((s) => s.run.includes("${{")).map((s) => s.where), []);
        });

        it("pass shellcheck, as does .github/require-backend.sh", function () {
            this.timeout(60_000);
            const dir = mkdtempSync(path.join(tmpdir(), "mvl-workflows-sc-"));
            try {
                const files = runSteps.map((s, i) => {
                    const f = path.join(dir, `step${i}.sh`);
                    writeFileSync(f, `#!/usr/bin/env bash\n# ${s.where}\n${s.run}`);
                    return f;
                });
                const sc = spawnSync("shellcheck", ["--norc", "-s", "bash", "-f", "gcc", ...files, path.join(REPO, REQUIRE_BACKEND)], { encoding: "utf8" });
                assert.ok(!sc.error, "shellcheck is not installed: install it (Debian/Ubuntu: apt-get install -y shellcheck)");
                assert.equal(sc.stdout + sc.stderr, "");
                assert.equal(sc.status, 0);
            } finally {
                rmSync(dir, { recursive: true, force: true });
            }
        });
    });
});
