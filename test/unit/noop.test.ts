/**
 * No-op cost (issue 11, item 4): evaluating the same config twice registers every resource with
 * identical inputs, parents and providers, so a `pulumi up` with no edits runs no remote command
 * and replaces nothing. For the example stacks and for a generated multi-host fleet (the bench's),
 * probe on. And what one image per host and reference changes for an existing stack: only images.
 */
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
// The mocks first (importing them sets them), then the code under test.
import "../support/mocks";
import { changedResources, fleetConfig, fleetHostName } from "../support/fleet";
import { runProgram } from "../support/program";
import { providerName, type RecordedResource } from "../support/records";
import { STACKS, stackConfig, withKey } from "../support/stacks";

const IMAGE = "docker:index/remoteImage:RemoteImage";
const CONTAINER = "docker:index/container:Container";

/** The records as the comparison takes them: the provider and parent by name, not URN. */
function named(rs: readonly RecordedResource[]) {
    return rs.map((r) => ({
        type: r.type,
        name: r.name,
        inputs: r.inputs,
        ...(r.provider === undefined ? {} : { provider: providerName(rs, r.provider) ?? r.provider }),
        ...(r.parent === undefined ? {} : { parent: r.parent }),
    }));
}

describe("no-op: the same config evaluated twice", () => {
    const configs: Array<[string, () => Record<string, unknown>]> = [
        ...STACKS.map((s): [string, () => Record<string, unknown>] => [`stacks/Pulumi.${s}.yaml`, () => withKey(stackConfig(s))]),
        ["a generated fleet of 6 hosts (2 networks spanning them, 20 containers per host)", () => fleetConfig(6)],
    ];
    for (const [label, config] of configs) {
        it(`${label}: no resource added, removed or with other inputs`, async () => {
            const a = await runProgram(config());
            const b = await runProgram(config());
            assert.ok(a.resources.length > 0);
            assert.deepEqual(changedResources(named(a.resources), named(b.resources)), []);
        });
    }

    it("one image per host and reference: containers keep the image id they had with one image per container", async () => {
        const { resources } = await runProgram(fleetConfig(3));
        const images = resources.filter((r) => r.type === IMAGE).map((r) => r.name);
        assert.deepEqual(
            images.sort(),
            [0, 1, 2].flatMap((i) => ["vlan10", "vlan20"].map((n) => `${n}-${fleetHostName(i)}-images/busybox:1`)).sort(),
        );
        const containers = resources.filter((r) => r.type === CONTAINER);
        assert.equal(containers.length, 60);
        // What the per-container image gave them (the mocks' imageId is a function of the reference, as the
        // pulled image's id is of the image): the same sha, so an existing container sees no change.
        const sha = `sha256:${createHash("sha256").update("busybox:1").digest("hex")}`;
        for (const c of containers) assert.equal(c.inputs["image"], sha, c.name);
    });
});
