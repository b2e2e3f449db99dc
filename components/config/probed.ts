/**
 * The rules that need each host's own facts, as the drift probe read them (pure: the program
 * passes what the probe answered). They run after the probe and before anything registers, and
 * only when the probe runs (config `macvlan:probe`, default on); their problems have the form of
 * every other config problem (`<path> <value> <rule>`):
 *
 * - one machine listed twice (say once by IP and once by DNS name): two host entries whose hosts
 *   report the same /etc/machine-id;
 * - a container or shim at one of a host's own addresses on the same LAN segment: an address on
 *   the host's parent is on the untagged segment, one on `<parent>.<vlan>` on that VLAN's. (The
 *   config rules already refuse a host's SSH address when it is an IPv4 literal; this finds a
 *   host given by DNS name, and every other address the host has.)
 * - a parent NIC that does not exist on its host (refused here, before any host is changed,
 *   rather than by the first command that runs there);
 * - a declared `dockerVersion` that disagrees with the engine the probe found (engine.ts). The
 *   version rules themselves run on each host's effective engine (`engineRuleProblems`).
 *
 * And its warnings (`probedFactsWarnings`, also part of `configWarnings` in warnings.ts): a parent
 * that is down; promiscuous mode off on a parent that is a VM's NIC.
 */
import type { ProbedDocker, ProbedDriver, ProbedParent } from "../host/scripts";
import { segmentKey, segmentLabel } from "../net/names";
import { declaredVersionProblem } from "./engine";
import type { StackModel } from "./model";

/** What the probe found on one host. */
export interface ProbedHostFacts {
    /** /etc/machine-id (32 hex digits); absent: the host has none readable, and no check is made. */
    readonly machineId?: string;
    /** The IPv4 addresses on the host's parent and its VLAN sub-interfaces. */
    readonly addresses: readonly { readonly link: string; readonly address: string; readonly prefix: number }[];
    /** The parent NIC: whether it exists, with its MTU and state; absent: not reported, and no check is made. */
    readonly parent?: ProbedParent;
    /** The kernel driver of the parent's device; absent: not reported (no device, or an older probe), and no VM is inferred from it. */
    readonly parentDriver?: ProbedDriver;
    /** The hypervisor the host runs on (`systemd-detect-virt --vm`: `kvm`, `vmware`…); absent: bare metal, or not known. */
    readonly virtualization?: string;
    /** The Docker Engine; absent: docker is missing or did not answer, and no version check is made. */
    readonly docker?: ProbedDocker;
}

/** The problems of the probed facts of each host (by host name), in config order; none: all good. */
export function probedFactsProblems(model: StackModel, facts: ReadonlyMap<string, ProbedHostFacts>): string[] {
    return [...parentProblems(model, facts), ...machineIdProblems(model, facts), ...dockerVersionProblems(model, facts), ...ownAddressProblems(model, facts)];
}

/** Operstates of a link that carries no frames now. */
const DOWN_STATES: readonly string[] = ["DOWN", "LOWERLAYERDOWN", "NOTPRESENT"];

/**
 * Warnings on the probed facts, for what is risky but may be meant (nothing is refused), host by
 * host in config order: a parent NIC that exists but is down carries no frames for the macvlan
 * links and VLAN sub-interfaces on it until it comes up; `promisc: false` on a parent that is a
 * VM's NIC (vmParentOf) may leave the containers' MACs without frames.
 */
export function probedFactsWarnings(model: StackModel, facts: ReadonlyMap<string, ProbedHostFacts>): string[] {
    return [...downParentWarnings(model, facts), ...vmPromiscWarnings(model, facts)];
}

/**
 * Drivers of paravirtual NICs: a link driven by one of them is a VM's NIC, whatever else is known
 * (virtio, VMware, Hyper-V, Xen, and the clouds' own: AWS ENA, Google gVNIC).
 */
