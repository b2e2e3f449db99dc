/**
 * Several IPAM pools per network, and dual stack (issue 10 item 3): the `ipam` list beside the
 * one-pool shorthand, IPv6 pools validated as IPv4 ones are, a container's `ip6`, the address plan
 * of every pool, and what reaches docker.Network and docker.Container (index.ts under mocks).
 */
import * as assert from "node:assert/strict";
import fc from "fast-check";
// The mocks first (importing them sets them), then the code under test.
import "../support/mocks";
import * as docker from "@pulumi/docker";
import { recorded, reset } from "../support/mocks";
import { runProgram, runUnderMocks } from "../support/program";
import { fakeProber } from "../support/prober";
import * as pulumi from "@pulumi/pulumi";
import { byName } from "../support/records";
import { TEST_PRIVATE_KEY, fakeHostKey } from "../support/keys";
import { cfg, expectProblems, expectValid, node1, node2, problemsOf, pubNet, web, type Raw } from "../support/configs";
import { parseStackConfig } from "../../components/config/parse";
import { addressPlan, hostIpRange } from "../../components/plan/addressPlan";
import { planNetwork } from "../../components/plan/network";
import { MacvlanNetwork, containerArgs } from "../../components/macvlanNetwork";

const DOCKER_NETWORK = "docker:index/network:Network";
const DOCKER_CONTAINER = "docker:index/container:Container";

const V4 = { subnet: "198.51.100.0/24", gateway: "198.51.100.1" };
const V4B = { subnet: "192.0.2.0/24", gateway: "192.0.2.1" };
const V6 = { subnet: "2001:db8::/64", gateway: "2001:db8::1" };

/** pub_net with the given pools in `ipam` (and no shorthand keys). */
function pooled(ipam: unknown[], over: Raw = {}): Raw {
    return { name: "pub_net", ipam, ...over };
}

