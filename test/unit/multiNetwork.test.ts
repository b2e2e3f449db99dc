/**
 * Containers on several macvlan networks (`containers[j].networks`, `defaultRoute`): the rules,
 * the model, and what buildStack registers under mocks (one container, an endpoint per network,
 * gateway priority on the one that gives the default route, following every network it joins).
 */
import * as assert from "node:assert/strict";
// The mocks first (importing them sets them), then the code under test.
import { recorded, reset } from "../support/mocks";
import { runUnderMocks } from "../support/program";
import { byName, nameByUrn, unwrapSecrets } from "../support/records";
import { cfg, expectProblems, expectValid, node1, node2, type Raw } from "../support/configs";
import { parseStackConfig } from "../../components/config/parse";
import { probedFactsProblems } from "../../components/config/probed";
import { addressPlan } from "../../components/plan/addressPlan";
import { hostSpec } from "../../components/plan/stack";
import { buildStack } from "../../components/stack/build";

/** node1 and node2 with VLANs 50 and 60. */
function hosts(over: Raw = {}): Raw[] {
    return [node1({ vlans: [50, 60], ...over }), node2({ vlans: [50, 60], ...over })];
}
function lan50(over: Raw = {}): Raw {
    return { name: "lan50", vlan: 50, subnet: "192.0.2.0/24", gateway: "192.0.2.1", ...over };
}
function lan60(over: Raw = {}): Raw {
    return { name: "lan60", vlan: 60, subnet: "203.0.113.0/24", gateway: "203.0.113.1", ...over };
}
/** A container on lan60 (its home network, declared there) that joins lan50. */
function app(over: Raw = {}): Raw {
    return { name: "app", host: "node1", image: "nginx:1.27", ip: "203.0.113.10", networks: [{ network: "lan50", ip: "192.0.2.10" }], ...over };
}