export const PARAVIRTUAL_NIC_DRIVERS: readonly string[] = ["virtio_net", "vmxnet3", "hv_netvsc", "vif", "xen-netfront", "ena", "gve"];
/** Drivers of NICs that hypervisors emulate, which are real hardware too: a VM's NIC only when the host is a VM. */
export const EMULATED_NIC_DRIVERS: readonly string[] = ["e1000", "e1000e", "8139cp", "8139too", "pcnet32", "ne2k-pci", "tulip"];

/**
 * How the probe's facts show that a host's parent is a VM's NIC, in words for a message, or
 * undefined when they do not: a paravirtual driver; or a host that is a VM (`virtualization`) whose
 * parent has an emulated NIC's driver, or no device driver to tell (a bond or bridge over vNICs).
 * A VM whose parent has another driver (a NIC passed through) is not taken for one.
 */
export function vmParentOf(host: { readonly parent: string }, facts: ProbedHostFacts | undefined): string | undefined {
    if (facts === undefined) return undefined;
    const driver = facts.parentDriver?.link === host.parent ? facts.parentDriver.driver : undefined;
    const virt = facts.virtualization;
    const found = [...(driver === undefined ? [] : [`driver ${driver}`]), ...(virt === undefined ? [] : [`virtualization ${virt}`])].join(", ");
    if (driver !== undefined && PARAVIRTUAL_NIC_DRIVERS.includes(driver)) return found;
    if (virt !== undefined && (driver === undefined || EMULATED_NIC_DRIVERS.includes(driver))) return found;
    return undefined;
}

/** Warning: `promisc: false` on a parent that is a VM's NIC. */
function vmPromiscWarnings(model: StackModel, facts: ReadonlyMap<string, ProbedHostFacts>): string[] {
    return model.hosts.flatMap((h, i) => {
        if (h.promisc) return [];
        const vm = vmParentOf(h, facts.get(h.name));
        if (vm === undefined) return [];
        return [
            `hosts[${i}].promisc false on host ${h.name}, whose parent ${h.parent} is a VM's NIC (the probe found ${vm}): ` +
                `most hypervisors pass a VM only the frames for the MACs they know, unless its port allows promiscuous mode or MAC changes, so the containers' MACs may receive nothing. ` +
                `Unless the hypervisor learns them, leave promisc at its default (true) and allow it on the hypervisor's side ` +
                `(vSphere port group: Promiscuous mode, MAC address changes and Forged transmits set to Accept; Hyper-V: MAC address spoofing)`,
        ];
    });
}

/** Warning: a parent NIC that exists but is down. */
function downParentWarnings(model: StackModel, facts: ReadonlyMap<string, ProbedHostFacts>): string[] {
    return model.hosts.flatMap((h, i) => {
        const parent = facts.get(h.name)?.parent;
        if (parent === undefined || !parent.exists || parent.link !== h.parent || !DOWN_STATES.includes(parent.state)) return [];
        return [
            `hosts[${i}].parent ${h.parent} is ${parent.state} on host ${h.name} (the probe found state ${parent.state}, MTU ${parent.mtu}): ` +
                `the macvlan networks and VLAN sub-interfaces on it carry nothing until it is up (\`ip link set dev ${h.parent} up\`, and its cable or switch port)`,
        ];
    });
}

/** Rule: each host's parent NIC exists there. */
function parentProblems(model: StackModel, facts: ReadonlyMap<string, ProbedHostFacts>): string[] {
    return model.hosts.flatMap((h, i) => {
        const parent = facts.get(h.name)?.parent;
        if (parent === undefined || parent.link !== h.parent || parent.exists) return [];
        return [
            `hosts[${i}].parent ${h.parent} does not exist on host ${h.name}: the probe found no link ${h.parent} there (\`ip link show dev ${h.parent}\`); ` +
                "name the host's LAN NIC (`ip -br link` lists them); nothing was changed on any host",
        ];
    });
}

/** Rule: a declared dockerVersion agrees with the engine the probe found (its major.minor). */
function dockerVersionProblems(model: StackModel, facts: ReadonlyMap<string, ProbedHostFacts>): string[] {
    return model.hosts.flatMap((h, i) => {
        const problem = declaredVersionProblem(h.name, h.dockerVersion, facts.get(h.name)?.docker);
        return problem === undefined ? [] : [`hosts[${i}].dockerVersion ${problem}`];
    });
}