describe("IPAM pools and dual stack: config", () => {
    describe("the ipam list", () => {
        it("accepts two IPv4 pools and an IPv6 pool, and puts every pool (config order) and each container's ip6 in the model", () => {
            const m = parseStackConfig(
                // (On one host: several IPv4 pools cannot be sliced across hosts.)
                cfg([node1(), node2()], [pooled([V4, { ...V6, ipRange: "2001:db8::100/120" }, { ...V4B, ipRange: "192.0.2.128/25" }], {
                    hosts: ["node1"],
                    containers: [web({ ip6: "2001:db8::12" }), web({ name: "db", ip: "192.0.2.20", ip6: "2001:db8:0:0::0:20" })],
                })]),
            );
            assert.deepEqual(m.networks[0].ipam, [
                { subnet: "198.51.100.0/24", gateway: "198.51.100.1" },
                { subnet: "2001:db8::/64", gateway: "2001:db8::1", ipRange: "2001:db8::100/120" },
                { subnet: "192.0.2.0/24", gateway: "192.0.2.1", ipRange: "192.0.2.128/25" },
            ]);
            assert.deepEqual(m.networks[0].containers[0].attachments, [{ network: "pub_net", ipv4Address: "198.51.100.12", ipv6Address: "2001:db8::12", mac: "02:42:c6:33:64:0c" }]);
            // RFC 5952 text, whatever was written.
            assert.equal(m.networks[0].containers[1].attachments[0].ipv6Address, "2001:db8::20");
            assert.equal(m.networks[0].containers[1].attachments[0].ipv4Address, "192.0.2.20");
        });

        it("keeps the one-pool shorthand as it was: one pool, no ipv6Address", () => {
            const m = parseStackConfig(cfg([node1()], [pubNet({ ipRange: "198.51.100.128/25", containers: [web()] })]));
            assert.deepEqual(m.networks[0].ipam, [{ subnet: "198.51.100.0/24", gateway: "198.51.100.1", ipRange: "198.51.100.128/25" }]);
            assert.deepEqual(m.networks[0].containers[0].attachments, [{ network: "pub_net", ipv4Address: "198.51.100.12", mac: "02:42:c6:33:64:0c" }]);
        });

        it("the shorthand and a one-pool ipam give the same model, so moving between them changes no input", () => {
            const pool = { subnet: "198.51.100.0/24", gateway: "198.51.100.1", ipRange: "198.51.100.128/25" };
            const a = parseStackConfig(cfg([node1()], [{ name: "pub_net", ...pool, containers: [web()] }]));
            const b = parseStackConfig(cfg([node1()], [pooled([pool], { containers: [web()] })]));
            assert.deepEqual(b, a);
        });

        it("refuses both forms at once, naming the shorthand keys given", () => {
            expectProblems(cfg([node1()], [pooled([V4], { subnet: "198.51.100.0/24", ipRange: "198.51.100.0/25" })]), [
                "networks[0].ipam is given together with networks[0].subnet, networks[0].ipRange: give one pool as networks[0].subnet, gateway and ipRange, or every pool in networks[0].ipam, not both",
            ]);
        });

        it("refuses an empty list, a list of the wrong type, a pool that is not a map, unknown pool keys and missing subnet and gateway", () => {
            expectProblems(cfg([node1()], [pooled([])]), ["networks[0].ipam [] must list at least one pool {subnet, gateway, ipRange}"]);
            expectProblems(cfg([node1()], [pooled({ subnet: "198.51.100.0/24" } as never)]), [
                'networks[0].ipam {"subnet":"198.51.100.0/24"} must be a list of pools {subnet, gateway, ipRange}, not a map',
            ]);
            expectProblems(cfg([node1()], [pooled(["198.51.100.0/24", { ...V4B, ip_range: "192.0.2.0/25" }, {}])]), [
                'networks[0].ipam[0] "198.51.100.0/24" must be a map, not a string',
                "networks[0].ipam[1].ip_range is not a known key of a pool; did you mean ipRange? known keys: subnet, gateway, ipRange",
                "networks[0].ipam[2].subnet is required",
                "networks[0].ipam[2].gateway is required: the LAN's real router (Docker before 29 invents one when it is missing, and 29+ gives the containers no default route)",
            ]);
        });

        it("refuses overlapping pools of one network, IPv4 and IPv6 alike", () => {
            expectProblems(cfg([node1()], [pooled([V4, { subnet: "198.51.100.128/25", gateway: "198.51.100.129" }, V6, { subnet: "2001:db8::/48", gateway: "2001:db8::2" }])]), [
                "networks[0].ipam[1].subnet 198.51.100.128/25 overlaps networks[0].ipam[0].subnet 198.51.100.0/24: the pools of one network must not overlap",
                "networks[0].ipam[3].subnet 2001:db8::/48 overlaps networks[0].ipam[2].subnet 2001:db8::/64: the pools of one network must not overlap",
            ]);
        });

        it("refuses IPv6 alone: an IPv6 pool needs an IPv4 pool beside it (dual stack)", () => {
            expectProblems(cfg([node1()], [pooled([V6])]), [
                "networks[0].ipam has no IPv4 pool; IPv6 is supported as dual stack only (a container's ip, its MAC and a host's shim are IPv4): list an IPv4 pool and the IPv6 one in networks[0].ipam",
            ]);
            expectProblems(cfg([node1()], [pubNet(V6)]), [
                "networks[0].subnet 2001:db8::/64 is an IPv6 subnet, and a network needs an IPv4 pool; IPv6 is supported as dual stack only (a container's ip, its MAC and a host's shim are IPv4): list an IPv4 pool and the IPv6 one in networks[0].ipam",
            ]);
        });
    });

    describe("an IPv6 pool, validated as an IPv4 one is", () => {
        const v6pool = (over: Raw) => cfg([node1()], [pooled([V4, { ...V6, ...over }])]);
        it("refuses subnets no LAN can have: link-local, multicast, loopback, IPv4-mapped, ::/0", () => {
            const cases: [string, string][] = [
                ["fe80::/64", "cannot be a LAN subnet: link-local (fe80::/10) is every link's own, which the kernel gives each interface and no LAN routes"],
                ["fe00::/8", "cannot be a LAN subnet: it covers link-local (fe80::/10), which is every link's own, which the kernel gives each interface and no LAN routes"],
                ["ff02::/64", "cannot be a LAN subnet: multicast (ff00::/8) addresses groups, not hosts"],
                ["::1/128", "cannot be a LAN subnet: loopback (::1) never leaves a host"],
                ["::ffff:0:0/96", "cannot be a LAN subnet: IPv4-mapped addresses (::ffff:0:0/96) stand for IPv4 hosts, not IPv6 ones"],
                ["::/0", "cannot be a LAN subnet: a /0 is every address there is"],
            ];
            for (const [subnet, rule] of cases) {
                // The gateway cannot be placed without the subnet: one problem per mistake.
                expectProblems(v6pool({ subnet, gateway: "2001:db8::1" }), [`networks[0].ipam[1].subnet ${subnet} ${rule}`]);
            }
        });

        it("says what a subnet with host bits should be, and refuses a prefix beyond 128", () => {
            expectProblems(v6pool({ subnet: "2001:db8::1/64" }), ["networks[0].ipam[1].subnet 2001:db8::1/64 has host bits set; did you mean 2001:db8::/64?"]);
            expectProblems(v6pool({ subnet: "2001:db8::/129", gateway: "2001:db8::1" }), ["networks[0].ipam[1].subnet 2001:db8::/129 has a prefix length outside 0-128"]);
        });

        it("checks the gateway: inside the subnet, not its network address (there is no broadcast), of its family, no prefix", () => {
            const cases: [string, string][] = [
                ["2001:db8:1::1", "does not belong to subnet 2001:db8::/64"],
                ["2001:db8::", "is the network address of subnet 2001:db8::/64"],
                ["198.51.100.1", "does not belong to subnet 2001:db8::/64"],
                ["2001:db8::1/64", "must be an address without a prefix length; did you mean 2001:db8::1?"],
            ];
            for (const [gateway, rule] of cases) expectProblems(v6pool({ gateway }), [`networks[0].ipam[1].gateway ${gateway} ${rule}`]);
            // The last address of an IPv6 subnet is an ordinary address.
            expectValid(v6pool({ gateway: "2001:db8::ffff:ffff:ffff:ffff" }));
        });

        it("checks ipRange against the subnet", () => {
            expectProblems(v6pool({ ipRange: "2001:db8:1::/120" }), ["networks[0].ipam[1].ipRange 2001:db8:1::/120 does not belong to subnet 2001:db8::/64"]);
            expectProblems(v6pool({ ipRange: "2001:db8::1/120" }), ["networks[0].ipam[1].ipRange 2001:db8::1/120 has host bits set; did you mean 2001:db8::/120?"]);
        });

        it("takes aux addresses in any pool, refusing the gateway of another pool and an address outside every pool of its family", () => {
            expectValid(cfg([node1()], [pooled([V4, V6], { auxAddresses: { router6: "2001:db8::fe", printer: "198.51.100.5" } })]));
            expectProblems(cfg([node1()], [pooled([V4, V6], { auxAddresses: { a: "2001:db8::1", b: "2001:db8:9::5", c: "192.0.2.5" } })]), [
                "networks[0].auxAddresses.a 2001:db8::1 is the gateway networks[0].ipam[1].gateway",
                "networks[0].auxAddresses.b 2001:db8:9::5 does not belong to subnet 2001:db8::/64",
                "networks[0].auxAddresses.c 192.0.2.5 does not belong to subnet 198.51.100.0/24",
            ]);
            expectProblems(cfg([node1()], [pubNet({ auxAddresses: { a: "2001:db8::5" } })]), ["networks[0].auxAddresses.a 2001:db8::5 is an IPv6 address, and networks[0] has no IPv6 pool"]);
        });
    });

    describe("a container's ip and ip6", () => {
        const dual = (containers: unknown[], hosts: unknown[] = [node1(), node2()]) => cfg(hosts, [pooled([V4, V6], { containers })]);

        it("refuses an ip6 outside the IPv6 pools, at the subnet's network address, at the gateway, or an IPv4 address", () => {
            expectProblems(dual([web({ ip6: "2001:db8:1::5" })]), ["networks[0].containers[0].ip6 2001:db8:1::5 does not belong to subnet 2001:db8::/64"]);
            expectProblems(dual([web({ ip6: "2001:db8::" })]), ["networks[0].containers[0].ip6 2001:db8:: is the network address of subnet 2001:db8::/64"]);
            expectProblems(dual([web({ ip6: "2001:db8::1" })]), ["networks[0].containers[0].ip6 2001:db8::1 is the gateway networks[0].ipam[1].gateway"]);
            expectProblems(dual([web({ ip6: "198.51.100.12" })]), ["networks[0].containers[0].ip6 198.51.100.12 is an IPv4 address; a container's IPv4 address goes in networks[0].containers[0].ip"]);
            expectProblems(dual([web({ ip6: "2001:db8::5/64" })]), ["networks[0].containers[0].ip6 2001:db8::5/64 must be an address without a prefix length; did you mean 2001:db8::5?"]);
            expectProblems(dual([web({ ip6: 5 })]), ["networks[0].containers[0].ip6 5 must be a string, not a number"]);
        });

        it("requires ip6 on a network with an IPv6 pool, and refuses it on one without", () => {
            expectProblems(dual([web()]), [
                "networks[0].containers[0].ip6 is required: networks[0] has an IPv6 pool (2001:db8::/64), and without a pinned address each host's engine picks the pool's first free one, the same on every host",
            ]);
            expectProblems(cfg([node1()], [pubNet({ containers: [web({ ip6: "2001:db8::12" })] })]), [
                "networks[0].containers[0].ip6 2001:db8::12 is given, but networks[0] has no IPv6 pool; add one to networks[0].ipam, or remove it",
            ]);
        });

        it("takes an ip in any IPv4 pool, and names them all when it is in none", () => {
            expectValid(cfg([node1()], [pooled([V4, V4B], { containers: [web({ ip: "192.0.2.12" })] })]));
            expectProblems(cfg([node1()], [pooled([V4, V4B], { containers: [web({ ip: "203.0.113.12" })] })]), [
                "networks[0].containers[0].ip 203.0.113.12 does not belong to any of the subnets 198.51.100.0/24, 192.0.2.0/24",
            ]);
            expectProblems(cfg([node1()], [pooled([V4, V4B], { containers: [web({ ip: "192.0.2.255" })] })]), [
                "networks[0].containers[0].ip 192.0.2.255 is the broadcast address of subnet 192.0.2.0/24",
            ]);
        });

        it("refuses an ip6 used twice on a segment, across hosts and networks; another VLAN is another segment", () => {
            expectProblems(dual([web({ ip6: "2001:db8::12" }), web({ name: "db", host: "node2", ip: "198.51.100.13", ip6: "2001:db8::12" })]), [
                "networks[0].containers[1].ip6 2001:db8::12 is already used by networks[0].containers[0].ip6 on the untagged LAN segment",
            ]);
            const two = (vlan?: number) =>
                cfg(
                    [node1({ vlans: [50] }), node2({ vlans: [50] })],
                    [
                        pooled([{ ...V4, ipRange: "198.51.100.128/26" }, V6], { hosts: ["node1"], containers: [web({ ip6: "2001:db8::12" })] }),
                        pooled([{ ...V4, ipRange: "198.51.100.192/26" }, V6], { name: "other", hosts: ["node2"], ...(vlan === undefined ? {} : { vlan }), containers: [web({ name: "db", host: "node2", ip: "198.51.100.13", ip6: "2001:db8::12" })] }),
                    ],
                );
            expectProblems(two(), ["networks[1].containers[0].ip6 2001:db8::12 is already used by networks[0].containers[0].ip6 on the untagged LAN segment"]);
            expectValid(two(50));
        });

        it("refuses an ip6 at another network's gateway or aux address on the segment", () => {
            const raw = cfg(
                [node1(), node2({ dockerVersion: "27.0" })],
                [
                    pooled([{ ...V4, ipRange: "198.51.100.128/26" }, V6], { hosts: ["node1"], auxAddresses: { nas: "2001:db8::7" } }),
                    pooled([{ ...V4, ipRange: "198.51.100.192/26" }, { ...V6, gateway: "2001:db8::fe" }], { name: "other", hosts: ["node2"], containers: [web({ host: "node2", ip6: "2001:db8::1" }), web({ name: "db", host: "node2", ip: "198.51.100.13", ip6: "2001:db8::7" })] }),
                ],
            );
            expectProblems(raw, [
                "networks[1].containers[0].ip6 2001:db8::1 is the gateway networks[0].ipam[1].gateway",
                "networks[1].containers[1].ip6 2001:db8::7 is reserved as networks[0].auxAddresses.nas",
            ]);
        });

        it("property: every address of the /64 but its network address and the gateway is a valid ip6; every address outside it is refused with the subnet", () => {
            fc.assert(
                fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), (host, any) => {
                    const inside = `2001:db8::${[48n, 32n, 16n, 0n].map((s) => ((host >> s) & 0xffffn).toString(16)).join(":")}`;
                    const problems = (() => {
                        try {
                            parseStackConfig(dual([web({ ip6: inside })], [node1()]));
                            return [];
                        } catch (e) {
                            return (e as { problems: string[] }).problems;
                        }
                    })();
                    if (host === 0n || host === 1n) assert.equal(problems.length, 1);
                    else assert.deepEqual(problems, []);
                    const hex = any.toString(16).padStart(32, "0");
                    const outside = hex.match(/.{4}/g)?.join(":") ?? "";
                    if (!outside.startsWith("2001:0db8:0000:0000:")) {
                        const p = problemsOf(dual([web({ ip6: outside })], [node1()]));
                        assert.equal(p.length, 1);
                        assert.match(p[0], /^networks\[0\]\.containers\[0\]\.ip6 \S+ (does not belong to subnet 2001:db8::\/64|is an IPv4 address)/);
                    }
                }),
                { numRuns: 200 },
            );
        });
    });

    describe("across networks", () => {
        it("refuses overlapping IPv6 pools of networks that share a parent, naming the pools", () => {
            expectProblems(cfg([node1({ dockerVersion: "27.0" })], [pooled([V4, V6]), pooled([V4B, { subnet: "2001:db8::/56", gateway: "2001:db8::2" }], { name: "other" })]), [
                "networks[1].ipam[1].subnet 2001:db8::/56 overlaps networks[0].ipam[1].subnet 2001:db8::/64 on host node1 (parent ens33)",
            ]);
        });

        it("places a shim in the IPv4 pool that holds it, and checks that pool's ipRange", () => {
            expectProblems(cfg([node1({ shim: { address: "192.0.2.200" } })], [pooled([V4, { ...V4B, ipRange: "192.0.2.128/25" }, V6])]), [
                "hosts[0].shim.address 192.0.2.200 is inside networks[0].ipam[1].ipRange 192.0.2.128/25, so Docker may hand it out: list it in networks[0].auxAddresses (e.g. node1-shim: 192.0.2.200) or choose an address outside the ipRange",
            ]);
            expectValid(cfg([node1({ shim: { address: "192.0.2.100" } })], [pooled([{ ...V4, ipRange: "198.51.100.128/25" }, { ...V4B, ipRange: "192.0.2.128/25" }, V6])]));
        });
    });

    describe("slices", () => {
        it("divide the network's one IPv4 pool; an IPv6 pool beside it is sent whole to every host", () => {
            const m = parseStackConfig(
                cfg([node1(), node2()], [pooled([{ ...V4, ipRange: "198.51.100.160/27" }, V6], { slices: { node1: "198.51.100.160/28", node2: "198.51.100.176/28" } })]),
            );
            assert.deepEqual(m.networks[0].slices, { node1: "198.51.100.160/28", node2: "198.51.100.176/28" });
        });

        it("are refused on a network with several IPv4 pools", () => {
            expectProblems(cfg([node1(), node2()], [pooled([V4, V4B], { slices: { node1: "198.51.100.160/28", node2: "198.51.100.176/28" } })]), [
                "networks[0].slices need a network with one IPv4 pool, and networks[0].ipam has 2: a host's slice replaces the ipRange of the pool that holds it, so every host's engine would hand out the other pools whole; give the network one IPv4 pool",
            ]);
        });

        it("a second IPv4 pool of an unsliced network is a dynamic pool of each engine, which a sliced network's slice must not overlap", () => {
            const raw = cfg(
                [node1({ dockerVersion: "27.0" }), node2({ dockerVersion: "27.0" })],
                [
                    pooled([V4B, { ...V4, ipRange: "198.51.100.160/27" }], { name: "a", hosts: ["node1"] }),
                    pubNet({ name: "b", ipRange: "198.51.100.128/26", hosts: ["node2"], slices: { node2: "198.51.100.160/28" } }),
                ],
            );
            expectProblems(raw, [
                "networks[1].slices.node2 198.51.100.160/28 overlaps networks[0].ipam[1].ipRange 198.51.100.160/27, the dynamic pool of host node1's engine on networks[0] (a) (the untagged LAN segment): two engines could hand out the same address; make the slices disjoint from every other engine's pool",
            ]);
        });
    });
});

