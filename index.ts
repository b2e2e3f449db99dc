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

async function main(deps: ProgramDeps = {}): Promise<StackOutputs> {
    try {
        return await macvlanProgram(deps);
    } catch (e) {
        if (e instanceof MacvlanConfigError) throw new pulumi.RunError(e.message);
        throw e;
    }
}

export = main;
