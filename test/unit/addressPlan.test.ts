/**
 * The address plan of a LAN segment (issue 10 item 1): per-host slices of a network's dynamic
 * range, their rules (config/slices.ts), the plan (plan/addressPlan.ts), its stack output, and
 * its stability: adding, removing or reordering hosts leaves every other host's docker.Network
 * inputs exactly as they were (under the mocks, through index.ts).
 */
import * as assert from "node:assert/strict";
import fc from "fast-check";
// The mocks first (importing them sets them), then the code under test.
import "../support/mocks";
import { runProgram } from "../support/program";
import { TEST_PRIVATE_KEY, fakeHostKey } from "../support/keys";
import { cfg, ED25519, rawCfg, expectProblems, expectValid, node1, node2, pubNet, web, type Raw } from "../support/configs";
import { parseStackConfig } from "../../components/config/parse";
import { addressPlan, hostIpRange } from "../../components/plan/addressPlan";
import { planNetwork } from "../../components/plan/network";
import { parseCidr } from "../../components/net/addr";

const DOCKER_NETWORK = "docker:index/network:Network";

function node3(over: Raw = {}): Raw {
    return { name: "node3", address: "198.51.100.147", hostKey: ED25519, parent: "ens33", ...over };
}

/** pub_net with its ipRange split into /27 slices, away from the hosts' own addresses (.145-.147). */
function sliced(slices: Record<string, string | number>, over: Raw = {}): Raw {
    return pubNet({ ipRange: "198.51.100.160/27", slices, ...over });
}