/** A host entry in messages: `hosts[2].address node1.example.net (host node3)`. */
function hostEntry(model: StackModel, i: number): string {
    const h = model.hosts[i];
    return `hosts[${i}].address ${h.address} (host ${h.name})`;
}

/** Rule: each machine is listed once; one problem per machine listed more than once, naming every entry. */
function machineIdProblems(model: StackModel, facts: ReadonlyMap<string, ProbedHostFacts>): string[] {
    const byId = new Map<string, number[]>();
    model.hosts.forEach((h, i) => {
        const id = facts.get(h.name)?.machineId;
        if (id === undefined) return;
        byId.set(id, [...(byId.get(id) ?? []), i]);
    });
    const problems: string[] = [];
    for (const [id, entries] of byId) {
        if (entries.length < 2) continue;
        const [first, ...rest] = entries;
        problems.push(
            `${rest.map((i) => hostEntry(model, i)).join(" and ")} ${rest.length > 1 ? "are" : "is"} the same machine as ${hostEntry(model, first)}: ` +
                `each reports /etc/machine-id ${id}; list each machine once (a second entry would apply its settings to the same host twice, under two names). ` +
                "If they are different machines cloned from one image, give each its own machine id (`rm /etc/machine-id && systemd-machine-id-setup`)",
        );
    }
    return problems;
}

/**
 * Rule: no container ip or ip6 and no shim address is one of a host's own addresses on the same segment
 * (the probe reports IPv4 and global IPv6 addresses, in canonical text, as the model holds them).
 * The first host (in config order) holding an address is named.
 */
function ownAddressProblems(model: StackModel, facts: ReadonlyMap<string, ProbedHostFacts>): string[] {
    // `<segment> <address>` → the rule a container or shim there breaks.
    const own = new Map<string, string>();
    model.hosts.forEach((h, i) => {
        const found = facts.get(h.name);
        if (found === undefined) return;
        for (const a of found.addresses) {
            let vlan: number | undefined;
            if (a.link === h.parent) vlan = undefined;
            else {
                const v = h.vlans.find((id) => a.link === `${h.parent}.${id}`);
                if (v === undefined) continue; // a link the probe was not asked about
                vlan = v;
            }
            const key = `${segmentKey(vlan)} ${a.address}`;
            if (own.has(key)) continue;
            own.set(
                key,
                `is an address of host ${h.name} (hosts[${i}]) itself: the probe found ${a.address}/${a.prefix} on its ${a.link}, on ${segmentLabel(vlan)}; two holders of one address on one segment break both (choose another address)`,
            );
        }
    });
    if (own.size === 0) return [];
    const problems: string[] = [];
    model.hosts.forEach((h, i) => {
        if (h.shim === undefined) return;
        const hit = own.get(`${segmentKey(h.shim.vlan)} ${h.shim.address}`);
        if (hit !== undefined) problems.push(`hosts[${i}].shim.address ${h.shim.address} ${hit}`);
    });
    const segmentOf = new Map(model.networks.map((n) => [n.name, n.vlan]));
    model.networks.forEach((n, i) => {
        n.containers.forEach((c, j) => {
            // The first attachment is this network's (`ip`, `ip6`); the others are its `networks[k]`.
            c.attachments.forEach((a, k) => {
                const at = k === 0 ? `networks[${i}].containers[${j}]` : `networks[${i}].containers[${j}].networks[${k - 1}]`;
                for (const [key, ip] of [["ip", a.ipv4Address], ["ip6", a.ipv6Address]] as const) {
                    if (ip === undefined) continue;
                    const hit = own.get(`${segmentKey(segmentOf.get(a.network))} ${ip}`);
                    if (hit !== undefined) problems.push(`${at}.${key} ${ip} ${hit}`);
                }
            });
        });
    });
    return problems;
}
