/**
 * `npm run import-compose -- <file> --host <name> [--stack <env>] [--out <file>]` and
 * `npm run export-compose -- --stack <env> --host <name> [--out <file>]`: the compose tools from a
 * shell (file I/O and arguments only; the work is in importCompose.ts, exportCompose.ts and
 * render.ts). Output goes to `--out`, else stdout, and only when everything checked out: a problem
 * writes nothing and exits 1 with every problem listed; a bad argument exits 2.
 */
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { HOST_NAME_RE } from "../../components/net/patterns";
import { MacvlanConfigError } from "../../components/net/problems";
import { exportFromStack, importToFragment, type NamedStack } from "./pipeline";
import { flag, STACK_NAME_RE, UsageError, userPath } from "../args";
import { parseStackFile } from "./stackFile";

const REPO = path.resolve(__dirname, "../..");

const USAGE =
    "usage: npm run import-compose -- <compose file> --host <name> [--stack <env>] [--out <file>]\n" +
    "       npm run export-compose -- --stack <env> --host <name> [--out <file>]\n";

function hostArg(args: string[]): string {
    const host = flag(args, "--host");
    if (host === undefined) throw new UsageError("--host is required");
    if (!HOST_NAME_RE.test(host)) throw new UsageError(`--host ${JSON.stringify(host)} is not a host name of the stack: [a-z0-9-], at most 32`);
    return host;
}

function stackArg(args: string[]): NamedStack | undefined {
    const name = flag(args, "--stack");
    if (name === undefined) return undefined;
    if (!STACK_NAME_RE.test(name)) throw new UsageError(`--stack ${JSON.stringify(name)} is not a stack name: A-Z, a-z, 0-9, _, . and -`);
    const file = path.join("stacks", `Pulumi.${name}.yaml`);
    let text: string;
    try {
        text = readFileSync(path.join(REPO, file), "utf8");
    } catch {
        throw new UsageError(`--stack ${name}: there is no ${file}`);
    }
    try {
        return { name, file, stack: parseStackFile(text, file) };
    } catch (e) {
        throw new UsageError(`--stack ${name}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
    }
}

function noMoreArgs(args: string[]): void {
    if (args.length > 0) throw new UsageError(`unexpected ${args.map((a) => JSON.stringify(a)).join(" ")}`);
}

function runImport(args: string[]): { text: string; out?: string; notes: string[] } {
    const host = hostArg(args);
    const stack = stackArg(args);
    const out = flag(args, "--out");
    const file = args.shift();
    if (file === undefined || file.startsWith("--")) throw new UsageError("the compose file is required");
    noMoreArgs(args);
    let doc: unknown;
    try {
        doc = yaml.load(readFileSync(userPath(file), "utf8"));
    } catch (e) {
        throw new UsageError(`${file} cannot be read as YAML: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
    }
    const { text } = importToFragment(doc, file, host, stack);
    const note = stack === undefined ? "not checked against a stack: pass --stack <env> to validate the fragment in it" : `checked in ${stack.file}: valid`;
    return { text, ...(out === undefined ? {} : { out }), notes: [note] };
}

function runExport(args: string[]): { text: string; out?: string; notes: string[] } {
    const host = hostArg(args);
    const stack = stackArg(args);
    if (stack === undefined) throw new UsageError("--stack is required");
    const out = flag(args, "--out");
    noMoreArgs(args);
    return { text: exportFromStack(stack, host), ...(out === undefined ? {} : { out }), notes: [] };
}

function main(argv: string[]): number {
    const [cmd, ...args] = argv;
    try {
        const r = cmd === "import" ? runImport(args) : cmd === "export" ? runExport(args) : undefined;
        if (r === undefined) throw new UsageError(`unknown command ${JSON.stringify(cmd)}`);
        if (r.out === undefined) process.stdout.write(r.text);
        else {
            writeFileSync(userPath(r.out), r.text);
            process.stderr.write(`wrote ${r.out}\n`);
        }
        for (const n of r.notes) process.stderr.write(`${n}\n`);
        return 0;
    } catch (e) {
        if (e instanceof UsageError) {
            process.stderr.write(`error: ${e.message}\n${USAGE}`);
            return 2;
        }
        if (e instanceof MacvlanConfigError) {
            process.stderr.write(`error: ${e.message}\nnothing was written\n`);
            return 1;
        }
        throw e;
    }
}

process.exitCode = main(process.argv.slice(2));