describe("IPAM pools and dual stack: the plan", () => {
    it("hostIpRange: a host's slice, else the ipRange of the first IPv4 pool (an IPv6 pool listed first is not it)", () => {
        const m = parseStackConfig(cfg([node1()], [pooled([{ ...V6, ipRange: "2001:db8::100/120" }, { ...V4, ipRange: "198.51.100.128/25" }])]));
        assert.equal(hostIpRange(m.networks[0], "node1"), "198.51.100.128/25");
    });

    it("a host's slice replaces the ipRange of the pool whose subnet holds it, the second pool included; the others are sent as they are", () => {
        const r = planNetwork("n", {
            ipam: [V4B, { ...V6, ipRange: "2001:db8::100/120" }, { ...V4, ipRange: "198.51.100.128/25" }],
            hosts: [{ name: "h1", ipRange: "198.51.100.128/27" }, { name: "h2", ipRange: "198.51.100.160/27" }, { name: "h3" }],
        });
        assert.deepEqual(r.problems, []);
        assert.equal(r.ipv6, true);
        assert.deepEqual(r.ipamByHost?.get("h2"), [V4B, { ...V6, ipRange: "2001:db8::100/120" }, { ...V4, ipRange: "198.51.100.160/27" }]);
        assert.deepEqual(r.ipamByHost?.get("h3"), [V4B, { ...V6, ipRange: "2001:db8::100/120" }, { ...V4, ipRange: "198.51.100.128/25" }]);
        assert.equal(planNetwork("n", { ipam: [V4, V4B], hosts: [{ name: "h1" }] }).ipv6, false);
        assert.deepEqual(planNetwork("n", { ipam: [V6], hosts: [{ name: "h1" }] }).problems, ["MacvlanNetwork n: has an IPv6 pool but no IPv4 pool; IPv6 is supported as dual stack only"]);
        const containers = [
            { name: "a", host: "h1", ipv6Address: "2001:db8:1::5" },
            { name: "b", host: "h1", ipv6Address: "198.51.100.5" },
            { name: "c", host: "h1", ipv6Address: "2001:db8::5" },
        ];
        assert.deepEqual(planNetwork("n", { ipam: [V4, V6], hosts: [{ name: "h1" }], containers }).problems, [
            "MacvlanNetwork n: container a's ipv6Address 2001:db8:1::5 is not inside any IPv6 pool",
            "MacvlanNetwork n: container b's ipv6Address 198.51.100.5 is not an IPv6 address",
        ]);
    });

    it("the address plan shows every pool per host (its slice in the pool that holds it) and the ip6 addresses after the IPv4 ones", () => {
        const m = parseStackConfig(
            cfg(
                [node1(), node2()],
                [pooled([{ ...V4, ipRange: "198.51.100.160/27" }, { ...V6, ipRange: "2001:db8::100/120" }], { slices: { node1: "198.51.100.160/28", node2: "198.51.100.176/28" }, containers: [web({ ip6: "2001:db8::12" })] })],
            ),
        );
        assert.deepEqual(addressPlan(m), {
            untagged: {
                vlan: null,
                subnets: ["198.51.100.0/24", "2001:db8::/64"],
                pools: { pub_net: { node1: ["198.51.100.160/28", "2001:db8::100/120"], node2: ["198.51.100.176/28", "2001:db8::100/120"] } },
                fixed: {
                    "198.51.100.1": "gateway of pub_net",
                    "198.51.100.12": "container web of pub_net on node1",
                    "198.51.100.145": "host node1",
                    "198.51.100.146": "host node2",
                    "2001:db8::1": "gateway of pub_net",
                    "2001:db8::12": "container web of pub_net on node1",
                },
                macs: { "02:42:c6:33:64:0c": "container web of pub_net on node1" },
            },
        });
    });
});

