/**
 * The one place that sets Pulumi mocks in a mocha process (loaded by .mocharc.json before any
 * spec). Unit tests read what was registered from `recorded`; unknown calls fail loudly.
 * OWNED BY the components work: extend here, never call setMocks anywhere else.
 */
import * as pulumi from "@pulumi/pulumi";

export interface RecordedResource {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, unknown>;
    readonly provider?: string;
}

export const recorded: RecordedResource[] = [];

pulumi.runtime.setMocks(
    {
        newResource(args: pulumi.runtime.MockResourceArgs): { id: string; state: Record<string, unknown> } {
            recorded.push({ type: args.type, name: args.name, inputs: args.inputs, provider: args.provider });
            return { id: `${args.name}-id`, state: args.inputs };
        },
        call(args: pulumi.runtime.MockCallArgs): Record<string, unknown> {
            throw new Error(`unexpected call to ${args.token} in a unit test`);
        },
    },
    "macvlan",
    "test",
    false,
);
