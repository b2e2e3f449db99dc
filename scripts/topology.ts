/**
 * `npm run topology -- --stack <env> [--out <file>]`: the Mermaid diagram of a stack
 * (components/plan/topology.ts), without the Pulumi CLI. Reads `stacks/Pulumi.<env>.yaml`,
 * validates it as the program does (`parseStackConfig`, then every host planned), and prints the
 * diagram, or writes it to `--out`. A config the program would refuse is printed as the program
 * prints it (`macvlan stack config has N problems:` and one line per problem), exit 1.
 *
 * What it cannot do without the CLI, and so leaves out: decrypting `secure:` values (the diagram
 * holds no env value: each is read as a secret placeholder, and a name a container lists in
 * `secretEnv` need not be set yet), the drift probe (the Docker version rules wait for it, as in
 * the program with the probe on), and `macvlan:fleet` (StackReferences).
 *
 *     tsx scripts/topology.ts --stack <env> [--out <file>] [--stacks-dir <dir>]   (default dir: stacks/)
 */
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import type { StackModel } from "../components/config/model";
import { parseStackConfig, type RawStackConfig } from "../components/config/parse";
import { MacvlanConfigError } from "../components/net/problems";
import { planStack } from "../components/plan/stack";
import { renderTopology } from "../components/plan/topology";

const REPO = path.resolve(__dirname, "..");

/** Stack names the tool accepts (Pulumi's own: letters, digits, `-`, `_`, `.`; not starting with `.`). */
export const STACK_NAME_RE = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$/;

/** What a `secure:` value is read as: the diagram shows no env value, so none is decrypted. */
const SECRET_PLACEHOLDER = "(secret)";

/** The stack file of `stack` under `dir`: `<dir>/Pulumi.<stack>.yaml`. */
export function stackFile(stack: string, dir = path.join(REPO, "stacks")): string {
    return path.join(dir, `Pulumi.${stack}.yaml`);
}

/** A stack file's config as the program reads it, and the notes on what is not checked here. */
export interface StackFileConfig {
    readonly raw: RawStackConfig;
    /** `macvlan:probe` (default true): with it on, the Docker version rules wait for the probe. */
    readonly probe: boolean;
    readonly trustOnFirstUse: boolean;
    /** What this tool did not check that `pulumi up` will (`macvlan:fleet`). */
    readonly notes: readonly string[];
}

function isMap(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `{ secure: "v1:…" }`: a value Pulumi encrypted. */
function isSecure(v: unknown): boolean {
    return isMap(v) && Object.keys(v).length === 1 && typeof v["secure"] === "string";
}

/** A copy of `v` with every `secure:` value replaced by the placeholder; `found` is set when there was one. */
function withoutSecrets(v: unknown, found: { secure: boolean }): unknown {
    if (isSecure(v)) {
        found.secure = true;
        return SECRET_PLACEHOLDER;
    }
    if (Array.isArray(v)) return v.map((x) => withoutSecrets(x, found));
    if (isMap(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, withoutSecrets(x, found)]));
    return v;
}

/**
 * Each name a container lists in `secretEnv` and its `env` does not set gets the placeholder, as
 * the value `pulumi config set --secret --path` would have set (the diagram needs none); returns
 * whether it set any.
 */
function fillSecretEnv(networks: unknown): boolean {
    let filled = false;
    for (const n of Array.isArray(networks) ? networks : []) {
        if (!isMap(n) || !Array.isArray(n["containers"])) continue;
        for (const c of n["containers"] as unknown[]) {
            if (!isMap(c) || !Array.isArray(c["secretEnv"])) continue;
            const env: Record<string, unknown> = isMap(c["env"]) ? { ...c["env"] } : {};
            const missing = (c["secretEnv"] as unknown[]).filter((name): name is string => typeof name === "string" && !Object.prototype.hasOwnProperty.call(env, name));
            for (const name of missing) env[name] = SECRET_PLACEHOLDER;
            if (missing.length > 0) {
                c["env"] = env;
                filled = true;
            }
        }
    }
    return filled;
}

/** A boolean config value (YAML boolean or the strings `true`/`false`), or a problem. */
function readBoolean(config: Record<string, unknown>, key: string, fallback: boolean, problems: string[]): boolean {
    const v = config[`macvlan:${key}`];
    if (v === undefined || v === null) return fallback;
    if (v === true || v === "true") return true;
    if (v === false || v === "false") return false;
    problems.push(`${key} ${JSON.stringify(v)} must be true or false`);
    return fallback;
}

/**
 * The config of a stack file's text (`file` names it in problems). A `secure:` value under
 * `macvlan:networks` makes that key secret (as the CLI marks it); an encrypted whole key cannot be
 * read without the CLI and is a problem. Throws MacvlanConfigError with every problem.
 */
