/**
 * The policy pack on what our own program registers: each example stack of stacks/ run through
 * index.ts under the mocks, every recorded resource handed to every policy of the pack (props
 * through the runtime's proxy, providers by URN, as the policy runtime sees them) gives no violation;
 * and the same resources with one flaw each give exactly the violations for it (so the clean result
 * is not for want of resources the policies recognize).
 */
// The mocks first: importing them sets them, before anything loads code under test.
import "../support/mocks";
import * as assert from "node:assert/strict";
import { POLICY_NAMES } from "../../policy/policies";
import { runProgram } from "../support/program";
import { runPack, type TestResource } from "../support/policy";
import { unwrapSecrets, type RecordedResource } from "../support/records";
import { STACKS, stackConfig, withKey } from "../support/stacks";

/** A recorded resource as the policy runtime hands it over: inputs with secrets unwrapped, its provider's URN. */
function asPolicyResource(r: RecordedResource): TestResource {
    return {
        type: r.type,
        name: r.name,
        urn: r.urn,
        props: unwrapSecrets(r.inputs) as Record<string, unknown>,
        // The recorded reference is `<provider URN>::<provider id>`.
        ...(r.provider === undefined ? {} : { provider: r.provider.slice(0, r.provider.lastIndexOf("::")) }),
    };
}

async function stackResources(stack: (typeof STACKS)[number]): Promise<TestResource[]> {
    const { resources } = await runProgram(withKey(stackConfig(stack)));
    return resources.map(asPolicyResource);
}

/** A copy of `resources` with the props of the one named `name` changed by `edit`. */
function edited(resources: readonly TestResource[], name: string, edit: (props: Record<string, unknown>) => void): TestResource[] {
    assert.equal(resources.filter((r) => r.name === name).length, 1, name);
    return resources.map((r) => {
        if (r.name !== name) return r;
        const props = structuredClone(r.props);
        edit(props);
        return { ...r, props };
    });
}

describe("policy pack on the resources our program registers", () => {
    for (const stack of STACKS) {
        it(`stacks/Pulumi.${stack}.yaml: no violation from any policy`, async () => {
            const resources = await stackResources(stack);
            assert.ok(resources.some((r) => r.type === "docker:index/container:Container"), "the stack registers containers");
            assert.deepEqual(await runPack(resources), []);
        });
    }

    it("twohosts with test2 at test1's address and MAC, and a command without its host key: exactly those violations", async () => {
        const clean = await stackResources("twohosts");
        const endpoint = (name: string) => (clean.find((r) => r.name === name)?.props["networksAdvanced"] as Record<string, unknown>[])[0];
        const first = endpoint("mynet-centos1-test1");
        let flawed = edited(clean, "mynet-centos2-test2", (p) => {
            (p["networksAdvanced"] as Record<string, unknown>[])[0] = { ...(p["networksAdvanced"] as Record<string, unknown>[])[0], ipv4Address: first["ipv4Address"], macAddress: first["macAddress"] };
        });
        flawed = edited(flawed, "centos2-promisc", (p) => {
            delete (p["connection"] as Record<string, unknown>)["hostKey"];
        });
        const found = await runPack(flawed);
        assert.deepEqual(
            found.map((v) => `${v.policy} ${v.urn?.split("::").pop()}`),
            [
                `${POLICY_NAMES.uniqueOnSegment} mynet-centos1-test1`,
                `${POLICY_NAMES.uniqueOnSegment} mynet-centos2-test2`,
                `${POLICY_NAMES.uniqueOnSegment} mynet-centos1-test1`,
                `${POLICY_NAMES.uniqueOnSegment} mynet-centos2-test2`,
                `${POLICY_NAMES.commandHostKey} centos2-promisc`,
            ],
        );
        assert.equal(
            found[0]?.message,
            "container test1 (mynet-centos1-test1): networksAdvanced[0] (macvlan network mynet).ipv4Address 198.51.100.10 is also pinned by container test2 (mynet-centos2-test2) networksAdvanced[0] (macvlan network mynet) on the same LAN segment: every address must be unique on a segment",
        );
    });
});
