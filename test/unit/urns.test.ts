/**
 * URNs are released: an existing stack's resources keep their URNs across any change of the
 * components (a changed type token or child name changes the URN of the resource and of every child
 * under it, and `pulumi up` would replace them all). The example stacks of stacks/, and twohosts
 * with a swarm network beside `mynet` (for MacvlanSwarmNetwork's token), run through index.ts under
 * the mocks; their full URN lists must equal test/unit/__snapshots__/urns/<stack>.txt, which were
 * recorded from the code before the component package (issue 12) changed the components' types.
 * There is no update mode on purpose: a difference here is a break for every deployed stack.
 */
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
// The mocks first (importing them sets them), then the code under test.
import "../support/mocks";
import { runProgram } from "../support/program";
import { STACKS, clone, stackConfig, withKey } from "../support/stacks";

const SNAPSHOTS = path.join(__dirname, "__snapshots__", "urns");

/** twohosts plus a swarm network on VLAN 70 of both hosts (each with its own slice). */
function twohostsSwarm(): Record<string, unknown> {
    const config = clone(stackConfig("twohosts"));
    for (const h of config["macvlan:hosts"] as Record<string, unknown>[]) h["vlans"] = [70];
    (config["macvlan:networks"] as unknown[]).push({
        name: "tasks",
        subnet: "203.0.113.0/24",
        gateway: "203.0.113.1",
        vlan: 70,
        swarm: true,
        slices: { centos1: "203.0.113.128/26", centos2: "203.0.113.192/26" },
    });
    return config;
}

/** The stacks whose URNs are pinned, by snapshot name. */
export const URN_STACKS: Readonly<Record<string, () => Record<string, unknown>>> = {
    ...Object.fromEntries(STACKS.map((s) => [s, () => stackConfig(s)])),
    "twohosts-swarm": twohostsSwarm,
};

/** The sorted URNs that running index.ts with `config` registers, one a line. */
export async function urnsOf(config: Record<string, unknown>): Promise<string> {
    const { resources } = await runProgram(withKey(config));
    const urns = resources.map((r) => r.urn);
    assert.ok(urns.every((u) => u.startsWith("urn:pulumi:")), `every resource has a URN:\n${urns.join("\n")}`);
    return `${[...urns].sort().join("\n")}\n`;
}

describe("URNs of existing stacks", () => {
    for (const [stack, config] of Object.entries(URN_STACKS)) {
        it(`${stack}: every URN equals test/unit/__snapshots__/urns/${stack}.txt`, async () => {
            const expected = readFileSync(path.join(SNAPSHOTS, `${stack}.txt`), "utf8");
            assert.equal(await urnsOf(config()), expected);
        });
    }
});
