/**
 * `macvlan:fleet` in the program (index.ts under mocks): the other stacks' `hosts` and `addressPlan`
 * outputs are read through StackReferences before anything else is registered, the fleet's rules
 * run with every other rule, and a stack that passes registers exactly what it registers alone.
 * The peers' outputs are what the program itself exported for their configs.
 */
import * as assert from "node:assert/strict";
// The mocks first (importing them sets them), then the code under test.
import { recorded } from "../support/mocks";
import * as pulumi from "@pulumi/pulumi";
import { fleetConfig, fleetGroup, fleetHostName } from "../support/fleet";
import { runProgram } from "../support/program";

const STACK_REFERENCE = "pulumi:pulumi:StackReference";

type Config = Record<string, unknown>;

function group(fleet: Config, g: number): Config {
    return fleetGroup(fleet, Array.from({ length: 3 }, (_, k) => fleetHostName(g * 3 + k)));
}

/** The problems of the program's refusal: a RunError (index.ts turns a MacvlanConfigError into one) listing them, one per line. */
async function refusal(p: Promise<unknown>): Promise<string[]> {
    try {
        await p;
    } catch (e) {
        assert.ok(pulumi.RunError.isInstance(e), `a RunError, not ${String(e)}`);
        const [header, ...lines] = e.message.split("\n");
        assert.match(header ?? "", /^macvlan stack config has [0-9]+ problems?:$/);
        return lines.map((l) => l.replace(/^ {2}/, ""));
    }
    throw new Error("the program did not refuse the config");
}

describe("macvlan:fleet in the program: other stacks read through StackReferences", function () {
    this.timeout(120_000);
    const fleet = fleetConfig(6, { containersPerNetwork: 2 });
    const g0 = group(fleet, 0);
    const g1 = group(fleet, 1);
    let g1Outputs: Record<string, unknown>;

    before(async () => {
        g1Outputs = (await runProgram(g1)).outputs as Record<string, unknown>;
    });

    it("reads each named stack once and registers exactly what the stack registers alone", async () => {
        const alone = await runProgram(g0);
        const inFleet = await runProgram({ ...g0, "macvlan:fleet": ["acme/macvlan/g1"] }, { stackOutputs: { "acme/macvlan/g1": g1Outputs } });
        const refs = inFleet.resources.filter((r) => r.type === STACK_REFERENCE);
        assert.deepEqual(
            refs.map((r) => [r.name, r.inputs["name"]]),
            [["fleet-acme/macvlan/g1", "acme/macvlan/g1"]],
        );
        const rest = (rs: typeof alone.resources) => rs.filter((r) => r.type !== STACK_REFERENCE).map((r) => JSON.stringify([r.type, r.name, r.inputs]));
        assert.deepEqual(rest(inFleet.resources), rest(alone.resources));
        assert.deepEqual(inFleet.outputs, alone.outputs);
    });

    it("refuses an address pinned in the other stack, before anything but the StackReference is registered", async () => {
        const edited = structuredClone(g0);
        const nets = edited["macvlan:networks"] as Array<{ containers: Array<{ ip: string }> }>;
        const theirs = (g1["macvlan:networks"] as Array<{ containers: Array<{ ip: string }> }>)[0]?.containers[0];
        const mine = nets[0]?.containers[0];
        if (theirs === undefined || mine === undefined) throw new Error("no containers");
        mine.ip = theirs.ip;
        const problems = await refusal(runProgram({ ...edited, "macvlan:fleet": ["acme/macvlan/g1"] }, { stackOutputs: { "acme/macvlan/g1": g1Outputs } }));
        assert.deepEqual(recorded.map((r) => r.type), [STACK_REFERENCE]);
        assert.deepEqual(problems, [
            `networks[0].containers[0].ip ${theirs.ip} is container vlan10-c0 of networks[0] (vlan10) on host h0000, and stack acme/macvlan/g1 (fleet[0]) holds it too on LAN segment vlan 10 (container vlan10-c0 of vlan10 on h0003): an address is held once on a LAN segment across the fleet`,
        ]);
    });

    it("refuses a named stack that has not been deployed (no outputs), with the config's other problems", async () => {
        // Under the mocks this stack is macvlan/test.
        const problems = await refusal(runProgram({ ...g0, "macvlan:fleet": ["g1", "test"] }, { stackOutputs: { g1: {} } }));
        assert.deepEqual(problems, [
            "fleet[1] test is this stack: macvlan:fleet lists the other stacks of the fleet",
            "fleet[0] g1 has no hosts and no addressPlan output: run `pulumi up` on stack g1 first (a stack joins macvlan:fleet once it is deployed), or remove it from macvlan:fleet",
        ]);
    });
});
