/**
 * The text the compose tools write: the stack config fragment of `import-compose` and the compose
 * file of `export-compose`, each YAML with a header that says where it came from and what it
 * still needs. Pure.
 */
import * as yaml from "js-yaml";
import { childPath } from "../../components/config/problems";
import { isMap, own } from "../../components/config/read";
import type { ComposeDocument } from "./exportCompose";
import type { ImportResult, NetworkEntry } from "./importCompose";

function dump(doc: unknown): string {
    return yaml.dump(doc, { lineWidth: -1, noRefs: true });
}

/**
 * The `pulumi config set --secret --path` command of every env name a container lists in
 * `secretEnv` without a value, for the networks at their places in `networks` (the stack's list).
 */
export function secretCommands(networks: readonly unknown[]): string[] {
    const out: string[] = [];
    networks.forEach((n, i) => {
        const containers = isMap(n) ? own(n, "containers") : undefined;
        if (!Array.isArray(containers)) return;
        containers.forEach((c: unknown, j) => {
            const names = isMap(c) ? own(c, "secretEnv") : undefined;
            const env = isMap(c) ? own(c, "env") : undefined;
            if (!Array.isArray(names)) return;
            for (const name of names) {
                if (typeof name !== "string" || (isMap(env) && own(env, name) !== undefined)) continue;
                out.push(`pulumi config set --secret --path '${childPath(`macvlan:networks[${i}].containers[${j}].env`, name)}'`);
            }
        });
    });
    return out;
}

/** What the fragment's header says. */
export interface FragmentContext {
    /** The compose file's name (its base name is shown). */
    readonly file: string;
    readonly host: string;
    /** The secret commands for where the entries land (`secretCommands`); default: the fragment's own order. */
    readonly secrets?: readonly string[];
}

/** The fragment: a comment header, then `macvlan:networks:` with the entries (paste them under `config:`). */
export function fragmentText(r: ImportResult, ctx: FragmentContext): string {
    const base = ctx.file.split("/").pop() ?? ctx.file;
    const lines = [`# macvlan:networks entries from ${base} for host ${ctx.host} (npm run import-compose); put them under config: in stacks/Pulumi.<env>.yaml.`];
    if (r.parent !== undefined) {
        lines.push(`# Host ${ctx.host} in macvlan:hosts needs parent: ${r.parent}${r.vlans.length === 0 ? "" : ` and vlans: [${r.vlans.join(", ")}]`}.`);
    }
    const secrets = ctx.secrets ?? secretCommands(r.networks);
    if (secrets.length > 0) {
        lines.push("# Env values kept out of this file (secretEnv): set each as a secret (it prompts for the value):");
        for (const s of secrets) lines.push(`#   ${s}`);
    }
    return `${lines.join("\n")}\n${dump({ "macvlan:networks": r.networks })}`;
}

/** The stack's networks with the fragment's entries in place: an entry replaces the stack's of the same name, a new one is appended. */
export function mergeNetworks(stackNetworks: unknown, fragment: readonly NetworkEntry[]): unknown[] {
    const out: unknown[] = Array.isArray(stackNetworks) ? [...(stackNetworks as unknown[])] : [];
    for (const e of fragment) {
        const i = out.findIndex((n) => isMap(n) && own(n, "name") === e.name);
        if (i >= 0) out[i] = e;
        else out.push(e);
    }
    return out;
}

/** The compose file: a comment header (with the env names it reads from the environment), then the document. */
export function composeText(doc: ComposeDocument, ctx: { readonly stack: string; readonly host: string }): string {
    const secrets = new Set<string>();
    for (const s of Object.values(doc.services)) for (const [k, v] of Object.entries(s.environment ?? {})) if (v === `\${${k}}`) secrets.add(k);
    const lines = [
        `# The containers of host ${ctx.host} in stacks/Pulumi.${ctx.stack}.yaml (npm run export-compose), on the stack's`,
        "# macvlan networks (made by pulumi up, hence external) at their pinned addresses and MACs.",
    ];
    if (secrets.size > 0) lines.push(`# Secret env values come from the shell or a .env file beside this one: ${[...secrets].join(", ")}.`);
    return `${lines.join("\n")}\n${dump(doc)}`;
}