export function readStackText(text: string, file: string): StackFileConfig {
    let doc: unknown;
    try {
        doc = yaml.load(text);
    } catch (e) {
        throw new MacvlanConfigError([`${file} is not YAML: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`]);
    }
    const config = isMap(doc) && isMap(doc["config"]) ? doc["config"] : undefined;
    if (config === undefined) throw new MacvlanConfigError([`${file} has no config: map (the stack's macvlan:hosts and macvlan:networks)`]);
    const problems: string[] = [];
    const found = { secure: false };
    const whole = (key: string) => {
        if (isSecure(config[`macvlan:${key}`])) problems.push(`${key} is encrypted as a whole in ${file}: only the Pulumi CLI can read it (set secrets with --path, under the key)`);
    };
    whole("hosts");
    whole("networks");
    const hostSecrets = { secure: false };
    const hosts = withoutSecrets(config["macvlan:hosts"], hostSecrets);
    if (hostSecrets.secure && !isSecure(config["macvlan:hosts"])) problems.push(`hosts holds an encrypted value in ${file}: only the Pulumi CLI can read it`);
    const networks = withoutSecrets(config["macvlan:networks"], found);
    const filled = fillSecretEnv(networks);
    const probe = readBoolean(config, "probe", true, problems);
    const trustOnFirstUse = readBoolean(config, "trustOnFirstUse", false, problems);
    if (problems.length > 0) throw new MacvlanConfigError(problems);
    const notes = config["macvlan:fleet"] === undefined ? [] : ["macvlan:fleet is not checked here: the other stacks' outputs need the Pulumi CLI (pulumi preview checks them)"];
    return { raw: { hosts, networks, networksSecret: found.secure || filled }, probe, trustOnFirstUse, notes };
}

/** The validated model of a stack file's config, as the program validates it before its probe; throws MacvlanConfigError. */
export function stackModel(config: StackFileConfig): StackModel {
    const model = parseStackConfig(config.raw, { trustOnFirstUse: config.trustOnFirstUse, probe: config.probe }, { deferred: config.probe });
    const planned = planStack(model);
    if (planned.hosts === undefined) throw new MacvlanConfigError(planned.problems);
    return model;
}

/** The diagram of `stacks/Pulumi.<stack>.yaml` (under `dir`); throws MacvlanConfigError. */
export function stackTopology(stack: string, dir?: string): { readonly text: string; readonly notes: readonly string[] } {
    const file = stackFile(stack, dir);
    let text: string;
    try {
        text = readFileSync(file, "utf8");
    } catch {
        throw new MacvlanConfigError([`stack ${stack} has no stack file ${path.relative(process.cwd(), file) || file}`]);
    }
    const config = readStackText(text, path.relative(process.cwd(), file) || file);
    return { text: renderTopology(stackModel(config)), notes: config.notes };
}

/** A path the user typed, from the folder `npm run` was started in (INIT_CWD; npm runs scripts in the repository). */
export function userPath(p: string): string {
    return path.resolve(process.env["INIT_CWD"] ?? process.cwd(), p);
}

const USAGE = "usage: npm run topology -- --stack <env> [--out <file>] [--stacks-dir <dir>]";

/** The options of the command line, or a usage problem. */
export function parseArgs(argv: readonly string[]): { stack: string; out?: string; dir?: string } | { problem: string } {
    const opts: Record<string, string> = {};
    for (let i = 0; i < argv.length; i += 2) {
        const k = argv[i];
        const v = argv[i + 1];
        if (!["--stack", "--out", "--stacks-dir"].includes(k)) return { problem: `unknown argument ${JSON.stringify(k)}` };
        if (v === undefined || v === "" || v.startsWith("--")) return { problem: `${k} needs a value` };
        if (opts[k] !== undefined) return { problem: `${k} given twice` };
        opts[k] = v;
    }
    const stack = opts["--stack"];
    if (stack === undefined) return { problem: "--stack is required" };
    if (!STACK_NAME_RE.test(stack)) return { problem: `--stack ${JSON.stringify(stack)} must match ${STACK_NAME_RE.source} (a stack name)` };
    return { stack, ...(opts["--out"] === undefined ? {} : { out: opts["--out"] }), ...(opts["--stacks-dir"] === undefined ? {} : { dir: opts["--stacks-dir"] }) };
}

function main(argv: readonly string[]): number {
    const args = parseArgs(argv);
    if ("problem" in args) {
        console.error(`${args.problem}\n${USAGE}`);
        return 2;
    }
    let result: ReturnType<typeof stackTopology>;
    try {
        result = stackTopology(args.stack, args.dir === undefined ? undefined : userPath(args.dir));
    } catch (e) {
        if (!(e instanceof MacvlanConfigError)) throw e;
        console.error(e.message);
        return 1;
    }
    for (const n of result.notes) console.error(`note: ${n}`);
    if (args.out === undefined) process.stdout.write(result.text);
    else {
        const out = userPath(args.out);
        writeFileSync(out, result.text);
        console.error(`wrote ${out}`);
    }
    return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