describe("IPAM pools and dual stack: registered inputs (under mocks)", function () {
    this.timeout(120_000);

    /** SLICES: each host's slice of the IPv4 pool, which pub_net needs on two hosts. */
    const SLICES = { node1: "198.51.100.192/27", node2: "198.51.100.224/27" };
    function stack(ipam: unknown[], containers: Raw[], net: Raw = { slices: SLICES }): Record<string, unknown> {
        return {
            "macvlan:sshPrivateKey": TEST_PRIVATE_KEY,
            "macvlan:hosts": ["node1", "node2"].map((n, i) => ({ name: n, address: `198.51.100.${20 + i}`, hostKey: fakeHostKey(n), parent: "ens33" })),
            "macvlan:networks": [{ name: "pub_net", ipam, containers, ...net }],
        };
    }

    it("a dual-stack network: every docker.Network gets ipv6 true and both pools; a container gets its ipv6Address", async () => {
        const { resources, outputs } = await runProgram(
            stack([V4, V6], [{ name: "c1", host: "node1", image: "busybox:1", ip: "198.51.100.40", ip6: "2001:db8::40" }, { name: "c2", host: "node2", image: "busybox:1", ip: "198.51.100.41", ip6: "2001:db8::41" }]),
        );
        const nets = resources.filter((r) => r.type === DOCKER_NETWORK);
        assert.equal(nets.length, 2);
        for (const n of nets) {
            assert.equal(n.inputs["ipv6"], true, n.name);
            // The IPv4 pool with the host's slice as its ipRange; the IPv6 pool as written.
            assert.deepEqual(n.inputs["ipamConfigs"], [{ ...V4, ipRange: SLICES[n.name.replace("pub_net-", "") as keyof typeof SLICES] }, V6]);
        }
        const c1 = resources.find((r) => r.type === DOCKER_CONTAINER && r.name === "pub_net-node1-c1");
        assert.deepEqual(c1?.inputs["networksAdvanced"], [{ name: "pub_net", ipv4Address: "198.51.100.40", ipv6Address: "2001:db8::40", macAddress: "02:42:c6:33:64:28" }]);
        const out = outputs as { networks: Record<string, { subnets: string[]; hosts: Record<string, { containers: Record<string, { ip6?: string }> }> }> };
        assert.deepEqual(out.networks["pub_net"].subnets, ["198.51.100.0/24", "2001:db8::/64"]);
        assert.equal(out.networks["pub_net"].hosts["node2"].containers["c2"].ip6, "2001:db8::41");
    });

    it("IPv4 only, one pool or several: no ipv6 input and no ipv6Address (an unset input: existing networks and containers see no change)", async () => {
        for (const ipam of [[V4], [V4, V4B]]) {
            // On one host (several IPv4 pools cannot be sliced across hosts).
            const { resources } = await runProgram(stack(ipam, [{ name: "c1", host: "node1", image: "busybox:1", ip: "198.51.100.40" }], { hosts: ["node1"] }));
            for (const n of resources.filter((r) => r.type === DOCKER_NETWORK)) {
                assert.ok(!("ipv6" in n.inputs), `${n.name} has no ipv6 input`);
                assert.deepEqual(n.inputs["ipamConfigs"], ipam);
            }
            const c = resources.find((r) => r.type === DOCKER_CONTAINER);
            assert.deepEqual(c?.inputs["networksAdvanced"], [{ name: "pub_net", ipv4Address: "198.51.100.40", macAddress: "02:42:c6:33:64:28" }]);
        }
    });

    it("MacvlanNetwork on its own: ipv6 from the pools; containerArgs sends ipv6Address only when set", async () => {
        reset();
        await runUnderMocks(() => {
            const provider = new docker.Provider("p1", {});
            return new MacvlanNetwork("lan", {
                ipam: [V4, V6],
                hosts: [{ name: "h1", parent: "eth0", provider }],
                containers: [{ name: "web", host: "h1", image: "nginx:1.27", ipv4Address: "198.51.100.12", ipv6Address: "2001:db8::12", mac: "02:42:c6:33:64:0c" }],
            });
        });
        assert.deepEqual(byName(recorded, "lan-h1").inputs, {
            name: "lan",
            driver: "macvlan",
            options: { parent: "eth0", macvlan_mode: "bridge" },
            ipamConfigs: [V4, V6],
            ipv6: true,
        });
        assert.deepEqual(byName(recorded, "lan-h1-web").inputs["networksAdvanced"], [
            { name: "lan", ipv4Address: "198.51.100.12", ipv6Address: "2001:db8::12", macAddress: "02:42:c6:33:64:0c" },
        ]);
        const plain = containerArgs({ name: "web", host: "h", image: "x", ipv4Address: "198.51.100.12", mac: "02:42:c6:33:64:0c" }, "sha256:abc", "lan");
        assert.deepEqual(plain.networksAdvanced, [{ name: "lan", ipv4Address: "198.51.100.12", macAddress: "02:42:c6:33:64:0c" }]);
    });
});

