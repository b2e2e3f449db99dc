/**
 * Validation of what a LAN can be: subnets no LAN can have, one subnet per segment and per host's
 * address space, aux addresses Docker holds already, parents and SSH targets that cannot carry a
 * LAN, passthru on the host's own link; and the shapes the lab and the system tests use, which
 * these rules must keep accepting. Each rule: the refusal with its exact text, and a neighbour
 * that passes.
 */
import * as assert from "node:assert/strict";
import * as yaml from "js-yaml";
import { parseStackConfig } from "../../components/config/parse";
import { renderLabStack } from "../../lab/stack";
import type { Lab, LabHost } from "../../lab/types";
import { cfg, expectProblems, expectValid, node1, node2, pubNet, web, withContainers, ED25519, type Raw } from "../support/configs";


/** A network on VLAN 50 (of 203.0.113.0/24 unless told). */
function low(over: Raw = {}): Raw {
    return { name: "low", vlan: 50, subnet: "203.0.113.0/24", gateway: "203.0.113.1", ...over };
}

const DOCKER_POOLS = 'Docker refuses overlapping subnets on one host whatever their parents ("Pool overlaps with other one on this address space")';

describe("validate: what a LAN can be", () => {
    describe("subnets", () => {
        it("refuses subnets no LAN can have, and checks nothing that needs the subnet", () => {
            const cases: [string, string][] = [
                ["0.0.0.0/0", "cannot be a LAN subnet: a /0 is every address there is"],
                ["0.0.0.0/8", 'cannot be a LAN subnet: "this network" (0.0.0.0/8) is never a host\'s address'],
                ["127.0.0.0/8", "cannot be a LAN subnet: loopback (127.0.0.0/8) never leaves a host"],
                ["127.0.5.0/24", "cannot be a LAN subnet: loopback (127.0.0.0/8) never leaves a host"],
                ["169.254.0.0/16", "cannot be a LAN subnet: link-local (169.254.0.0/16) is not routable on a LAN"],
                ["224.0.0.0/4", "cannot be a LAN subnet: multicast (224.0.0.0/4) addresses groups, not hosts"],
                ["239.255.0.0/16", "cannot be a LAN subnet: multicast (224.0.0.0/4) addresses groups, not hosts"],
                ["255.255.255.255/32", "cannot be a LAN subnet: the limited broadcast (255.255.255.255) reaches every host on a link, never one"],
                ["128.0.0.0/1", "cannot be a LAN subnet: it covers link-local (169.254.0.0/16), which is not routable on a LAN"],
                ["240.0.0.0/4", "cannot be a LAN subnet: it covers the limited broadcast (255.255.255.255), which reaches every host on a link, never one"],
            ];
            for (const [subnet, rule] of cases) {
                // The gateway and the container are outside these blocks: with the subnet refused they are not placed, so not reported.
                expectProblems(withContainers([web()], { subnet }), [`networks[0].subnet ${subnet} ${rule}`]);
            }
        });
        it("reports a subnet no LAN can have once, even with host bits set", () => {
            expectProblems(cfg([node1()], [pubNet({ subnet: "127.0.0.1/8" })]), ["networks[0].subnet 127.0.0.1/8 cannot be a LAN subnet: loopback (127.0.0.0/8) never leaves a host"]);
        });
        it("accepts the subnets next to those blocks", () => {
            for (const [subnet, gateway] of [
                ["126.255.255.0/24", "126.255.255.1"],
                ["128.0.0.0/24", "128.0.0.1"],
                ["169.253.0.0/16", "169.253.0.1"],
                ["223.255.255.0/24", "223.255.255.1"],
                ["10.0.0.0/8", "10.0.0.1"],
            ]) {
                expectValid(cfg([node1()], [pubNet({ subnet, gateway })]));
            }
        });
    });

    describe("one host's address space", () => {
        it("refuses overlapping subnets on different parents of one host (untagged and a VLAN sub-interface)", () => {
            expectProblems(cfg([node1({ vlans: [50] })], [pubNet(), low({ subnet: "198.51.100.128/25", gateway: "198.51.100.129" })]), [
                `networks[1].subnet 198.51.100.128/25 overlaps networks[0].subnet 198.51.100.0/24 on host node1 (parents ens33 and ens33.50); ${DOCKER_POOLS}: give one of them another subnet, or leave one of them off that host`,
            ]);
        });
        it("refuses one subnet on two VLANs of the same hosts", () => {
            expectProblems(cfg([node1({ vlans: [50, 60] }), node2({ vlans: [50, 60] })], [low(), low({ name: "mid", vlan: 60 })]), [
                `networks[1].subnet 203.0.113.0/24 overlaps networks[0].subnet 203.0.113.0/24 on hosts node1 (parents ens33.50 and ens33.60), node2 (parents ens33.50 and ens33.60); ${DOCKER_POOLS}: give one of them another subnet, or leave one of them off those hosts`,
            ]);
        });
        it("accepts one subnet on different parents of different hosts, and different subnets on one host", () => {
            expectValid(cfg([node1(), node2({ vlans: [50] })], [pubNet({ hosts: ["node1"] }), low({ subnet: "198.51.100.0/24", gateway: "198.51.100.1", hosts: ["node2"] })]));
            expectValid(cfg([node1({ vlans: [50] })], [pubNet(), low()]));
        });
    });

    describe("one segment, one subnet", () => {
        it("refuses the same base with another mask on one segment, across hosts", () => {
            // (Each engine's dynamic pool apart, so that the mask is the one problem.)
            const nets = [
                pubNet({ subnet: "192.0.2.0/24", gateway: "192.0.2.1", ipRange: "192.0.2.128/26", hosts: ["node1"] }),
                pubNet({ name: "half", subnet: "192.0.2.0/25", gateway: "192.0.2.1", ipRange: "192.0.2.64/26", hosts: ["node2"] }),
            ];
            expectProblems(cfg([node1(), node2()], nets), [
                "networks[1].subnet 192.0.2.0/25 overlaps networks[0].subnet 192.0.2.0/24 on the untagged LAN segment with another mask; a segment is one LAN with one subnet: give both the same subnet (and split it with ipRange)",
            ]);
            const vlan = [low({ ipRange: "203.0.113.0/26", hosts: ["node1"] }), low({ name: "low2", subnet: "203.0.113.128/25", gateway: "203.0.113.129", ipRange: "203.0.113.192/26", hosts: ["node2"] })];
            expectProblems(cfg([node1({ vlans: [50] }), node2({ vlans: [50] })], vlan), [
                "networks[1].subnet 203.0.113.128/25 overlaps networks[0].subnet 203.0.113.0/24 on LAN segment vlan 50 with another mask; a segment is one LAN with one subnet: give both the same subnet (and split it with ipRange)",
            ]);
        });
        it("refuses it on the same hosts too, as networks sharing a parent", () => {
            const nets = [pubNet({ subnet: "192.0.2.0/24", gateway: "192.0.2.1" }), pubNet({ name: "half", subnet: "192.0.2.0/25", gateway: "192.0.2.1" })];
            expectProblems(cfg([node1({ dockerVersion: "27.0" }), node2({ dockerVersion: "27.0" })], nets), [
                "networks[1].subnet 192.0.2.0/25 overlaps networks[0].subnet 192.0.2.0/24 on hosts node1 (parent ens33), node2 (parent ens33)",
            ]);
        });
        it("accepts one subnet on one segment across hosts, and another mask on another segment", () => {
            expectValid(cfg([node1(), node2()], [pubNet({ hosts: ["node1"], ipRange: "198.51.100.128/26" }), pubNet({ name: "other", hosts: ["node2"], ipRange: "198.51.100.192/26" })]));
            expectValid(cfg([node1(), node2({ vlans: [50] })], [pubNet({ subnet: "192.0.2.0/24", gateway: "192.0.2.1", hosts: ["node1"] }), low({ subnet: "192.0.2.0/25", gateway: "192.0.2.1", hosts: ["node2"] })]));
        });
    });

    describe("aux addresses", () => {
        it("refuses the gateway, the network and the broadcast address", () => {
            expectProblems(cfg([node1()], [pubNet({ auxAddresses: { router: "198.51.100.1", net: "198.51.100.0", bcast: "198.51.100.255" } })]), [
                "networks[0].auxAddresses.router 198.51.100.1 is the gateway networks[0].gateway",
                "networks[0].auxAddresses.net 198.51.100.0 is the network address of subnet 198.51.100.0/24",
                "networks[0].auxAddresses.bcast 198.51.100.255 is the broadcast address of subnet 198.51.100.0/24",
            ]);
        });
        it("refuses an address reserved twice in one network, and reports a container on it once", () => {
            expectProblems(withContainers([web({ ip: "198.51.100.5" })], { auxAddresses: { printer: "198.51.100.5", scanner: "198.51.100.5" } }), [
                "networks[0].auxAddresses.scanner 198.51.100.5 is already reserved as networks[0].auxAddresses.printer",
                "networks[0].containers[0].ip 198.51.100.5 is reserved as networks[0].auxAddresses.printer",
            ]);
        });
        it("accepts distinct addresses next to the gateway and the ends of the subnet", () => {
            expectValid(cfg([node1()], [pubNet({ auxAddresses: { a: "198.51.100.2", b: "198.51.100.254", c: "198.51.100.3" } })]));
        });
    });

    describe("passthru", () => {
        const untagged = "on the untagged parent would take the host's own link, and its SSH with it: set networks[0].vlan so that it takes a VLAN sub-interface (a network has no dedicated NIC of its own: its parent is its hosts' parent)";
        it("refuses passthru on the untagged parent", () => {
            expectProblems(withContainers([web()], { mode: "passthru" }), [`networks[0].mode passthru ${untagged}`]);
        });
        it("says so once: not again as a parent shared, or a shim on the parent it would take", () => {
            const hosts = [node1({ dockerVersion: "27.0", shim: { address: "198.51.100.250" } })];
            const nets = [pubNet({ mode: "passthru", auxAddresses: { "node1-shim": "198.51.100.250" } }), { name: "mgmt", subnet: "203.0.113.0/24", gateway: "203.0.113.1" }];
            expectProblems(cfg(hosts, nets), [`networks[0].mode passthru ${untagged}`]);
        });
        it("accepts passthru on a VLAN sub-interface", () => {
            expectValid(withContainers([web()], { mode: "passthru", vlan: 50 }, [node1({ vlans: [50] }), node2({ vlans: [50] })]));
        });
    });

    describe("hosts", () => {
        it("refuses the loopback interface as parent", () => {
            expectProblems(cfg([node1({ parent: "lo" })]), ["hosts[0].parent lo is the loopback interface, which carries no LAN and cannot be a macvlan parent; give the NIC that carries the LAN"]);
            expectValid(cfg([node1({ parent: "eno1" })]));
        });
        it("refuses SSH targets that are not a host address", () => {
            const fix = "give the host's own address on the LAN";
            expectProblems(cfg([node1({ address: "0.0.0.0" }), node2({ address: "255.255.255.255" }), { name: "node4", address: "224.0.0.251", hostKey: ED25519, parent: "ens33" }]), [
                `hosts[0].address 0.0.0.0 is not a host address: "this network" (0.0.0.0/8) is never a host's address; ${fix}`,
                `hosts[1].address 255.255.255.255 is not a host address: the limited broadcast (255.255.255.255) reaches every host on a link, never one; ${fix}`,
                `hosts[2].address 224.0.0.251 is not a host address: multicast (224.0.0.0/4) addresses groups, not hosts; ${fix}`,
            ]);
        });
        it("accepts a link-local or loopback SSH target (the host itself, a forwarded port) and the addresses next to those blocks", () => {
            expectValid(cfg([node1({ address: "169.254.10.1" }), node2({ address: "1.0.0.1" }), { name: "node3", address: "223.255.255.254", hostKey: ED25519, parent: "ens33" }, { name: "node4", address: "128.0.0.1", hostKey: ED25519, parent: "ens33" }]));
            expectValid(cfg([node1({ address: "127.0.0.1", port: 2222 }), node2()]));
        });
    });

    describe("a host's SSH address lives on the untagged segment", () => {
        it("accepts a container on a VLAN at a host's untagged SSH address, and still refuses one on the untagged LAN", () => {
            const raw = cfg(
                [node1({ vlans: [50] }), node2()],
                [
                    pubNet({ hosts: ["node2"], containers: [web({ host: "node2", ip: "198.51.100.145" })] }),
                    low({ subnet: "198.51.100.0/24", gateway: "198.51.100.1", hosts: ["node1"], containers: [web({ name: "vweb", ip: "198.51.100.146" })] }),
                ],
            );
            expectProblems(raw, ["networks[0].containers[0].ip 198.51.100.145 is the SSH address of host node1 (hosts[0].address)"]);
        });
        it("accepts a shim on a VLAN at a host's untagged SSH address", () => {
            const raw = cfg(
                [node1({ vlans: [50], shim: { address: "198.51.100.146", vlan: 50 } }), node2()],
                [low({ subnet: "198.51.100.0/24", gateway: "198.51.100.1", hosts: ["node1"], auxAddresses: { "node1-shim": "198.51.100.146" } })],
            );
            assert.deepEqual(parseStackConfig(raw).hosts[0].shim, { address: "198.51.100.146", vlan: 50 });
        });
    });

    describe("the shapes the lab and the system tests use", () => {
        it("accepts the lab stack that lab:up writes", () => {
            const host = (name: string, kind: "netns" | "qemu", octet: number): LabHost =>
                ({ name, kind, address: `198.18.0.${octet}`, port: 22, user: "root", hostKey: ED25519, parent: "eth0", docker: true, dockerVersion: "20.10" }) as unknown as LabHost;
            const lab = {
                hosts: [host("node1", "netns", 11), host("node2", "netns", 12), host("node3", "netns", 13), host("vlan1", "qemu", 21), host("vlan2", "qemu", 22)],
                lanCidr: "198.18.0.0/24",
                gateway: "198.18.0.1",
                privateKeyPath: "/tmp/id_lab",
                image: { ref: "local/busybox:1" },
            } as unknown as Lab;
            const config = (yaml.load(renderLabStack(lab)) as { config: Record<string, unknown> }).config;
            const model = parseStackConfig({ hosts: config["macvlan:hosts"], networks: config["macvlan:networks"] });
            assert.deepEqual(
                model.networks.map((n) => [n.name, n.vlan, n.ipam[0].subnet]),
                [
                    ["lab_lan", undefined, "198.18.0.0/24"],
                    ["lab_v50", 50, "198.18.50.0/24"],
                ],
            );
        });
        it("accepts the system tests' shape: the LAN's subnet untagged and on VLAN 50 of other hosts, passthru on VLAN 70", () => {
            // As test/system/e2e.test.ts configA: one subnet on two segments, apart by host.
            const h = (name: string, octet: number, over: Raw = {}): Raw => ({ name, address: `198.18.0.${octet}`, hostKey: ED25519, parent: "eth0", dockerVersion: "20.10", ...over });
            const c = (name: string, on: string, ip: string): Raw => ({ name, host: on, image: "local/busybox:1", ip });
            const lan = { subnet: "198.18.0.0/24", gateway: "198.18.0.1" };
            expectValid(
                cfg(
                    [h("node1", 11, { shim: { address: "198.18.0.250" } }), h("node2", 12), h("node3", 13), h("vlan1", 21, { vlans: [50, 70] }), h("vlan2", 22, { vlans: [50] })],
                    [
                        { name: "e2e_lan", ...lan, ipRange: "198.18.0.128/26", sliceSize: 28, slices: { node1: 0, node2: 1 }, auxAddresses: { "node1-shim": "198.18.0.250", "node2-shim": "198.18.0.251" }, hosts: ["node1", "node2"], containers: [c("c1", "node1", "198.18.0.101"), c("c3", "node2", "198.18.0.103")] },
                        { name: "e2e_modes", mode: "private", ...lan, ipRange: "198.18.0.120/29", hosts: ["node3"], containers: [c("p1", "node3", "198.18.0.121")] },
                        { name: "e2e_v50", vlan: 50, ...lan, ipRange: "198.18.0.144/28", sliceSize: 29, slices: { vlan1: 0, vlan2: 1 }, hosts: ["vlan1", "vlan2"], containers: [c("v1", "vlan1", "198.18.0.151"), c("v2", "vlan2", "198.18.0.152")] },
                        { name: "e2e_pass", mode: "passthru", vlan: 70, subnet: "198.18.70.0/24", gateway: "198.18.70.1", hosts: ["vlan1"], containers: [c("s1", "vlan1", "198.18.70.10")] },
                    ],
                ),
            );
        });
    });
});
