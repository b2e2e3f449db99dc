/**
 * Where trust on first use keeps the host keys it learned, so that the next run checks them
 * instead of learning again: a known_hosts file of the stack (OpenSSH's format, one line per host,
 * `stacks/Pulumi.<stack>.known_hosts` by default), read before the probe and appended to after
 * it. A host whose recorded key no longer matches is refused, as `ssh` refuses one whose
 * known_hosts line no longer matches. Only used with `macvlan:trustOnFirstUse`; a `hostKey` pinned
 * in the stack file always wins. See docs/host-keys.md.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { sshHostKeyProblem, sshKnownHostsPattern } from "../net/patterns";

/** A place that keeps known_hosts lines. */
export interface KnownHostsStore {
    /** Where the lines are kept, for messages (a path). */
    readonly location: string;
    /** The text kept so far; undefined when there is none yet. */
    read(): string | undefined;
    /** Appends lines (each ends with a newline). */
    append(text: string): void;
}

/** The store in a file (created with mode 0644 on first append). */
export function fileKnownHosts(file: string): KnownHostsStore {
    return {
        location: file,
        read: () => {
            try {
                return fs.readFileSync(file, "utf8");
            } catch (e) {
                if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
                throw e;
            }
        },
        append: (text) => {
            fs.mkdirSync(path.dirname(file), { recursive: true });
            fs.appendFileSync(file, text, { mode: 0o644 });
        },
    };
}

/** The default file of a stack: `stacks/Pulumi.<stack>.known_hosts`, beside its stack file. */
export function stackKnownHostsFile(stack: string): string {
    return path.join("stacks", `Pulumi.${stack}.known_hosts`);
}

/** The keys of a known_hosts text by pattern (`address`, or `[address]:port`), or its problems. */
export function parseKnownHosts(text: string, location: string): { readonly keys: ReadonlyMap<string, string>; readonly problems: readonly string[] } {
    const keys = new Map<string, string>();
    const problems: string[] = [];
    text.split("\n").forEach((raw, i) => {
        const line = raw.trim();
        if (line === "" || line.startsWith("#")) return;
        const [pattern, type, base64] = line.split(/\s+/);
        const key = `${type ?? ""} ${base64 ?? ""}`;
        const problem = pattern === undefined || type === undefined || base64 === undefined ? "is not `<host> <type> <base64> [comment]`" : sshHostKeyProblem(key);
        if (problem !== undefined) {
            problems.push(`${location} line ${i + 1} ${problem}`);
            return;
        }
        const before = keys.get(pattern);
        if (before !== undefined && before !== key) {
            problems.push(`${location} line ${i + 1} gives ${pattern} a second, different key; keep the one that is right`);
            return;
        }
        keys.set(pattern, key);
    });
    return { keys, problems };
}

/**
 * The keys learned on first use for the hosts that pin none, by host name: each host's entry in a
 * parsed known_hosts text (`parseKnownHosts`), looked up by its address and port. A pinned
 * `hostKey` always wins, so a host that has one gets none here.
 */
export function learnedHostKeys(hosts: readonly { readonly name: string; readonly address: string; readonly port: number; readonly hostKey?: string }[], keys: ReadonlyMap<string, string>): Map<string, string> {
    return new Map(
        hosts.flatMap((h) => {
            const key = h.hostKey === undefined ? keys.get(sshKnownHostsPattern(h.address, h.port)) : undefined;
            return key === undefined ? [] : [[h.name, key] as const];
        }),
    );
}

/** The known_hosts line that records `key` for a host (the comment names the host entry). */
export function knownHostsLine(address: string, port: number, key: string, host: string): string {
    return `${sshKnownHostsPattern(address, port)} ${key} pulumi-macvlan:${host}\n`;
}
