/** A small stack config for the topology specs: every element the diagram draws, once. Pure: loads no mocks. */
import type { RawStackConfig } from "../../components/config/parse";
import { ED25519 } from "./configs";

/**
 * Two hosts whose names hold `-` (edge-1 with VLANs 50 and 60 and a shim on VLAN 50, edge-2 with
 * VLAN 60 on eth1, promisc off); `lan`, untagged and dual stack with a slice per host; `lan_v50`,
 * vepa on VLAN 50 with an aux address, on edge-1 only; `svc`, a swarm network on VLAN 60 with
 * slices; container `web.1` (a `.` in its name) on lan with an IPv6 address, and `app` on lan_v50
 * with a configured MAC, joining lan (its default route).
 */
export function topologyFixture(): RawStackConfig {
    return {
        hosts: [
            { name: "edge-1", address: "198.51.100.40", hostKey: ED25519, parent: "eth0", vlans: [50, 60], shim: { address: "192.0.2.250", vlan: 50 } },
            { name: "edge-2", address: "198.51.100.41", hostKey: ED25519, parent: "eth1", vlans: [60], promisc: false },
        ],
        networks: [
            {
                name: "lan",
                ipam: [
                    { subnet: "198.51.100.0/24", gateway: "198.51.100.1", ipRange: "198.51.100.128/25" },
                    { subnet: "2001:db8::/64", gateway: "2001:db8::1" },
                ],
                slices: { "edge-1": "198.51.100.128/26", "edge-2": "198.51.100.192/26" },
                containers: [{ name: "web.1", host: "edge-2", image: "nginx:1.27", ip: "198.51.100.12", ip6: "2001:db8::12" }],
            },
            {
                name: "lan_v50",
                vlan: 50,
                mode: "vepa",
                subnet: "192.0.2.0/24",
                gateway: "192.0.2.1",
                auxAddresses: { "edge-1-shim": "192.0.2.250" },
                hosts: ["edge-1"],
                containers: [
                    {
                        name: "app",
                        host: "edge-1",
                        image: "nginx:1.27",
                        ip: "192.0.2.10",
                        mac: "02:00:00:00:00:0a",
                        networks: [{ network: "lan", ip: "198.51.100.10", ip6: "2001:db8::10" }],
                        defaultRoute: "lan",
                    },
                ],
            },
            {
                name: "svc",
                swarm: true,
                vlan: 60,
                subnet: "203.0.113.0/24",
                gateway: "203.0.113.1",
                ipRange: "203.0.113.128/25",
                slices: { "edge-1": "203.0.113.128/26", "edge-2": "203.0.113.192/26" },
            },
        ],
    };
}
