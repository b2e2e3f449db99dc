/**
 * A fleet split into group stacks that check each other (issue 11, item 2): each group stack names
 * the others in `macvlan:fleet`, reads their `hosts` and `addressPlan` outputs (here: what their
 * own validated config publishes, as JSON, as a StackReference returns it) and is validated against
 * them (config/fleet.ts). Shown at 1,000 hosts in 10 groups. Pure: loads no mocks (the program's
 * StackReference reads are tested under mocks in test/unit/fleetProgram.test.ts).
 */
import * as assert from "node:assert/strict";
import { checkFleetKey, readFleetPeer, type FleetPeer } from "../../components/config/fleet";
import { parseStackConfig } from "../../components/config/parse";
import { Problems } from "../../components/config/problems";
import { MacvlanConfigError } from "../../components/net/problems";
import { fleetConfig, fleetGroup, fleetHostName } from "../support/fleet";
import { publishedOutputs as published } from "../support/fleetStacks";

type Config = Record<string, unknown>;
type RawNet = { name: string; slices: Record<string, number>; containers: Array<{ name: string; host: string; ip: string; mac?: string }> };

function raw(config: Config) {
    return { hosts: config["macvlan:hosts"], networks: config["macvlan:networks"] };
}

/** The peers as the program reads them (`fleet[i]` in the order given); reading them must raise no problem. */
function peersOf(stacks: ReadonlyArray<readonly [string, { hosts: unknown; addressPlan: unknown }]>): FleetPeer[] {
    const p = new Problems();
    const peers = stacks.map(([name, outputs], i) => readFleetPeer(p, `fleet[${i}]`, name, outputs));
    assert.deepEqual(p.list, []);
    return peers.filter((x): x is FleetPeer => x !== undefined);
}

function problems(config: Config, peers: readonly FleetPeer[] = []): string[] {
    try {
        parseStackConfig(raw(config), {}, {}, peers);
        return [];
    } catch (e) {
        if (e instanceof MacvlanConfigError) return [...e.problems];
        throw e;
    }
}

/** Group g of `size` hosts of the fleet. */
function group(fleet: Config, g: number, size: number): Config {
    return fleetGroup(fleet, Array.from({ length: size }, (_, k) => fleetHostName(g * size + k)));
}

function nets(config: Config): RawNet[] {
    return config["macvlan:networks"] as RawNet[];
}

function net(config: Config, name: string): RawNet {
    const n = nets(config).find((x) => x.name === name);
    if (n === undefined) throw new Error(`no network ${name}`);
    return n;
}

