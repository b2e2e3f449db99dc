/**
 * The two tools end to end, without I/O: a compose document to the fragment's text (checked in its
 * stack when one is given), and a stack file to a host's compose text. cli.ts reads the files and
 * writes what these return. Pure.
 */
import { parseStackConfig } from "../../components/config/parse";
import type { StackModel } from "../../components/config/model";
import { MacvlanConfigError, problemsOf } from "../../components/net/problems";
import { exportCompose } from "./exportCompose";
import { importCompose, type ImportResult } from "./importCompose";
import { composeText, fragmentText, mergeNetworks, secretCommands } from "./render";
import { validationInput, type StackFile } from "./stackFile";

/** A stack file the tools were pointed at: its name (`compose` of `stacks/Pulumi.compose.yaml`), path and content. */
export interface NamedStack {
    readonly name: string;
    readonly file: string;
    readonly stack: StackFile;
}

/** The fragment, its text, and the model of the stack with it in place (when checked in a stack). */
export interface ImportOutput {
    readonly result: ImportResult;
    readonly text: string;
    readonly model?: StackModel;
}

/** `parseStackConfig` on a stack file's content, as `pulumi up` runs it before its probe. */
export function validateStack(stack: StackFile): StackModel {
    const input = validationInput(stack);
    return parseStackConfig(input.raw, input.policy, input.engines);
}

/**
 * import-compose: the fragment of compose document `doc` (from `file`) for `host`. With `stack`,
 * the fragment is put in its place in the stack's networks and the whole is validated: every
 * problem then names the stack's paths (`networks[0].containers[2].ip …`).
 */
export function importToFragment(doc: unknown, file: string, host: string, stack?: NamedStack): ImportOutput {
    const result = importCompose(doc, { file, host, ...(stack === undefined ? {} : { stack: { file: stack.file, hosts: stack.stack.hosts, networks: stack.stack.networks } }) });
    if (stack === undefined) return { result, text: fragmentText(result, { file, host }) };
    const merged = mergeNetworks(stack.stack.networks, result.networks);
    let model: StackModel;
    try {
        model = validateStack({ ...stack.stack, networks: merged });
    } catch (e) {
        if (e instanceof MacvlanConfigError) throw problemsOf(`${stack.file} with the fragment of ${file}`, e.problems);
        throw e;
    }
    return { result, text: fragmentText(result, { file, host, secrets: secretCommands(merged) }), model };
}

/** export-compose: the compose text of `host`'s containers in `stack`, validated first. */
export function exportFromStack(stack: NamedStack, host: string): string {
    const input = validationInput(stack.stack);
    const model = parseStackConfig(input.raw, input.policy, input.engines);
    return composeText(exportCompose(model, host, input.secrets), { stack: stack.name, host });
}
