/**
 * The program `pulumi up` runs. Its export is the async function itself: Pulumi calls it with no
 * arguments; tests call it under mocks with a fake prober (config comes from the Pulumi runtime in
 * both). This is the program's edge: a MacvlanConfigError (every problem found, collected as data)
 * becomes a `pulumi.RunError`, which `pulumi up` prints as the message alone, without a stack trace.
 */
import * as pulumi from "@pulumi/pulumi";
import { MacvlanConfigError } from "./components/net/problems";
import { macvlanProgram, type ProgramDeps } from "./components/stack/program";
import type { StackOutputs } from "./components/stack/build";

/**
 * Set `MACVLAN_STACK_TRACES=1` to keep V8's stack traces. By default the program turns them off
 * for the rest of the process (`Error.stackTraceLimit = 0`; `pulumi up` runs the program in a
 * process of its own): the SDK captures a stack trace for every promise it makes
 * (`runtime/debuggable.js`, for its leaked-promise report), also while it registers the resources
 * after the program has returned, and that was about a third of the program's time and a quarter
 * of its memory (README, Benchmarks). What it trades away: an error thrown after that (an internal
 * bug, the SDK's own) carries no frames, only its message, and the SDK's leaked-promise report
 * names no place. A MacvlanConfigError never printed one (it becomes a RunError).
 */
const STACK_TRACES_ENV = "MACVLAN_STACK_TRACES";

async function main(deps: ProgramDeps = {}): Promise<StackOutputs> {
    if (process.env[STACK_TRACES_ENV] !== "1") Error.stackTraceLimit = 0;
    try {
        return await macvlanProgram(deps);
    } catch (e) {
        if (e instanceof MacvlanConfigError) throw new pulumi.RunError(e.message);
        throw e;
    }
}

export = main;
