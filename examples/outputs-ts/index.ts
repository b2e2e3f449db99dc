/**
 * Reads the outputs of a pulumi-macvlan stack (README, "Stack outputs") through a StackReference and
 * turns them into what the rest of a LAN needs:
 *
 * - `container`: where one container is (host, address, MAC, Docker id), e.g. for a firewall rule;
 * - `hostsFile`: an /etc/hosts fragment naming every pinned container `<container>.<network>`;
 * - `reserved`: per LAN segment, the blocks the Docker engines hand out from and the fixed
 *   addresses (gateway, aux addresses, containers, shims): what the LAN's own DHCP server must
 *   leave alone.
 *
 * It registers no resource of its own; the output types come from the package (`StackOutputs`).
 */
import * as pulumi from "@pulumi/pulumi";
import type { StackOutputs } from "pulumi-macvlan";

const config = new pulumi.Config();
/** The macvlan stack, fully qualified: `<org>/<project>/<stack>` (a local backend's org is `organization`). */
const macvlanStack = config.require("macvlanStack");
const networkName = config.require("network");
const containerName = config.require("container");

/** A stack's outputs as another stack reads them: every Output already a plain value. */
type Exported = pulumi.Unwrap<StackOutputs>;

const ref = new pulumi.StackReference("macvlan", { name: macvlanStack });
const networks = ref.requireOutput("networks") as pulumi.Output<Exported["networks"]>;
const addressPlan = ref.requireOutput("addressPlan") as pulumi.Output<Exported["addressPlan"]>;

/** Sort key of an address: IPv4 first, in numeric order, then IPv6 as text. */
function addressKey(ip: string): string {
    const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(ip);
    return v4 === null ? `1 ${ip}` : `0 ${v4.slice(1).map((b) => b.padStart(3, "0")).join(".")}`;
}

/** The network's container on whatever host it runs, or an error naming the containers there are. */
export const container = networks.apply((ns) => {
    const net = ns[networkName];
    if (net === undefined) throw new pulumi.RunError(`stack ${macvlanStack} has no network ${networkName} (it has: ${Object.keys(ns).sort().join(", ")})`);
    const found = Object.values(net.hosts).flatMap((h) => {
        const c = h.containers[containerName];
        return c === undefined ? [] : [c];
    });
    if (found.length !== 1) {
        const all = Object.values(net.hosts).flatMap((h) => Object.keys(h.containers)).sort();
        throw new pulumi.RunError(`network ${networkName} of stack ${macvlanStack} has no container ${containerName} (it has: ${all.join(", ")})`);
    }
    const c = found[0];
    return { network: net.name, host: c.host, ip: c.ip, ...(c.ip6 === undefined ? {} : { ip6: c.ip6 }), mac: c.mac, id: c.id };
});

/** `/etc/hosts` lines, `<address> <container>.<network>`, for every pinned address (IPv4 and IPv6), sorted by address. */
export const hostsFile = networks.apply((ns) => {
    const lines: [string, string][] = [];
    for (const [key, net] of Object.entries(ns)) {
        for (const h of Object.values(net.hosts)) {
            for (const [name, c] of Object.entries(h.containers)) {
                for (const ip of [c.ip, ...(c.ip6 === undefined ? [] : [c.ip6])]) lines.push([ip, `${name}.${key}`]);
            }
        }
    }
    lines.sort((a, b) => (addressKey(a[0]) < addressKey(b[0]) ? -1 : addressKey(a[0]) > addressKey(b[0]) ? 1 : 0));
    return lines.map(([ip, name]) => `${ip} ${name}\n`).join("");
});

/** Per segment (`untagged`, `vlan50`, …): its subnets, the engines' blocks (each once, sorted) and the fixed addresses. */
export const reserved = addressPlan.apply((plan) =>
    Object.fromEntries(
        Object.entries(plan).map(([segment, p]) => {
            const blocks = new Set(Object.values(p.pools).flatMap((byHost) => Object.values(byHost).flat()));
            return [segment, { vlan: p.vlan, subnets: [...p.subnets], enginePools: [...blocks].sort(), fixed: Object.keys(p.fixed) }];
        }),
    ),
);