describe("containers on several macvlan networks", () => {
    describe("validation and the model", () => {
        it("gives the container one attachment per network, its own first, with MACs derived per address, and the default route", () => {
            const model = parseStackConfig(cfg(hosts(), [lan60({ containers: [app({ defaultRoute: "lan50" })] }), lan50()]));
            const c = model.networks[0].containers[0];
            assert.deepEqual(c.attachments, [
                { network: "lan60", ipv4Address: "203.0.113.10", mac: "02:42:cb:00:71:0a" },
                { network: "lan50", ipv4Address: "192.0.2.10", mac: "02:42:c0:00:02:0a" },
            ]);
            assert.equal(c.defaultRoute, "lan50");
            // The container is declared once: the joined network does not list it as its own.
            assert.deepEqual(model.networks[1].containers, []);
        });

        it("a container on one network keeps the model it always had (no defaultRoute)", () => {
            const model = parseStackConfig(cfg(hosts(), [lan60({ containers: [app({ networks: [] })] })]));
            assert.equal(model.networks[0].containers[0].defaultRoute, undefined);
            assert.equal(model.networks[0].containers[0].attachments.length, 1);
        });

        it("takes a configured MAC on the joined network (on an engine that honours per-network MACs)", () => {
            const model = parseStackConfig(
                cfg(hosts({ dockerVersion: "25.0" }), [lan60({ containers: [app({ defaultRoute: "lan50", networks: [{ network: "lan50", ip: "192.0.2.10", mac: "02:00:00:00:50:10" }] })] }), lan50()]),
            );
            assert.equal(model.networks[0].containers[0].attachments[1].mac, "02:00:00:00:50:10");
        });

        it("refuses joins that name no network, the container's own, one twice, or one that does not span its host", () => {
            expectProblems(
                cfg(hosts(), [
                    lan60({
                        containers: [
                            app({
                                networks: [
                                    { network: "lan70", ip: "192.0.2.10" },
                                    { network: "lan60", ip: "203.0.113.11" },
                                    { network: "lan50", ip: "192.0.2.10" },
                                    { network: "lan50", ip: "192.0.2.11" },
                                ],
                            }),
                            app({ name: "app2", host: "node2", ip: "203.0.113.12", networks: [{ network: "lan50", ip: "192.0.2.12" }] }),
                        ],
                    }),
                    lan50({ hosts: ["node1"] }),
                ]),
                [
                    'networks[0].containers[0].networks[0].network lan70 is not a network of this stack (lan60, lan50)',
                    'networks[0].containers[0].networks[1].network lan60 is the network networks[0].containers[0] is listed under; networks[0].containers[0].networks[1] is for the further networks it joins',
                    'networks[0].containers[0].networks[3].network lan50 is listed twice',
                    'networks[0].containers[1].networks[0].network lan50 does not span host node2, where networks[0].containers[1] runs; add node2 to networks[1].hosts',
                ],
            );
        });

        it("places a join's ip in the joined network's subnet, and refuses a bad entry with its path", () => {
            const joining = (name: string, ip: string, join: unknown) => app({ name, ip, defaultRoute: "lan50", networks: [join] });
            expectProblems(
                cfg(hosts(), [
                    lan60({
                        containers: [
                            joining("a1", "203.0.113.11", { network: "lan50", ip: "203.0.113.20" }),
                            joining("a2", "203.0.113.12", { network: "lan50" }),
                            joining("a3", "203.0.113.13", "lan50"),
                            joining("a4", "203.0.113.14", { network: "lan50", ip: "192.0.2.255", mca: "x" }),
                        ],
                    }),
                    lan50(),
                ]),
                [
                    "networks[0].containers[1].networks[0].ip is required",
                    'networks[0].containers[2].networks[0] "lan50" must be a map, not a string',
                    "networks[0].containers[3].networks[0].mca is not a known key of a joined network; did you mean mac? known keys: network, ip, ip6, mac",
                    "networks[0].containers[0].networks[0].ip 203.0.113.20 does not belong to subnet 192.0.2.0/24",
                    "networks[0].containers[2].defaultRoute lan50 is not one of the container's networks (lan60): name the network whose gateway gives its default route",
                    "networks[0].containers[3].networks[0].ip 192.0.2.255 is the broadcast address of subnet 192.0.2.0/24",
                ],
            );
        });

        it("holds a join's address and MAC to the joined network's segment: no other container, gateway or shim there has them", () => {
            expectProblems(
                cfg(hosts(), [
                    lan60({
                        containers: [
                            app({ defaultRoute: "lan50", networks: [{ network: "lan50", ip: "192.0.2.1" }] }),
                            app({ name: "app2", ip: "203.0.113.11", defaultRoute: "lan50", networks: [{ network: "lan50", ip: "192.0.2.20" }] }),
                        ],
                    }),
                    lan50({ containers: [{ name: "db", host: "node2", image: "mysql:8", ip: "192.0.2.20" }] }),
                ]),
                [
                    'networks[0].containers[0].networks[0].ip 192.0.2.1 is the gateway networks[1].gateway',
                    'networks[0].containers[1].networks[0].ip 192.0.2.20 is already used by networks[1].containers[0].ip on LAN segment vlan 50',
                ],
            );
        });

        it("counts a join as one of a passthru network's containers (its single port)", () => {
            expectProblems(
                cfg(hosts(), [
                    lan60({ containers: [app({ defaultRoute: "lan50" })] }),
                    lan50({ mode: "passthru", containers: [{ name: "db", host: "node1", image: "mysql:8", ip: "192.0.2.20" }] }),
                ]),
                [
                    'networks[0].containers[0].networks[0].network lan50 already has networks[1].containers[0] on passthru network networks[1] (lan50); passthru has a single port per parent (Docker: "failed to create the macvlan port: invalid argument")',
                ],
            );
        });

        it("refuses a defaultRoute that is none of the container's networks", () => {
            expectProblems(cfg(hosts(), [lan60({ containers: [app({ defaultRoute: "lan70" })] }), lan50()]), [
                'networks[0].containers[0].defaultRoute lan70 is not one of the container\'s networks (lan60, lan50): name the network whose gateway gives its default route',
            ]);
        });

        describe("the default route on the host's engine", () => {
            it("accepts any default route on Docker 28+ (gateway priority)", () => {
                expectValid(cfg(hosts({ dockerVersion: "28.0" }), [lan60({ containers: [app()] }), lan50()]));
                expectValid(cfg(hosts({ dockerVersion: "28.0" }), [lan60({ containers: [app({ defaultRoute: "lan60" })] }), lan50()]));
            });

            it("before 28, accepts the network whose name sorts first, whether written or not", () => {
                expectValid(cfg(hosts({ dockerVersion: "27.3" }), [lan60({ containers: [app({ defaultRoute: "lan50" })] }), lan50()]));
                expectValid(cfg(hosts({ dockerVersion: "27.3" }), [lan50({ containers: [app({ ip: "192.0.2.10", networks: [{ network: "lan60", ip: "203.0.113.10" }] })] }), lan60()]));
            });

            it("before 28, refuses a default route from a network that does not sort first, and says why and what to do", () => {
                expectProblems(cfg(hosts({ dockerVersion: "27.3" }), [lan60({ containers: [app({ defaultRoute: "lan60" })] }), lan50()]), [
                    'networks[0].containers[0].defaultRoute lan60 cannot give the default route: host node1 runs Docker 27.3 (hosts[0].dockerVersion): Docker before 28 has no gateway priority and gives the default route to the network whose name sorts first among the container\'s networks (lan60, lan50), which is lan50; make lan50 the default route (defaultRoute: lan50), rename the networks so that lan60 sorts first, or upgrade that engine to Docker 28 or later',
                ]);
                // Not written: the network it is listed under would be the default route.
                expectProblems(cfg(hosts(), [lan60({ containers: [app()] }), lan50()]), [
                    "networks[0].containers[0] gets its default route from lan60, the network it is listed under (defaultRoute is not set), but host node1's Docker version is unknown (probe off, hosts[0].dockerVersion not set), so it counts as older than 28: Docker before 28 has no gateway priority and gives the default route to the network whose name sorts first among the container's networks (lan60, lan50), which is lan50; make lan50 the default route (defaultRoute: lan50), rename the networks so that lan60 sorts first, or set hosts[0].dockerVersion (\"28.0\" or later) if it runs Docker 28 or later",
                ]);
            });

            it("sorts by bytes, as Docker does: upper case before lower case", () => {
                const upper = (n: Raw) => ({ ...n, name: "LAN60" });
                expectValid(
                    cfg(hosts({ dockerVersion: "27.3" }), [upper(lan60({ containers: [app({ defaultRoute: "LAN60" })] })), lan50()]),
                );
            });

            it("uses the probed engine when the probe found one", () => {
                const raw = cfg(hosts({ dockerVersion: undefined }), [lan60({ containers: [app({ defaultRoute: "lan60" })] }), lan50()]);
                const probed = new Map([
                    ["node1", { version: "28.3.1", apiVersion: "1.51" }],
                    ["node2", { version: "28.3.1", apiVersion: "1.51" }],
                ]);
                assert.doesNotThrow(() => parseStackConfig(raw, {}, { probed }));
                const old = new Map([["node1", { version: "20.10.24+dfsg1", apiVersion: "1.41" }]]);
                assert.throws(() => parseStackConfig(raw, {}, { probed: old }), /host node1 runs Docker 20\.10\.24\+dfsg1 \(API 1\.41, found by the probe\): Docker before 28 has no gateway priority/);
            });
        });
    });

    describe("joining a dual-stack network", () => {
        const dual = (over: Raw = {}): Raw => ({ name: "lan50", vlan: 50, ipam: [{ subnet: "192.0.2.0/24", gateway: "192.0.2.1" }, { subnet: "2001:db8:50::/64", gateway: "2001:db8:50::1" }], ...over });

        it("pins the join's ip6 in the joined network's IPv6 pool, into the model and the container's endpoint", async () => {
            const raw = cfg(hosts({ dockerVersion: "28.0" }), [lan60({ containers: [app({ networks: [{ network: "lan50", ip: "192.0.2.10", ip6: "2001:db8:50::10" }] })] }), dual()]);
            assert.deepEqual(parseStackConfig(raw).networks[0].containers[0].attachments[1], { network: "lan50", ipv4Address: "192.0.2.10", ipv6Address: "2001:db8:50::10", mac: "02:42:c0:00:02:0a" });
            reset();
            await runUnderMocks(() => buildStack(parseStackConfig(raw), { privateKey: "k" }).outputs);
            assert.deepEqual((unwrapSecrets(byName(recorded, "lan60-node1-app").inputs["networksAdvanced"]) as unknown[])[1], {
                name: "lan50",
                ipv4Address: "192.0.2.10",
                ipv6Address: "2001:db8:50::10",
                macAddress: "02:42:c0:00:02:0a",
            });
        });

        it("requires the join's ip6 where the joined network has an IPv6 pool, and refuses it where it has none or outside the pool", () => {
            expectProblems(cfg(hosts({ dockerVersion: "28.0" }), [lan60({ containers: [app()] }), dual()]), [
                "networks[0].containers[0].networks[0].ip6 is required: networks[1] has an IPv6 pool (2001:db8:50::/64), and without a pinned address each host's engine picks the pool's first free one, the same on every host",
            ]);
            expectProblems(cfg(hosts({ dockerVersion: "28.0" }), [lan60({ containers: [app({ networks: [{ network: "lan50", ip: "192.0.2.10", ip6: "2001:db8:99::10" }] })] }), dual()]), [
                "networks[0].containers[0].networks[0].ip6 2001:db8:99::10 does not belong to subnet 2001:db8:50::/64",
            ]);
            expectProblems(cfg(hosts({ dockerVersion: "28.0" }), [lan60({ containers: [app({ networks: [{ network: "lan50", ip: "192.0.2.10", ip6: "2001:db8:50::10" }] })] }), lan50()]), [
                "networks[0].containers[0].networks[0].ip6 2001:db8:50::10 is given, but networks[1] has no IPv6 pool; add one to networks[1].ipam, or remove it",
            ]);
        });
    });

    describe("what the probe found", () => {
        it("refuses a join at an address the host itself holds on the joined network's segment, naming the join", () => {
            const model = parseStackConfig(cfg(hosts(), [lan60({ containers: [app({ defaultRoute: "lan50" })] }), lan50()]));
            const facts = new Map([["node1", { addresses: [{ link: "ens33.50", address: "192.0.2.10", prefix: 24 }] }]]);
            assert.deepEqual(probedFactsProblems(model, facts), [
                "networks[0].containers[0].networks[0].ip 192.0.2.10 is an address of host node1 (hosts[0]) itself: the probe found 192.0.2.10/24 on its ens33.50, on LAN segment vlan 50; two holders of one address on one segment break both (choose another address)",
            ]);
            // The same address on the other segment (VLAN 60) is another LAN: no problem.
            const elsewhere = new Map([["node1", { addresses: [{ link: "ens33.60", address: "192.0.2.10", prefix: 24 }] }]]);
            assert.deepEqual(probedFactsProblems(model, elsewhere), []);
        });
    });

    describe("what the plan makes of a join", () => {
        it("routes the shim to the container's address on the shim's segment, whichever network it is declared under", () => {
            const model = parseStackConfig(
                cfg([node1({ vlans: [50, 60], shim: { address: "192.0.2.250", vlan: 50 } }), node2({ vlans: [50, 60] })], [lan60({ containers: [app({ defaultRoute: "lan50" })] }), lan50({ auxAddresses: { shim: "192.0.2.250" } })]),
            );
            assert.deepEqual(hostSpec(model, model.hosts[0]).shim?.routes, ["192.0.2.10/32"]);
        });

        it("lists a join's address among the fixed addresses of the joined network's segment", () => {
            const model = parseStackConfig(cfg(hosts(), [lan60({ containers: [app({ defaultRoute: "lan50" })] }), lan50()]));
            const plan = addressPlan(model);
            assert.equal(plan["vlan50"].fixed["192.0.2.10"], "container app of lan50 on node1");
            assert.equal(plan["vlan60"].fixed["203.0.113.10"], "container app of lan60 on node1");
        });
    });

    describe("what buildStack registers under mocks", () => {
        async function build(raw: ReturnType<typeof cfg>): Promise<void> {
            reset();
            await runUnderMocks(() => buildStack(parseStackConfig(raw), { privateKey: "k" }).outputs);
        }

        it("one container with an endpoint per network in order, gateway priority on the default route's, following the joined network", async () => {
            // lan60 comes first in the stack, so the network it joins (lan50) is registered after it.
            await build(cfg([node1({ vlans: [50, 60], dockerVersion: "28.0" })], [lan60({ containers: [app({ defaultRoute: "lan50" })] }), lan50()]));
            const containers = recorded.filter((r) => r.type === "docker:index/container:Container");
            assert.deepEqual(
                containers.map((r) => r.name),
                ["lan60-node1-app"],
            );
            const c = containers[0];
            assert.deepEqual(unwrapSecrets(c.inputs["networksAdvanced"]), [
                { name: "lan60", ipv4Address: "203.0.113.10", macAddress: "02:42:cb:00:71:0a" },
                { name: "lan50", ipv4Address: "192.0.2.10", macAddress: "02:42:c0:00:02:0a", gwPriority: 1 },
            ]);
            const name = nameByUrn(recorded);
            // It follows both networks on its host: created after them, deleted before them.
            assert.deepEqual(
                c.propertyDependencies["networksAdvanced"].map(name).sort(),
                ["lan50-node1", "lan60-node1"],
            );
        });

        it("the default route on the network it is declared under: priority there; a container on one network gets none", async () => {
            await build(
                cfg([node1({ vlans: [50, 60], dockerVersion: "28.0" })], [
                    lan60({ containers: [app({ defaultRoute: "lan60" }), { name: "solo", host: "node1", image: "nginx:1.27", ip: "203.0.113.11" }] }),
                    lan50(),
                ]),
            );
            assert.deepEqual(unwrapSecrets(byName(recorded, "lan60-node1-app").inputs["networksAdvanced"]), [
                { name: "lan60", ipv4Address: "203.0.113.10", macAddress: "02:42:cb:00:71:0a", gwPriority: 1 },
                { name: "lan50", ipv4Address: "192.0.2.10", macAddress: "02:42:c0:00:02:0a" },
            ]);
            assert.deepEqual(unwrapSecrets(byName(recorded, "lan60-node1-solo").inputs["networksAdvanced"]), [
                { name: "lan60", ipv4Address: "203.0.113.11", macAddress: "02:42:cb:00:71:0b" },
            ]);
        });

        it("refuses a model whose container joins a network that does not span its host, before anything is registered", async () => {
            const model = parseStackConfig(cfg(hosts({ dockerVersion: "28.0" }), [lan60({ containers: [app()] }), lan50()]));
            const broken = { ...model, networks: model.networks.map((n) => (n.name === "lan50" ? { ...n, hosts: ["node2"] } : n)) };
            reset();
            await assert.rejects(
                runUnderMocks(() => buildStack(broken, { privateKey: "k" })),
                /networks\[0\]\.containers\[0\] \(app\) joins network lan50, which does not span host node1/,
            );
            assert.deepEqual(recorded, []);
        });
    });
});

