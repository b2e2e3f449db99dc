/**
 * The warnings of risky but legal configs (config/warnings.ts, probed.ts) as the program gives
 * them under Pulumi mocks, through its `warn`: the config's always (probe on or off), the probed
 * facts' when the probe runs; and they change nothing that registers.
 */
import * as assert from "node:assert/strict";
// The mocks first (importing them sets them), then the code under test.
import "../support/mocks";
import { runProgram } from "../support/program";
import { fakeProber } from "../support/prober";
import type { RecordedResource } from "../support/records";
import { clone, stackConfig, withKey } from "../support/stacks";
import { configWarnings } from "../../components/config/warnings";
import { parseStackConfig } from "../../components/config/parse";

/** What registers, with every input: what a warning must not change. */
function graph(resources: readonly RecordedResource[]): unknown[] {
    return resources.map((r) => ({ type: r.type, name: r.name, inputs: r.inputs, parent: r.parent, dependencies: r.dependencies, deleteBeforeReplace: r.deleteBeforeReplace }));
}

/** The warnings configWarnings gives for a stack config (what the program must pass on). */
function expected(config: Record<string, unknown>): string[] {
    return configWarnings(parseStackConfig({ hosts: config["macvlan:hosts"], networks: config["macvlan:networks"], networksSecret: true }, { trustOnFirstUse: true }));
}

describe("warnings: the program tells them through warn", function () {
    this.timeout(60000);

    it("gives the compose stack's one config warning (docker1 has no shim), with the probe on and with it off", async () => {
        const config = withKey(stackConfig("compose"));
        const want = expected(config);
        assert.equal(want.length, 1);
        assert.match(want[0], /^hosts\[0\]\.shim is not set, and host docker1 cannot reach its own containers nginx and mysql on eth0 /);
        const on = await runProgram(config);
        assert.deepEqual(on.warnings, want);
        assert.ok(on.resources.length > 0);
        const offConfig = { ...config, "macvlan:probe": "false" };
        const off = await runProgram(offConfig, { prober: fakeProber(offConfig) });
        assert.deepEqual(off.warnings, want);
    });

    it("gives no warning for the twohosts and modes stacks", async () => {
        for (const s of ["twohosts", "modes"] as const) {
            const { warnings, resources } = await runProgram(withKey(stackConfig(s)));
            assert.deepEqual(warnings, [], s);
            assert.ok(resources.length > 0, s);
        }
    });

    it("warns of promiscuous mode off on a VM's NIC only when the probe says so, after the config's warnings, and registers exactly what it registers without that fact", async () => {
        const config = withKey(clone(stackConfig("twohosts")));
        const hosts = config["macvlan:hosts"] as Array<Record<string, unknown>>;
        hosts[0]["promisc"] = false;
        hosts[1]["vlans"] = [1];
        const vlanOne = expected(config);
        assert.deepEqual(vlanOne.map((w) => w.slice(0, 24)), ["hosts[1].vlans lists 1, "]);
        const up = "@parent=ens33 mtu=1500 state=UP";
        const plain = await runProgram(config, { prober: fakeProber(config, undefined, [], {}, { centos1: [up] }) });
        assert.deepEqual(plain.warnings, vlanOne);
        const vm = await runProgram(config, { prober: fakeProber(config, undefined, [], {}, { centos1: [up, "@parent-driver=ens33 vmxnet3", "@virt=vmware"] }) });
        assert.equal(vm.warnings.length, 2);
        assert.equal(vm.warnings[0], vlanOne[0]);
        assert.match(vm.warnings[1], /^hosts\[0\]\.promisc false on host centos1, whose parent ens33 is a VM's NIC \(the probe found driver vmxnet3, virtualization vmware\): /);
        assert.deepEqual(graph(vm.resources), graph(plain.resources));
        // Probe off: no facts, so no VM warning; the config's warning stays.
        const offConfig = { ...config, "macvlan:probe": "false" };
        const off = await runProgram(offConfig, { prober: fakeProber(offConfig, undefined, [], {}, { centos1: [up, "@parent-driver=ens33 vmxnet3"] }) });
        assert.deepEqual(off.warnings, vlanOne);
    });
});
