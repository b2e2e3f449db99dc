/**
 * The stack as the stack policies see it: the macvlan networks it registers, and each container's
 * endpoints resolved to them.
 *
 * How a container's network is known to be macvlan: a container names its networks by Docker name
 * only (`networksAdvanced[].name`, `networkMode`), so the per-resource view of a container cannot
 * tell. The stack policies resolve the name: an endpoint is on the macvlan network of the stack with
 * that Docker name on the same Docker engine, the engine being the resource's Docker provider (its
 * URN). A name that resolves to no macvlan network of the stack (a bridge network, a network made
 * outside the stack) is not checked.
 *
 * A LAN segment: the macvlan networks on one engine with one parent link are one segment; with the
 * `subnet` view (the default), networks whose subnets overlap are one segment too, on any engine,
 * since a LAN spans hosts (two hosts' `mynet` on 198.51.100.0/24 share the wire). The `parent` view
 * keeps only the first rule, for stacks whose sites reuse a subnet on separate LANs.
 */
import { parseCidr, POOL_FAMILIES, type Cidr } from "../../components/net/addr";
import { containersOf, engineOf, isMacvlanNetwork, isUnknownValueError, readContainer, readNetwork, type ContainerView, type EndpointView, type NetworkView } from "./read";
import type { StackResource } from "./types";

/** One macvlan docker.Network of the stack. */
export interface MacvlanNetworkNode {
    readonly resource: StackResource;
    readonly view: NetworkView;
    readonly engine: string;
    /** The parsed subnets of its pools (the unparsable left out). */
    readonly subnets: readonly Cidr[];
    /** Its LAN segment's id (the index of one network of the segment). */
    segment: number;
}

/** A container endpoint on a macvlan network of the stack. */
export interface MacvlanEndpoint {
    readonly container: StackResource;
    readonly view: ContainerView;
    readonly endpoint: EndpointView;
    readonly network: MacvlanNetworkNode;
}

/** How LAN segments are found (the policy config `segments`). */
export type SegmentView = "subnet" | "parent";

/** The macvlan networks of a stack and the containers' endpoints on them. */
export interface MacvlanStack {
    readonly networks: readonly MacvlanNetworkNode[];
    /** Every container of the stack, read. */
    readonly containers: readonly { readonly resource: StackResource; readonly view: ContainerView }[];
    /** Every endpoint that resolves to a macvlan network. */
    readonly endpoints: readonly MacvlanEndpoint[];
    /** The macvlan network with a Docker name on an engine. */
    networkNamed(engine: string, dockerName: string): MacvlanNetworkNode | undefined;
    /**
     * The first value not known during preview that kept a network or a container out of the view
     * (the others are still checked): a policy throws it after reporting, and the runtime adds its
     * advisory "can't run during preview" note.
     */
    readonly unknown?: Error;
}

/** Throws the view's deferred unknown-value error, if any (call after reporting the violations). */
export function throwDeferredUnknown(stack: MacvlanStack): void {
    if (stack.unknown !== undefined) throw stack.unknown;
}

/** Resolves a stack's macvlan networks, their segments and the containers' endpoints on them. */
export function macvlanStack(resources: readonly StackResource[], segments: SegmentView = "subnet"): MacvlanStack {
    let unknown: Error | undefined;
    /** `read()`, or undefined (the first such error kept) when it meets a value not known during preview. */
    const known = <T>(read: () => T): T | undefined => {
        try {
            return read();
        } catch (e) {
            if (!isUnknownValueError(e)) throw e;
            unknown ??= e;
            return undefined;
        }
    };
    const networks: MacvlanNetworkNode[] = [];
    for (const r of resources) {
        if (!isMacvlanNetwork(r.type, r.props)) continue;
        const view = known(() => readNetwork(r.props, r.name));
        if (view === undefined) continue;
        const subnets = view.ipam.flatMap((p) => {
            const c = p.subnet === undefined ? undefined : parseCidr(p.subnet, POOL_FAMILIES);
            return c?.ok === true ? [c.value] : [];
        });
        networks.push({ resource: r, view, engine: engineOf(r), subnets, segment: networks.length });
    }
    joinSegments(networks, segments);
    const byName = new Map<string, MacvlanNetworkNode>();
    for (const n of networks) byName.set(`${n.engine}\n${n.view.dockerName}`, n);
    const networkNamed = (engine: string, dockerName: string) => byName.get(`${engine}\n${dockerName}`);
    const containers = containersOf(resources).flatMap((resource) => {
        const view = known(() => readContainer(resource.props, resource.name));
        return view === undefined ? [] : [{ resource, view }];
    });
    const endpoints: MacvlanEndpoint[] = [];
    for (const c of containers) {
        for (const endpoint of c.view.endpoints) {
            const network = endpoint.network === undefined ? undefined : networkNamed(engineOf(c.resource), endpoint.network);
            if (network !== undefined) endpoints.push({ container: c.resource, view: c.view, endpoint, network });
        }
    }
    return { networks, containers, endpoints, networkNamed, ...(unknown === undefined ? {} : { unknown }) };
}

/** Gives every network its segment id: union of same engine and parent, and (subnet view) overlapping subnets. */
function joinSegments(networks: MacvlanNetworkNode[], view: SegmentView): void {
    const root = (i: number): number => {
        let at = i;
        while (networks[at].segment !== at) at = networks[at].segment;
        return at;
    };
    const join = (a: number, b: number) => {
        const ra = root(a);
        const rb = root(b);
        if (ra !== rb) networks[Math.max(ra, rb)].segment = Math.min(ra, rb);
    };
    for (let a = 0; a < networks.length; a++) {
        for (let b = a + 1; b < networks.length; b++) {
            const x = networks[a];
            const y = networks[b];
            const sameLink = x.engine === y.engine && x.view.parent !== undefined && x.view.parent === y.view.parent;
            const sameSubnet = view === "subnet" && x.subnets.some((s) => y.subnets.some((t) => s.overlaps(t)));
            if (sameLink || sameSubnet) join(a, b);
        }
    }
    for (let i = 0; i < networks.length; i++) networks[i].segment = root(i);
}