describe("address plan: slices (config rules)", () => {
    it("accepts disjoint slices inside the ipRange, one per host", () => {
        expectValid(cfg([node1(), node2()], [sliced({ node1: "198.51.100.160/28", node2: "198.51.100.176/28" }, { containers: [web()] })]));
    });

    it("puts the slices in the model and gives each host its slice as ipRange; a network on one host, without slices, keeps its ipRange", () => {
        const m = parseStackConfig(
            cfg(
                [node1({ vlans: [50] }), node2({ vlans: [50] })],
                [sliced({ node1: "198.51.100.160/28", node2: "198.51.100.176/28" }), { name: "other", vlan: 50, subnet: "192.0.2.0/24", gateway: "192.0.2.1", ipRange: "192.0.2.64/26", hosts: ["node2"] }],
            ),
        );
        assert.deepEqual(m.networks[0].slices, { node1: "198.51.100.160/28", node2: "198.51.100.176/28" });
        assert.equal(hostIpRange(m.networks[0], "node2"), "198.51.100.176/28");
        assert.equal(hostIpRange(m.networks[1], "node2"), "192.0.2.64/26");
    });

    it("refuses a network on several hosts without slices (every engine would hand out the same range), suggesting them", () => {
        expectProblems(rawCfg([node1(), node2(), node3()], [pubNet({ ipRange: "198.51.100.160/27" })]), [
            "networks[0].slices is required: networks[0] (pub_net) spans hosts node1, node2, node3, and each host's engine hands out addresses on its own from the same ipRange 198.51.100.160/27, so two engines could give two containers the same address; give each host its own slice of the dynamic range (e.g. sliceSize: 29, slices: {node1: 0, node2: 1, node3: 2})",
        ]);
        // Without an ipRange, the example takes the upper half of the subnet (clear of a gateway at the bottom).
        expectProblems(rawCfg([node1({ vlans: [50] }), node2({ vlans: [50] })], [{ name: "low", vlan: 50, subnet: "192.0.2.0/24", gateway: "192.0.2.1" }]), [
            "networks[0].slices is required: networks[0] (low) spans hosts node1, node2, and each host's engine hands out addresses on its own from its whole subnet 192.0.2.0/24, so two engines could give two containers the same address; give each host its own slice of the dynamic range (e.g. ipRange: 192.0.2.128/25, sliceSize: 26, slices: {node1: 0, node2: 1})",
        ]);
        // The example is what it says: applied, the config passes.
        expectValid(rawCfg([node1(), node2(), node3()], [pubNet({ ipRange: "198.51.100.160/27", sliceSize: 29, slices: { node1: 0, node2: 1, node3: 2 } })]));
        // Several IPv4 pools on several hosts: slices divide one pool, so this cannot be made safe.
        expectProblems(
            rawCfg([node1(), node2()], [{ name: "multi", ipam: [{ subnet: "198.51.100.0/24", gateway: "198.51.100.1" }, { subnet: "192.0.2.0/24", gateway: "192.0.2.1" }] }]),
            [
                "networks[0] has 2 IPv4 pools and spans hosts node1, node2: each host's engine would hand out addresses on its own from the same pools, and slices divide one IPv4 pool; give each host its own network, or keep one IPv4 pool and slice it",
            ],
        );
        // One host: its engine is the only one handing out its range.
        expectValid(rawCfg([node1(), node2()], [pubNet({ hosts: ["node2"] })]));
    });

    it("refuses two single-host networks of one segment whose engines' pools overlap, and accepts them apart", () => {
        const one = (name: string, host: string, ipRange?: string): Raw => ({ name, vlan: 50, subnet: "192.0.2.0/24", gateway: "192.0.2.1", hosts: [host], ...(ipRange === undefined ? {} : { ipRange }) });
        const hosts = [node1({ vlans: [50] }), node2({ vlans: [50] })];
        expectProblems(rawCfg(hosts, [one("a", "node1"), one("b", "node2", "192.0.2.128/26")]), [
            "networks[1].ipRange 192.0.2.128/26 overlaps networks[0].subnet 192.0.2.0/24, the dynamic pool of host node1's engine on networks[0] (a) (LAN segment vlan 50): two engines could hand out the same address; give networks[1].ipRange a block disjoint from every other engine's pool, or slices",
        ]);
        expectValid(rawCfg(hosts, [one("a", "node1", "192.0.2.64/26"), one("b", "node2", "192.0.2.128/26")]));
    });

    it("refuses a slice outside the ipRange (or the subnet without one), an unknown host, overlapping slices and a host without a slice, each with its path", () => {
        expectProblems(cfg([node1(), node2(), node3()], [sliced({ node1: "198.51.100.160/28", node2: "198.51.100.168/29", node4: "198.51.100.176/29" })]), [
            "networks[0].slices.node2 198.51.100.168/29 overlaps networks[0].slices.node1 198.51.100.160/28: each host's slice must be its own, or two engines could hand out the same address",
            'networks[0].slices "node4" is not a host this network spans (node1, node2, node3): a slice is keyed by the name of a host in networks[0].hosts',
            "networks[0].slices has no slice for host node3: with slices, every host the network spans needs its own (e.g. node3: <a block of 198.51.100.160/27>), or its engine would hand out the whole range",
        ]);
        expectProblems(cfg([node1(), node2()], [sliced({ node1: "198.51.100.0/28", node2: "10.0.0.0/30" })]), [
            "networks[0].slices.node1 198.51.100.0/28 does not lie inside the network's ipRange 198.51.100.160/27",
            "networks[0].slices.node2 10.0.0.0/30 does not lie inside the network's ipRange 198.51.100.160/27",
        ]);
        expectProblems(cfg([node1(), node2()], [pubNet({ slices: { node1: "198.51.100.160/28", node2: "10.0.0.0/30" } })]), [
            "networks[0].slices.node2 10.0.0.0/30 does not lie inside the network's subnet 198.51.100.0/24",
        ]);
        expectProblems(cfg([node1(), node2()], [pubNet({ slices: ["198.51.100.160/28"] })]), ['networks[0].slices ["198.51.100.160/28"] must be a map of host name to CIDR or slot number, not a list']);
    });

    it("numbered slots: sliceSize divides the range, a host's slot number picks its block; a slot out of range or without sliceSize is refused", () => {
        const m = parseStackConfig(cfg([node1(), node2(), node3()], [sliced({ node1: 0, node3: 3, node2: "198.51.100.168/29" }, { sliceSize: 29 })]));
        assert.deepEqual(m.networks[0].slices, { node1: "198.51.100.160/29", node3: "198.51.100.184/29", node2: "198.51.100.168/29" });
        expectProblems(cfg([node1(), node2()], [sliced({ node1: 4, node2: 1.5 }, { sliceSize: 29 })]), [
            "networks[0].slices.node1 4 is not a slot of 198.51.100.160/27 in /29 slices: 0-3",
            "networks[0].slices.node2 1.5 is not a slot of 198.51.100.160/27 in /29 slices: 0-3",
        ]);
        expectProblems(cfg([node1(), node2()], [sliced({ node1: 0, node2: "198.51.100.176/28" })]), [
            "networks[0].slices.node1 0 is a slot number, which needs networks[0].sliceSize (a prefix length); or give the slice as a CIDR",
        ]);
        expectProblems(cfg([node1(), node2()], [sliced({ node1: 0, node2: 1 }, { sliceSize: 27 })]), [
            "networks[0].sliceSize 27 must be longer than the prefix of 198.51.100.160/27, which it divides into numbered slices",
        ]);
        expectProblems(cfg([node1()], [pubNet({ sliceSize: 28 })]), ["networks[0].sliceSize is set but networks[0].slices is not: give each host its slot number (e.g. node1: 0)"]);
    });

    it("refuses a fixed address inside a slice where that engine could hand it out: a host's own address, another host's container, a shim, another network's aux", () => {
        expectProblems(
            cfg(
                [node1({ address: "198.51.100.161" }), node2({ shim: { address: "198.51.100.178" } })],
                [sliced({ node1: "198.51.100.160/28", node2: "198.51.100.176/28" }, { containers: [web({ host: "node2", ip: "198.51.100.162" })] })],
            ),
            [
                "networks[0].containers[0].ip 198.51.100.162 is container web of networks[0] (pub_net) on host node2 and lies inside networks[0].slices.node1 198.51.100.160/28, host node1's slice of networks[0] (pub_net): that engine could hand it out; choose an address outside the slice (or move the slice)",
                "hosts[0].address 198.51.100.161 is the LAN address of host node1 and lies inside networks[0].slices.node1 198.51.100.160/28, host node1's slice of networks[0] (pub_net): that engine could hand it out; list it in networks[0].auxAddresses or choose an address outside the slice",
                "hosts[1].shim.address 198.51.100.178 is the shim of host node2 and lies inside networks[0].slices.node2 198.51.100.176/28, host node2's slice of networks[0] (pub_net): that engine could hand it out; list it in networks[0].auxAddresses or choose an address outside the slice",
            ],
        );
    });

    it("refuses another network's aux address inside a slice (it is not reserved on the sliced network)", () => {
        expectProblems(
            cfg(
                [node1(), node2(), node3()],
                [sliced({ node1: "198.51.100.160/28", node2: "198.51.100.176/28" }, { hosts: ["node1", "node2"] }), pubNet({ name: "other", hosts: ["node3"], ipRange: "198.51.100.192/29", auxAddresses: { printer: "198.51.100.163" } })],
            ),
            [
                "networks[1].auxAddresses.printer 198.51.100.163 is reserved as networks[1].auxAddresses.printer and lies inside networks[0].slices.node1 198.51.100.160/28, host node1's slice of networks[0] (pub_net): that engine could hand it out; list it in networks[0].auxAddresses or choose an address outside the slice",
            ],
        );
    });

    it("accepts what the engine holds already in its own slice: the network's aux addresses, its gateway, its own containers on that host", () => {
        expectValid(
            cfg(
                [node1({ address: "198.51.100.161" }), node2({ shim: { address: "198.51.100.178" } })],
                [
                    sliced(
                        { node1: "198.51.100.160/28", node2: "198.51.100.176/28" },
                        { auxAddresses: { node1: "198.51.100.161", "node2-shim": "198.51.100.178" }, containers: [web({ ip: "198.51.100.162" })] },
                    ),
                ],
            ),
        );
        expectValid(cfg([node1(), node2()], [pubNet({ gateway: "198.51.100.161", slices: { node1: "198.51.100.160/28", node2: "198.51.100.176/28" } })]));
    });

    it("refuses a slice that overlaps another engine's pool on the segment (another network's ipRange or subnet on another host)", () => {
        expectProblems(
            cfg(
                [node1(), node2(), node3()],
                [sliced({ node1: "198.51.100.160/28", node2: "198.51.100.176/28" }, { hosts: ["node1", "node2"] }), pubNet({ name: "other", hosts: ["node3"], ipRange: "198.51.100.176/29" })],
            ),
            [
                "networks[0].slices.node2 198.51.100.176/28 overlaps networks[1].ipRange 198.51.100.176/29, the dynamic pool of host node3's engine on networks[1] (other) (the untagged LAN segment): two engines could hand out the same address; make the slices disjoint from every other engine's pool",
            ],
        );
        // Disjoint: accepted (the other network's pool then must also keep pub_net's fixed addresses out: its ipRange does).
        expectValid(
            cfg(
                [node1(), node2(), node3()],
                [sliced({ node1: "198.51.100.160/28", node2: "198.51.100.176/28" }, { hosts: ["node1", "node2"] }), pubNet({ name: "other", hosts: ["node3"], ipRange: "198.51.100.192/29" })],
            ),
        );
    });

    it("refuses a slice that leaves its engine nothing to hand out", () => {
        expectProblems(cfg([node1(), node2()], [pubNet({ slices: { node1: "198.51.100.12/32", node2: "198.51.100.176/28" }, containers: [web()] })]), [
            "networks[0].slices.node1 198.51.100.12/32 leaves host node1's engine no address to hand out on networks[0] (pub_net): all 1 of its addresses are held already (network, broadcast, gateway, aux addresses, pinned containers); make it larger",
        ]);
    });

    it("property: accepted slices of one segment are pairwise disjoint across engines, and no fixed address lies in a slice unless that engine holds it", () => {
        let accepted = 0;
        // Random /28 slots of 198.51.100.128/25 for up to 6 hosts; a random pinned container each.
        fc.assert(
            fc.property(fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 2, max: 254 }), { minLength: 6, maxLength: 6 }), (slots, ips) => {
                const hosts = slots.map((_, i) => ({ name: `h${i}`, address: `192.0.2.${i + 1}`, hostKey: ED25519, parent: "ens33" }));
                const slices = Object.fromEntries(slots.map((s, i) => [`h${i}`, `198.51.100.${128 + s * 16}/28`]));
                const containers = slots.map((_, i) => ({ name: `c${i}`, host: `h${i}`, image: "busybox:1", ip: `198.51.100.${ips[i]}` }));
                let model;
                try {
                    model = parseStackConfig(cfg(hosts, [pubNet({ ipRange: "198.51.100.128/25", slices, containers })]));
                } catch {
                    return; // refused: nothing to hold
                }
                accepted++;
                const n = model.networks[0];
                const blocks = n.hosts.map((h) => {
                    const r = parseCidr(hostIpRange(n, h) as string);
                    assert.ok(r.ok);
                    return { h, b: r.value };
                });
                for (let i = 0; i < blocks.length; i++) for (let j = i + 1; j < blocks.length; j++) assert.ok(!blocks[i].b.overlaps(blocks[j].b));
                for (const c of n.containers) {
                    for (const { h, b } of blocks) {
                        const r = parseCidr(`${c.attachments[0].ipv4Address}/32`);
                        assert.ok(r.ok);
                        if (b.contains(r.value)) assert.equal(c.host, h, `${c.name} lies in ${h}'s slice`);
                    }
                }
            }),
            { numRuns: 200 },
        );
        assert.ok(accepted > 10, `only ${accepted} of 200 random configs were accepted`);
    });
});