describe("IPAM pools and dual stack: what the probe found (macvlan:probe on, under mocks)", function () {
    this.timeout(120_000);

    it("refuses a container's ip6 at a host's own global IPv6 address on its parent (the probe reports it in canonical text); another address is accepted", async () => {
        const config = {
            "macvlan:sshPrivateKey": TEST_PRIVATE_KEY,
            "macvlan:hosts": ["node1", "node2"].map((n, i) => ({ name: n, address: `198.51.100.${20 + i}`, hostKey: fakeHostKey(n), parent: "ens33" })),
            "macvlan:networks": [{ name: "pub_net", ipam: [V4, V6], slices: { node1: "198.51.100.192/27", node2: "198.51.100.224/27" }, containers: [{ name: "c1", host: "node1", image: "busybox:1", ip: "198.51.100.40", ip6: "2001:db8::40" }] }],
        };
        const facts = { node2: ["@addr=ens33 2001:db8:0:0:0:0:0:40/64"] };
        await assert.rejects(runProgram(config, { prober: fakeProber(config, undefined, [], {}, facts) }), (e: unknown) => {
            assert.ok(pulumi.RunError.isInstance(e), String(e));
            const lines = e.message.split("\n").slice(1).map((l) => l.replace(/^ {2}/, ""));
            assert.deepEqual(lines, [
                "networks[0].containers[0].ip6 2001:db8::40 is an address of host node2 (hosts[1]) itself: the probe found 2001:db8::40/64 on its ens33, on the untagged LAN segment; two holders of one address on one segment break both (choose another address)",
            ]);
            return true;
        });
        const ok = await runProgram(config, { prober: fakeProber(config, undefined, [], {}, { node2: ["@addr=ens33 2001:db8::41/64"] }) });
        assert.ok(ok.resources.length > 0);
    });
});