describe("a fleet of group stacks that read each other's address plans (macvlan:fleet)", () => {
    it("1,000 hosts in 10 group stacks of 100: each group validates against the other 9's published plans with no problem", function () {
        this.timeout(300_000);
        const fleet = fleetConfig(1000);
        const groups = Array.from({ length: 10 }, (_, g) => group(fleet, g, 100));
        const outputs = groups.map((c, g) => [`acme/macvlan/g${g}`, published(c)] as const);
        const started = Date.now();
        for (let g = 0; g < 10; g++) {
            const peers = peersOf(outputs.filter((_, k) => k !== g));
            assert.equal(peers.length, 9);
            assert.deepEqual(problems(groups[g], peers), [], `group ${g}`);
        }
        // Not a timed assertion: the figure is printed for the README (bench/ has the measured runs).
        console.log(`      (10 groups of 100 hosts, each checked against 9 peers: ${Date.now() - started} ms)`);
    });

    describe("what the fleet's rules refuse (3 groups of 4 hosts)", () => {
        const fleet = () => fleetConfig(12, { containersPerNetwork: 2 });
        /** Group 0 (hosts h0000-h0003) checked against groups 1 and 2 as deployed. */
        function check(edit: (g0: Config, fleetCfg: Config) => void, editPeers: (g1: Config) => void = () => undefined): string[] {
            const f = fleet();
            const g0 = group(f, 0, 4);
            const g1 = group(f, 1, 4);
            const g2 = group(f, 2, 4);
            edit(g0, f);
            editPeers(g1);
            return problems(g0, peersOf([["acme/macvlan/g1", published(g1)], ["acme/macvlan/g2", published(g2)]]));
        }

        it("accepts the groups as generated: shared gateways and one network per name in every group are not duplicates", () => {
            assert.deepEqual(check(() => undefined), []);
        });

        it("refuses an address pinned in two groups, though each group's own check passes", () => {
            let dup = "";
            const got = check((g0, f) => {
                const theirs = net(group(f, 1, 4), "vlan10").containers[0];
                const mine = net(g0, "vlan10").containers[1];
                if (theirs === undefined || mine === undefined) throw new Error("no containers");
                dup = theirs.ip;
                mine.ip = dup;
                assert.deepEqual(problems(g0), [], "the group's own check passes");
            });
            assert.deepEqual(got, [
                `networks[0].containers[1].ip ${dup} is container vlan10-c1 of networks[0] (vlan10) on host h0000, and stack acme/macvlan/g1 (fleet[0]) holds it too on LAN segment vlan 10 (container vlan10-c0 of vlan10 on h0004): an address is held once on a LAN segment across the fleet`,
            ]);
        });

        it("refuses a slice that overlaps another group's host's slice, and the addresses it then holds", () => {
            const got = check((g0) => {
                for (const n of nets(g0)) n.slices["h0001"] = 5; // h0005's slot, in group 1
            });
            assert.deepEqual(got, [
                "networks[0].slices.h0001 198.18.128.160/27 overlaps 198.18.128.160/27, the pool of host h0005's engine on vlan10 in stack acme/macvlan/g1 (fleet[0]): two engines could hand out the same address; give each host of the fleet its own slot",
                "networks[1].slices.h0001 198.19.64.80/28 overlaps 198.19.64.80/28, the pool of host h0005's engine on vlan20 in stack acme/macvlan/g1 (fleet[0]): two engines could hand out the same address; give each host of the fleet its own slot",
            ]);
        });

        it("refuses a pinned address inside another group's engine's slice, and another group's pinned address inside this group's slice", () => {
            const got = check(
                (g0) => {
                    const c = net(g0, "vlan10").containers[0];
                    if (c === undefined) throw new Error("no container");
                    c.ip = "198.18.128.170"; // inside h0005's slot 198.18.128.160/27
                },
                (g1) => {
                    const c = net(g1, "vlan10").containers[0];
                    if (c === undefined) throw new Error("no container");
                    c.ip = "198.18.128.40"; // inside h0001's slot 198.18.128.32/27
                },
            );
            assert.deepEqual(got, [
                "networks[0].containers[0].ip 198.18.128.170 is container vlan10-c0 of networks[0] (vlan10) on host h0000 and lies inside 198.18.128.160/27, the pool of host h0005's engine on vlan10 in stack acme/macvlan/g1 (fleet[0]): that engine could hand it out; choose an address outside every engine's pool of the fleet",
                "networks[0].slices.h0001 198.18.128.32/27 holds 198.18.128.40, which stack acme/macvlan/g1 (fleet[0]) fixes (container vlan10-c0 of vlan10 on h0004): host h0001's engine could hand it out on networks[0] (vlan10); move the slot, or choose another address there",
            ]);
        });

        it("refuses a host whose SSH target is a host of another group", () => {
            const got = check((g0, f) => {
                const theirs = (group(f, 2, 4)["macvlan:hosts"] as Array<{ address: string }>)[0];
                const mine = (g0["macvlan:hosts"] as Array<{ address: string }>)[3];
                if (theirs === undefined || mine === undefined) throw new Error("no hosts");
                mine.address = theirs.address;
            });
            assert.deepEqual(got, [
                "hosts[3].address 198.19.128.24 with port 22 is also the SSH target of host h0008 in stack acme/macvlan/g2 (fleet[1]): describe each machine once across the fleet",
            ]);
        });
    });

    it("refuses a configured MAC that a container of another group holds on the segment", () => {
        const f = fleetConfig(8, { containersPerNetwork: 1 });
        const g0 = group(f, 0, 4);
        const g1 = group(f, 1, 4);
        const g1Plan = published(g1).addressPlan as Record<string, { macs: Record<string, string> }>;
        const [theirMac, holder] = Object.entries(g1Plan["vlan20"]?.macs ?? {})[0] ?? [];
        if (theirMac === undefined) throw new Error("group 1 publishes no MAC on vlan20");
        const c = net(g0, "vlan20").containers[0];
        if (c === undefined) throw new Error("no container");
        c.mac = theirMac;
        assert.deepEqual(problems(g0, peersOf([["g1", published(g1)]])), [
            `networks[1].containers[0].mac ${theirMac} is also used in stack g1 (fleet[0]) on LAN segment vlan 20 (${holder}): a MAC is used once on a LAN segment across the fleet`,
        ]);
    });

    it("refuses a host listed in two group stacks", () => {
        const f = fleetConfig(8, { containersPerNetwork: 1 });
        const g1 = group(f, 1, 4);
        const g0 = fleetGroup(f, ["h0000", "h0001", "h0002", "h0004"]);
        const got = problems(g0, peersOf([["g1", published(g1)]]));
        assert.ok(got.includes("hosts[3].name h0004 is also a host of stack g1 (fleet[0]): a host belongs to one stack of the fleet"), got.join("\n"));
    });

    describe("macvlan:fleet and the stacks it names", () => {
        const own = { project: "macvlan", stack: "g0" };
        function key(v: unknown): { stacks: unknown; problems: string[] } {
            const p = new Problems();
            const stacks = checkFleetKey(p, v, own);
            return { stacks, problems: p.list };
        }

        it("takes a list of other stacks, each named once; unset is a stack of its own", () => {
            assert.deepEqual(key(undefined), { stacks: [], problems: [] });
            assert.deepEqual(key(["g1", "macvlan/g2", "acme/macvlan/g3", "acme/other/g0"]), {
                stacks: [
                    { stack: "g1", path: "fleet[0]" },
                    { stack: "macvlan/g2", path: "fleet[1]" },
                    { stack: "acme/macvlan/g3", path: "fleet[2]" },
                    { stack: "acme/other/g0", path: "fleet[3]" },
                ],
                problems: [],
            });
        });

        it("refuses a key that is not a list, names that are not stack names, this stack, and a stack named twice", () => {
            assert.deepEqual(key("g1").problems, ['fleet "g1" must be a list of stack names, not a string']);
            assert.deepEqual(key(["g1", "a b", 3, "g0", "acme/macvlan/g0", "g1", "a/b/c/d"]).problems, [
                'fleet[1] "a b" is not a stack name (`stack`, `project/stack` or `org/project/stack`: letters, digits, `-`, `_`, `.`)',
                "fleet[2] 3 is not a stack name (`stack`, `project/stack` or `org/project/stack`: letters, digits, `-`, `_`, `.`)",
                "fleet[3] g0 is this stack: macvlan:fleet lists the other stacks of the fleet",
                "fleet[4] acme/macvlan/g0 is this stack: macvlan:fleet lists the other stacks of the fleet",
                "fleet[5] g1 is listed twice",
                "fleet[6] a/b/c/d is not a stack name (`stack`, `project/stack` or `org/project/stack`: letters, digits, `-`, `_`, `.`)",
            ]);
        });

        it("refuses a stack without the outputs (not deployed yet) or with outputs this program did not write", () => {
            const p = new Problems();
            assert.equal(readFleetPeer(p, "fleet[0]", "g1", { hosts: undefined, addressPlan: undefined }), undefined);
            assert.equal(readFleetPeer(p, "fleet[1]", "g2", { hosts: {}, addressPlan: { vlan10: { fixed: { "not-an-ip": "x" }, pools: {} } } }), undefined);
            assert.equal(readFleetPeer(p, "fleet[2]", "g3", { hosts: ["h1"], addressPlan: {} }), undefined);
            assert.deepEqual(p.list, [
                "fleet[0] g1 has no hosts and no addressPlan output: run `pulumi up` on stack g1 first (a stack joins macvlan:fleet once it is deployed), or remove it from macvlan:fleet",
                'fleet[1] g2 publishes an addressPlan this program cannot read (vlan10: "not-an-ip" in a segment\'s `fixed` is not an address)',
                "fleet[2] g3 publishes a `hosts` output that is not a map of host names: is it a stack of this program?",
            ]);
        });
    });
});