describe("address plan: the plan and the component", () => {
    it("gives each host's docker.Network its slice in place of the pool's ipRange, everything else as before", () => {
        const r = planNetwork("pub_net", {
            ipam: [{ subnet: "198.51.100.0/24", gateway: "198.51.100.1", ipRange: "198.51.100.160/27" }],
            auxAddresses: { a: "198.51.100.5" },
            hosts: [{ name: "node1", ipRange: "198.51.100.160/28" }, { name: "node2" }],
        });
        assert.deepEqual(r.ipam, [{ subnet: "198.51.100.0/24", gateway: "198.51.100.1", ipRange: "198.51.100.160/27", auxAddress: { a: "198.51.100.5" } }]);
        assert.deepEqual(r.ipamByHost?.get("node1"), [{ subnet: "198.51.100.0/24", gateway: "198.51.100.1", ipRange: "198.51.100.160/28", auxAddress: { a: "198.51.100.5" } }]);
        assert.deepEqual(r.ipamByHost?.get("node2"), r.ipam);
        assert.deepEqual(planNetwork("n", { ipam: [{ subnet: "198.51.100.0/24" }], hosts: [{ name: "x", ipRange: "10.0.0.0/30" }] }).problems, ["MacvlanNetwork n: host x's ipRange 10.0.0.0/30 is not inside any subnet"]);
        assert.deepEqual(
            planNetwork("n", { ipam: [{ subnet: "198.51.100.0/24" }], hosts: [{ name: "x", ipRange: "198.51.100.128/26" }, { name: "y", ipRange: "198.51.100.160/27" }] }).problems,
            ["MacvlanNetwork n: host y's ipRange 198.51.100.160/27 overlaps host x's 198.51.100.128/26"],
        );
    });

    it("describes each segment: subnets, each engine's pool, every fixed address and every container's MAC with its holder", () => {
        const m = parseStackConfig(
            cfg([node1({ shim: { address: "198.51.100.250" } }), node2()], [sliced({ node1: "198.51.100.160/28", node2: "198.51.100.176/28" }, { auxAddresses: { "node1-shim": "198.51.100.250" }, containers: [web()] })]),
        );
        assert.deepEqual(addressPlan(m), {
            untagged: {
                vlan: null,
                subnets: ["198.51.100.0/24"],
                pools: { pub_net: { node1: ["198.51.100.160/28"], node2: ["198.51.100.176/28"] } },
                fixed: {
                    "198.51.100.1": "gateway of pub_net",
                    "198.51.100.12": "container web of pub_net on node1",
                    "198.51.100.145": "host node1",
                    "198.51.100.146": "host node2",
                    "198.51.100.250": "aux node1-shim of pub_net; shim of host node1",
                },
                macs: { "02:42:c6:33:64:0c": "container web of pub_net on node1" },
            },
        });
    });
});

