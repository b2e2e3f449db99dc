/**
 * configWarnings (config/warnings.ts): the warnings of a valid config, each with its exact text,
 * and none when the config is fine; with probed facts, those of the facts (probed.ts). Pure: loads
 * no mocks.
 */
import * as assert from "node:assert/strict";
import { parseStackConfig, type RawStackConfig } from "../../components/config/parse";
import { EMULATED_NIC_DRIVERS, PARAVIRTUAL_NIC_DRIVERS, type ProbedHostFacts } from "../../components/config/probed";
import { configWarnings, SHIM_WARNINGS_MAX } from "../../components/config/warnings";
import { cfg, node1, node2, problemsOf, pubNet, rawCfg, web } from "../support/configs";
import { STACKS, stackConfig, withKey } from "../support/stacks";

/** The warnings of a config that must be valid. */
function warningsOf(raw: RawStackConfig, facts?: ReadonlyMap<string, ProbedHostFacts>): string[] {
    return configWarnings(parseStackConfig(raw), facts);
}

/** node1 with a shim at .250, reserved in pub_net's aux addresses: the fine case of the shim warning. */
const shimmed = (over: Record<string, unknown> = {}) => node1({ shim: { address: "198.51.100.250" }, ...over });
const reserved = { auxAddresses: { "node1-shim": "198.51.100.250" } };

const SHIM_RULE =
    "the macvlan driver passes no frames between a parent and its own macvlan links (other machines on the LAN reach them). If the host must reach them, give hosts[0] ";
const SHIM_TAIL = "the program adds a /32 route to each of the host's containers there";

