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
 * Set `MACVLAN_STACK_TRACES=1` to keep V8's stack traces while the program runs. By default the
 * program turns them off (`Error.stackTraceLimit = 0`) until it returns: the SDK captures a stack
 * trace for every promise it makes (`runtime/debuggable.js`, for its leaked-promise report), and
 * with source maps on, that was about a third of the program's time (README, Benchmarks). What it
 * trades away: an error thrown meanwhile (an internal bug, the SDK's own) carries no frames, and
 * the SDK's leaked-promise report names no place. A MacvlanConfigError never printed one.
 */
const STACK_TRACES_ENV = "MACVLAN_STACK_TRACES";

async function main(deps: ProgramDeps = {}): Promise<StackOutputs> {
    const limit = Error.stackTraceLimit;
    if (process.env[STACK_TRACES_ENV] !== "1") Error.stackTraceLimit = 0;
    try {
        return await macvlanProgram(deps);
    } catch (e) {
        if (e instanceof MacvlanConfigError) throw new pulumi.RunError(e.message);
        throw e;
    } finally {
        Error.stackTraceLimit = limit;
    }
}

export = main;