describe("address plan: stable under adding and removing hosts (index.ts under mocks)", function () {
    this.timeout(120_000);

    /** A stack of `hosts` (names from node1..node4), pub_net sliced by each host's own named slice. */
    function stack(names: readonly string[]): Record<string, unknown> {
        const slot: Record<string, number> = { node1: 0, node2: 1, node3: 2, node4: 3 };
        return {
            "macvlan:sshPrivateKey": TEST_PRIVATE_KEY,
            "macvlan:hosts": names.map((n) => ({ name: n, address: `198.51.100.${20 + slot[n]}`, hostKey: fakeHostKey(n), parent: "ens33" })),
            "macvlan:networks": [
                {
                    name: "pub_net",
                    subnet: "198.51.100.0/24",
                    gateway: "198.51.100.1",
                    ipRange: "198.51.100.128/25",
                    slices: Object.fromEntries(names.map((n) => [n, `198.51.100.${128 + 16 * slot[n]}/28`])),
                    containers: names.map((n) => ({ name: `c-${n}`, host: n, image: "busybox:1", ip: `198.51.100.${40 + slot[n]}` })),
                },
            ],
        };
    }

    /** The registered docker.Network inputs, by resource name. */
    async function networkInputs(names: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
        const { resources } = await runProgram(stack(names));
        return new Map(resources.filter((r) => r.type === DOCKER_NETWORK).map((r) => [r.name, r.inputs]));
    }

    it("appending hosts, removing one and reordering leave every remaining host's docker.Network inputs unchanged", async () => {
        const steps: string[][] = [["node1", "node2"], ["node1", "node2", "node3"], ["node1", "node2", "node3", "node4"], ["node1", "node3", "node4"], ["node4", "node3", "node1"]];
        let before = await networkInputs(steps[0]);
        for (const names of steps.slice(1)) {
            const after = await networkInputs(names);
            assert.deepEqual([...after.keys()].sort(), names.map((n) => `pub_net-${n}`).sort());
            for (const [name, inputs] of after) {
                if (before.has(name)) assert.deepEqual(inputs, before.get(name), `${name} changed going to [${names.join(", ")}]`);
            }
            // Each host's network has its own slice, disjoint from the others'.
            const ranges = [...after.values()].map((i) => ((i.ipamConfigs as { ipRange: string }[])[0]).ipRange);
            assert.equal(new Set(ranges).size, ranges.length);
            before = after;
        }
    });

    it("exports the plan as the addressPlan stack output", async () => {
        const { outputs } = await runProgram(stack(["node1", "node2"]));
        const plan = (outputs as { addressPlan: Record<string, { pools: unknown }> }).addressPlan;
        assert.deepEqual(plan.untagged.pools, { pub_net: { node1: ["198.51.100.128/28"], node2: ["198.51.100.144/28"] } });
    });
});
