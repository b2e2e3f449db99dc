/**
 * Fleets larger than one stack (issue 11, item 2), the pattern tested here: the whole fleet's
 * config is validated as one (pure, fast: every duplicate address across the fleet is found), and
 * each group stack gets its hosts' part of it (`fleetGroup`). Shown at 1,000 hosts. Pure: loads no
 * mocks.
 */
import * as assert from "node:assert/strict";
import { parseStackConfig } from "../../components/config/parse";
import { MacvlanConfigError } from "../../components/net/problems";
import { fleetConfig, fleetGroup, fleetHostName } from "../support/fleet";

function raw(config: Record<string, unknown>) {
    return { hosts: config["macvlan:hosts"], networks: config["macvlan:networks"] };
}

function problems(config: Record<string, unknown>): string[] {
    try {
        parseStackConfig(raw(config));
        return [];
    } catch (e) {
        if (e instanceof MacvlanConfigError) return [...e.problems];
        throw e;
    }
}

describe("a fleet split into group stacks", () => {
    it("validates a 1,000-host fleet (20,000 pinned containers) as one, and each of its 10 groups of 100 on its own", function () {
        this.timeout(120_000);
        const fleet = fleetConfig(1000);
        assert.deepEqual(problems(fleet), []);
        for (let g = 0; g < 10; g++) {
            const group = fleetGroup(
                fleet,
                Array.from({ length: 100 }, (_, k) => fleetHostName(g * 100 + k)),
            );
            assert.equal((group["macvlan:hosts"] as unknown[]).length, 100);
            assert.deepEqual(problems(group), [], `group ${g}`);
        }
    });

    it("a duplicate address across two groups passes each group's own check and is refused by the fleet's", () => {
        const fleet = fleetConfig(40);
        const nets = fleet["macvlan:networks"] as Array<{ containers: Array<{ host: string; ip: string }> }>;
        const vlan10 = nets[0];
        if (vlan10 === undefined) throw new Error("no vlan10");
        const first = vlan10.containers.find((c) => c.host === fleetHostName(0));
        const last = vlan10.containers.find((c) => c.host === fleetHostName(39));
        if (first === undefined || last === undefined) throw new Error("no containers");
        last.ip = first.ip;
        const groups = [0, 1].map((g) => fleetGroup(fleet, Array.from({ length: 20 }, (_, k) => fleetHostName(g * 20 + k))));
        for (const group of groups) assert.deepEqual(problems(group), []);
        const all = problems(fleet);
        assert.ok(all.some((p) => p.includes(first.ip)), all.join("\n"));
    });
});
