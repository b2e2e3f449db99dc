/**
 * `npm run doctor -- --stack <env> [--json] [--identity <key file>]` (or `--stack-file <path>`):
 * what the program sees on each host of a stack, read-only. One row per host (reachable, host key,
 * Docker, parent, promisc, forwarding, VLANs, shim and routes, drift per feature), then each
 * network and container (exists with its pinned addresses and MAC). `--json` prints the same
 * report as JSON. Exit 0 when everything is as the stack describes it, 1 when something differs or
 * a host cannot be read, 2 for a bad argument or a stack config that is not valid (no host asked).
 * The SSH key: `--identity`, else the stack's `macvlan:sshPrivateKeyPath` (a `macvlan:sshPrivateKey`
 * secret cannot be read without the Pulumi CLI).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { MacvlanConfigError } from "../../components/net/problems";
import { flag, STACK_NAME_RE, UsageError, userPath } from "../args";
import { sshProber } from "../../components/stack/probe";
import { parseStackFile } from "../compose/stackFile";
import { renderReport } from "./report";
import { runDoctor } from "./run";

const REPO = path.resolve(__dirname, "../..");
const USAGE = "usage: npm run doctor -- --stack <env> | --stack-file <path>  [--json] [--identity <private key file>]\n";

function read(file: string, what: string): string {
    try {
        return readFileSync(file, "utf8");
    } catch (e) {
        throw new UsageError(`${what} ${file} cannot be read: ${e instanceof Error ? e.message : String(e)}`);
    }
}

async function main(argv: readonly string[]): Promise<number> {
    const args = [...argv];
    const json = args.includes("--json");
    if (json) args.splice(args.indexOf("--json"), 1);
    const stackName = flag(args, "--stack");
    const stackPath = flag(args, "--stack-file");
    const identity = flag(args, "--identity");
    if (args.length > 0) throw new UsageError(`unknown argument ${JSON.stringify(args[0])}`);
    if ((stackName === undefined) === (stackPath === undefined)) throw new UsageError("give --stack <env> or --stack-file <path>");
    if (stackName !== undefined && !STACK_NAME_RE.test(stackName)) throw new UsageError(`--stack ${JSON.stringify(stackName)} is not a stack name`);
    const file = stackPath !== undefined ? userPath(stackPath) : path.join(REPO, "stacks", `Pulumi.${stackName ?? ""}.yaml`);
    const text = read(file, "the stack file");
    let stack: ReturnType<typeof parseStackFile>;
    try {
        stack = parseStackFile(text, file);
    } catch (e) {
        throw new UsageError(e instanceof Error ? e.message : String(e));
    }
    const keyPath = identity !== undefined ? userPath(identity) : stack.sshPrivateKeyPath;
    if (keyPath === undefined) throw new UsageError("no SSH key: give --identity <private key file> (the stack has no macvlan:sshPrivateKeyPath)");
    const privateKey = read(keyPath, "the SSH key");
    const knownHostsFile = file.replace(/\.yaml$/, ".known_hosts");
    let knownHosts: string | undefined;
    try {
        knownHosts = readFileSync(knownHostsFile, "utf8");
    } catch {
        knownHosts = undefined;
    }
    const report = await runDoctor(stack, { prober: sshProber({ connectTimeoutMs: 10_000, totalTimeoutMs: 60_000 }), privateKey, ...(knownHosts === undefined ? {} : { knownHosts, knownHostsLocation: knownHostsFile }) });
    process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
    return report.healthy ? 0 : 1;
}

main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
        if (e instanceof UsageError) {
            process.stderr.write(`doctor: ${e.message}\n${USAGE}`);
        } else if (e instanceof MacvlanConfigError) {
            process.stderr.write(`doctor: the stack config is not valid, no host was asked:\n${e.message}\n`);
        } else {
            process.stderr.write(`doctor: ${e instanceof Error ? e.message : String(e)}\n`);
            process.exit(1);
        }
        process.exit(2);
    },
);
