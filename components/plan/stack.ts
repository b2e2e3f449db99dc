/**
 * The plan of a whole stack (pure, no resource imports): from the validated model to each host's
 * arguments and plan — the VLANs it needs, whether Docker must answer, the shim's routes — and to
 * what the drift probe runs on each host. buildStack registers from the same plans, so the probe
 * reads exactly the features the components register.
 */
import type { HostModel, NetworkModel, StackModel } from "../config/model";
import { PROBE_COMMAND, renderProbe } from "../host/scripts";
import { parseAddress } from "../net/addr";
import { segmentLink } from "../net/names";
import { planHost, type HostPlan, type HostSpec } from "./host";

/** The address with its full-length prefix: `/32` for IPv4, `/128` for IPv6. */
export function hostRoute(address: string): string {
    const a = parseAddress(address, ["ipv4", "ipv6"]);
    if (!a.ok) throw new Error(`${address} ${a.problem}`);
    return `${a.value.toString()}/${a.value.bits}`;
}

/** The networks of the model that span `host`. */
export function networksOn(model: StackModel, host: string): NetworkModel[] {
    return model.networks.filter((n) => n.hosts.includes(host));
}

/** The attachment of a container to `network` (the first one when it names no other). */
export function attachmentTo(c: NetworkModel["containers"][number], network: string): NetworkModel["containers"][number]["attachments"][number] {
    return c.attachments.find((a) => a.network === network) ?? c.attachments[0];
}

/**
 * The MacvlanHost arguments of a host, without key material: features from the model, VLANs also
 * from the networks that use the host (and the shim's), `needsDocker` when any network spans it,
 * and the shim's routes: the /32 of every container on this host whose network rides the shim's
 * segment (same VLAN, or both untagged). The connection's `hostKey` is the host's pinned key, or
 * `hostKey` when given (a key learned on first use).
 */
export function hostSpec(model: StackModel, host: HostModel, identityFile?: string, hostKey: string | undefined = host.hostKey): HostSpec {
    const nets = networksOn(model, host.name);
    const vlans = new Set(host.vlans);
    for (const n of nets) if (n.vlan !== undefined) vlans.add(n.vlan);
    if (host.shim?.vlan !== undefined) vlans.add(host.shim.vlan);
    let shim: HostSpec["shim"];
    if (host.shim !== undefined) {
        const segment = host.shim.vlan;
        // Every address a container of this host has on the shim's segment: on the network it is
        // declared under, and on the further networks it joins.
        const onSegment = new Set(nets.filter((n) => n.vlan === segment).map((n) => n.name));
        const routes = model.networks
            .flatMap((n) => n.containers.filter((c) => c.host === host.name))
            .flatMap((c) => c.attachments.filter((a) => onSegment.has(a.network)).map((a) => hostRoute(a.ipv4Address)));
        shim = {
            address: hostRoute(host.shim.address),
            ...(segment === undefined ? {} : { vlan: segment }),
            routes: [...new Set(routes)],
        };
    }
    return {
        connection: {
            address: host.address,
            port: host.port,
            user: host.user,
            ...(hostKey === undefined ? {} : { hostKey }),
            ...(identityFile === undefined ? {} : { identityFile }),
        },
        parent: host.parent,
        promisc: host.promisc,
        ipForward: host.ipForward,
        vlans: [...vlans].sort((a, b) => a - b),
        ...(shim === undefined ? {} : { shim }),
        needsDocker: nets.length > 0,
    };
}

/** One host of the stack, planned. */
export interface PlannedHost {
    readonly model: HostModel;
    readonly spec: HostSpec;
    readonly plan: HostPlan;
}

/** Either every problem of the stack's hosts (each `hosts[i]: MacvlanHost <name>: …`), or every host planned. */
export type StackPlanResult = { readonly problems: readonly string[]; readonly hosts?: undefined } | { readonly problems: readonly []; readonly hosts: readonly PlannedHost[] };

/** Options of planStack. */
export interface PlanStackOptions {
    /** Key file for the Docker provider's `ssh`. */
    readonly identityFile?: string;
    /** Host keys by host name for hosts that pin none (learned on first use); a pinned key wins. */
    readonly hostKeys?: ReadonlyMap<string, string>;
}

/** Plans every host of a validated model; a host that cannot be planned stops them all. */
export function planStack(model: StackModel, opts: PlanStackOptions = {}): StackPlanResult {
    const problems: string[] = [];
    const hosts: PlannedHost[] = [];
    for (const [i, h] of model.hosts.entries()) {
        const spec = hostSpec(model, h, opts.identityFile, h.hostKey ?? opts.hostKeys?.get(h.name));
        const r = planHost(h.name, spec);
        if (r.plan === undefined) problems.push(...r.problems.map((p) => `hosts[${i}]: ${p}`));
        else hosts.push({ model: h, spec, plan: r.plan });
    }
    return problems.length > 0 ? { problems } : { problems: [], hosts };
}

/** What the drift probe runs on one host: where, as whom, and the read-only script of its features. */
export interface ProbeTarget {
    /** Host name (for messages). */
    readonly host: string;
    readonly address: string;
    readonly port: number;
    readonly user: string;
    /**
     * The host key `<type> <base64>` the server must present (pinned, or learned on a first use
     * before); absent: not known yet, to be learned on first use.
     */
    readonly hostKey?: string;
}

/** What the drift probe runs on one host: the command, and the script to send on its stdin. */
export interface ProbeRun {
    /** PROBE_COMMAND: `/bin/sh -s`, a few bytes whatever the script's size. */
    readonly command: string;
    /** The read-only script (renderProbe), sent on the command's stdin, then stdin is ended. */
    readonly stdin: string;
}

/** The links whose addresses the probe reports: the host's parent, then each of its VLAN sub-interfaces. */
export function probedLinks(h: Pick<HostModel, "parent" | "vlans">): string[] {
    return [h.parent, ...h.vlans.map((v) => segmentLink(h.parent, v))];
}

/**
 * The probe of each planned host: its target, and the run of the script for exactly its planned
 * features, which also reports the host's machine id and the addresses on its probedLinks.
 */
export function probePlan(hosts: readonly PlannedHost[]): { readonly target: ProbeTarget; readonly run: ProbeRun }[] {
    return hosts.map(({ model: h, spec, plan }) => ({
        target: { host: h.name, address: h.address, port: h.port, user: h.user, ...(spec.connection.hostKey === undefined ? {} : { hostKey: spec.connection.hostKey }) },
        run: {
            command: PROBE_COMMAND,
            stdin: renderProbe(
                h.name,
                plan.features.map((f) => f.feature),
                probedLinks(h),
                h.parent,
            ),
        },
    }));
}