describe("configWarnings: risky but legal configs", () => {
    describe("a host with no shim whose own containers are on its parent", () => {
        it("warns, naming hosts[i].shim, the host, its containers (two at most) and the shim to add", () => {
            assert.deepEqual(warningsOf(cfg([node1()], [pubNet({ containers: [web()] })])), [
                `hosts[0].shim is not set, and host node1 cannot reach its own containers web on ens33 (the untagged LAN segment): ${SHIM_RULE}` +
                    "`shim: { address: <a free address of 198.51.100.0/24> }`, reserved from Docker in networks[0].auxAddresses (or outside its dynamic range): " +
                    SHIM_TAIL,
            ]);
            const three = [web(), web({ name: "api", ip: "198.51.100.13" }), web({ name: "db", ip: "198.51.100.14" })];
            const [w] = warningsOf(cfg([node1()], [pubNet({ containers: three })]));
            assert.ok(w.startsWith("hosts[0].shim is not set, and host node1 cannot reach its own containers web, api and 1 more on ens33 (the untagged LAN segment): "), w);
        });

        it("on several segments: suggests the first one's shim (with its vlan) and names the segments one shim leaves out", () => {
            const raw = cfg(
                [node1({ name: "docker1", parent: "eth0", vlans: [50, 60] })],
                [
                    { name: "low", vlan: 50, subnet: "192.0.2.0/24", gateway: "192.0.2.1", containers: [web({ name: "kod", host: "docker1", ip: "192.0.2.15" })] },
                    pubNet({ containers: [web({ host: "docker1" })] }),
                    { name: "mid", vlan: 60, subnet: "203.0.113.0/24", gateway: "203.0.113.1", containers: [web({ name: "mongo", host: "docker1", ip: "203.0.113.20" })] },
                ],
            );
            assert.deepEqual(warningsOf(raw), [
                `hosts[0].shim is not set, and host docker1 cannot reach its own containers kod on eth0.50 (LAN segment vlan 50): ${SHIM_RULE}` +
                    "`shim: { address: <a free address of 192.0.2.0/24>, vlan: 50 }`, reserved from Docker in networks[0].auxAddresses (or outside its dynamic range): " +
                    `${SHIM_TAIL}; one shim reaches one segment, and its containers on eth0, eth0.60 stay out of the host's reach`,
            ]);
        });

        it(`gives one warning per host up to ${SHIM_WARNINGS_MAX} hosts, and past that one warning naming the others`, () => {
            const fleet = (count: number) => {
                const hosts = Array.from({ length: count }, (_, k) => node1({ name: `n${k}`, address: `198.51.100.${150 + k}` }));
                return cfg(hosts, [pubNet({ containers: hosts.map((_, k) => web({ name: `c${k}`, host: `n${k}`, ip: `198.51.100.${20 + k}` })) })]);
            };
            const five = warningsOf(fleet(SHIM_WARNINGS_MAX));
            assert.deepEqual(five.map((w) => w.slice(0, w.indexOf(" cannot"))), [0, 1, 2, 3, 4].map((k) => `hosts[${k}].shim is not set, and host n${k}`));
            const six = warningsOf(fleet(SHIM_WARNINGS_MAX + 1));
            assert.equal(six.length, 1);
            assert.equal(six[0], `${five[0]}. The same holds for 5 other hosts without a shim: hosts[1] (n1), hosts[2] (n2) and 3 more`);
        });

        it("does not warn with a shim, on a host without containers, or for private, vepa and passthru networks (a bridge-mode shim does not reach those)", () => {
            assert.deepEqual(warningsOf(cfg([shimmed()], [pubNet({ ...reserved, containers: [web()] })])), []);
            assert.deepEqual(warningsOf(cfg([node1(), node2()], [pubNet({ containers: [web()] })])).filter((w) => w.includes("hosts[1]")), [], "node2 has no container");
            for (const mode of ["private", "vepa"]) assert.deepEqual(warningsOf(cfg([node1()], [pubNet({ mode, containers: [web()] })])), [], mode);
            assert.deepEqual(warningsOf(cfg([node1({ vlans: [70] })], [pubNet({ mode: "passthru", vlan: 70, containers: [web()] })])), []);
        });
    });

    describe("VLAN 1", () => {
        it("warns on a network's vlan, a host's vlans and a shim's vlan, naming each path", () => {
            const rule = (link: string) =>
                `is VLAN 1, the default (native) VLAN of most switches, whose frames usually cross a trunk untagged: the tagged sub-interface ${link} then sees none of them. For the untagged LAN leave the vlan out; keep 1 only if the switch port carries VLAN 1 tagged`;
            const raw = cfg([shimmed({ vlans: [50, 1], shim: { address: "198.51.100.250", vlan: 1 } })], [pubNet({ vlan: 1, ...reserved, containers: [web()] })]);
            assert.deepEqual(warningsOf(raw), [`hosts[0].vlans lists 1, which ${rule("ens33.1")}`, `hosts[0].shim.vlan 1 ${rule("ens33.1")}`, `networks[0].vlan 1 ${rule("<parent>.1 of each host")}`]);
        });

        it("does not warn on other VLANs or the untagged LAN", () => {
            assert.deepEqual(warningsOf(cfg([shimmed({ vlans: [2, 4094], shim: { address: "198.51.100.250", vlan: 2 } })], [pubNet({ vlan: 2, ...reserved, containers: [web()] })])), []);
        });
    });

    describe("a pinned address inside the dynamic range of its own engine", () => {
        const tail = (c: string, net: string, block: string) =>
            `that engine holds it for container ${c}, but it leaves the dynamic pool one address smaller, and Docker holds it only while ${c} is attached, ` +
            `so a container started by hand on ${net} with no address can take it while ${c} is stopped or re-created; pin ${c} outside ${block} (or move the range)`;

        it("warns on a container inside its network's ipRange (one host), naming its ip path and the range", () => {
            const raw = cfg([shimmed()], [pubNet({ ipRange: "198.51.100.128/25", ...reserved, containers: [web(), web({ name: "api", ip: "198.51.100.200" })] })]);
            assert.deepEqual(warningsOf(raw), [
                `networks[0].containers[1].ip 198.51.100.200 is inside the ipRange 198.51.100.128/25 of networks[0] (pub_net), which host node1's engine hands out: ${tail("api", "pub_net", "198.51.100.128/25")}`,
            ]);
        });

        it("warns on a container inside its own host's slice (legal: that engine holds it), and the rules refuse one inside another host's slice", () => {
            const net = (ip: string) =>
                pubNet({ slices: { node1: "198.51.100.192/27", node2: "198.51.100.224/27" }, auxAddresses: { "node1-shim": "198.51.100.250" }, containers: [web({ ip })] });
            const hosts = [shimmed(), node2()];
            assert.deepEqual(warningsOf(rawCfg(hosts, [net("198.51.100.200")])), [
                `networks[0].containers[0].ip 198.51.100.200 is inside networks[0].slices.node1 198.51.100.192/27, the slice host node1's engine hands out on pub_net: ${tail("web", "pub_net", "198.51.100.192/27")}`,
            ]);
            assert.deepEqual(problemsOf(rawCfg(hosts, [net("198.51.100.230")])), [
                "networks[0].containers[0].ip 198.51.100.230 is container web of networks[0] (pub_net) on host node1 and lies inside networks[0].slices.node2 198.51.100.224/27, host node2's slice of networks[0] (pub_net): that engine could hand it out; choose an address outside the slice (or move the slice)",
            ]);
            assert.deepEqual(warningsOf(rawCfg(hosts, [net("198.51.100.12")])), [], "outside every slice");
        });

        it("warns on an ip6 inside an IPv6 pool's ipRange, and on a joined network's address, naming networks[i].containers[j].networks[k]", () => {
            const dual = pubNet({
                subnet: undefined,
                gateway: undefined,
                ipam: [
                    { subnet: "198.51.100.0/24", gateway: "198.51.100.1" },
                    { subnet: "2001:db8:1::/64", gateway: "2001:db8:1::1", ipRange: "2001:db8:1::/80" },
                ],
                ...reserved,
                containers: [web({ ip6: "2001:db8:1::12", networks: [{ network: "low", ip: "192.0.2.200" }], defaultRoute: "low" })],
            });
            const low = { name: "low", vlan: 50, subnet: "192.0.2.0/24", gateway: "192.0.2.1", ipRange: "192.0.2.128/25" };
            assert.deepEqual(warningsOf(cfg([shimmed({ vlans: [50] })], [dual, low])), [
                `networks[0].containers[0].ip6 2001:db8:1::12 is inside the ipRange 2001:db8:1::/80 of networks[0] (pub_net), which host node1's engine hands out: ${tail("web", "pub_net", "2001:db8:1::/80")}`,
                `networks[0].containers[0].networks[0].ip 192.0.2.200 is inside the ipRange 192.0.2.128/25 of networks[1] (low), which host node1's engine hands out: ${tail("web", "low", "192.0.2.128/25")}`,
            ]);
        });

        it("does not warn outside the range, nor on a network with no ipRange (its whole subnet is dynamic, and every pinned address in it)", () => {
            assert.deepEqual(warningsOf(cfg([shimmed()], [pubNet({ ipRange: "198.51.100.128/25", ...reserved, containers: [web()] })])), []);
            assert.deepEqual(warningsOf(cfg([shimmed()], [pubNet({ ...reserved, containers: [web()] })])), []);
        });
    });

    describe("with the probe's facts: promiscuous mode off on a VM's NIC", () => {
        const off = () => cfg([node1({ promisc: false, shim: { address: "198.51.100.250" } })], [pubNet({ ...reserved, containers: [web()] })]);
        const facts = (f: Omit<ProbedHostFacts, "addresses">) => new Map([["node1", { addresses: [], ...f }]]);
        const vmWarning = (found: string) =>
            `hosts[0].promisc false on host node1, whose parent ens33 is a VM's NIC (the probe found ${found}): ` +
            "most hypervisors pass a VM only the frames for the MACs they know, unless its port allows promiscuous mode or MAC changes, so the containers' MACs may receive nothing. " +
            "Unless the hypervisor learns them, leave promisc at its default (true) and allow it on the hypervisor's side " +
            "(vSphere port group: Promiscuous mode, MAC address changes and Forged transmits set to Accept; Hyper-V: MAC address spoofing)";

        it("warns for a paravirtual driver, and for an emulated one or none on a host that is a VM", () => {
            assert.deepEqual(warningsOf(off(), facts({ parentDriver: { link: "ens33", driver: "vmxnet3" } })), [vmWarning("driver vmxnet3")]);
            assert.deepEqual(warningsOf(off(), facts({ parentDriver: { link: "ens33", driver: "virtio_net" }, virtualization: "kvm" })), [vmWarning("driver virtio_net, virtualization kvm")]);
            assert.deepEqual(warningsOf(off(), facts({ parentDriver: { link: "ens33", driver: "e1000" }, virtualization: "vmware" })), [vmWarning("driver e1000, virtualization vmware")]);
            assert.deepEqual(warningsOf(off(), facts({ virtualization: "microsoft" })), [vmWarning("virtualization microsoft")]);
            for (const driver of PARAVIRTUAL_NIC_DRIVERS) assert.equal(warningsOf(off(), facts({ parentDriver: { link: "ens33", driver } })).length, 1, driver);
        });

        it("does not warn with promisc on, on bare metal, for a NIC passed through to a VM, for another link's driver, or without facts", () => {
            const on = cfg([shimmed()], [pubNet({ ...reserved, containers: [web()] })]);
            assert.deepEqual(warningsOf(on, facts({ parentDriver: { link: "ens33", driver: "vmxnet3" }, virtualization: "vmware" })), []);
            for (const driver of EMULATED_NIC_DRIVERS) assert.deepEqual(warningsOf(off(), facts({ parentDriver: { link: "ens33", driver } })), [], `${driver} on bare metal`);
            assert.deepEqual(warningsOf(off(), facts({ parentDriver: { link: "ens33", driver: "ixgbe" }, virtualization: "kvm" })), [], "passed through");
            assert.deepEqual(warningsOf(off(), facts({ parentDriver: { link: "ens34", driver: "vmxnet3" } })), [], "another link");
            assert.deepEqual(warningsOf(off(), facts({})), []);
            assert.deepEqual(warningsOf(off()), []);
        });

        it("gives the probe's other warnings too (a parent that is down), after the config's", () => {
            const raw = cfg([node1({ promisc: false, vlans: [1], shim: { address: "198.51.100.250" } })], [pubNet({ ...reserved, containers: [web()] })]);
            const w = warningsOf(raw, facts({ parent: { link: "ens33", exists: true, mtu: 1500, state: "DOWN" }, parentDriver: { link: "ens33", driver: "hv_netvsc" } }));
            assert.deepEqual(
                w.map((x) => x.split(" ").slice(0, 3).join(" ")),
                ["hosts[0].vlans lists 1,", "hosts[0].parent ens33 is", "hosts[0].promisc false on"],
            );
        });
    });

    describe("the reference stacks in stacks/", () => {
        it("compose warns only that docker1 has no shim (the field notes' compose host does not reach its services); modes and twohosts warn of nothing", () => {
            const of = (s: (typeof STACKS)[number]) => {
                const c = withKey(stackConfig(s));
                return warningsOf({ hosts: c["macvlan:hosts"], networks: c["macvlan:networks"], networksSecret: true });
            };
            assert.deepEqual(of("compose"), [
                `hosts[0].shim is not set, and host docker1 cannot reach its own containers nginx and mysql on eth0 (the untagged LAN segment): ${SHIM_RULE}` +
                    "`shim: { address: <a free address of 198.51.100.0/24> }`, reserved from Docker in networks[0].auxAddresses (or outside its dynamic range): " +
                    `${SHIM_TAIL}; one shim reaches one segment, and its containers on eth0.50, eth0.60 stay out of the host's reach`,
            ]);
            assert.deepEqual(of("modes"), []);
            assert.deepEqual(of("twohosts"), []);
        });
    });
});
