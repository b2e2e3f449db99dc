/**
 * Reading the raw property bags of docker.Network, docker.Container and command.remote.Command
 * (pulumi-docker 5.x / pulumi-command 1.x input names, camelCase) into small plain views. A value
 * of an unexpected shape reads as absent, so a rule reports it as not set rather than throwing. Each
 * read goes through the object the runtime hands over, so a value not known during preview throws
 * the runtime's UnknownValueError, which the runtime turns into an advisory "can't run during
 * preview" note: a rule never guesses an unknown value it checks. Only values that merely label or
 * select (names, an unset driver or networkMode) have a fallback (`knownOr`).
 */
import { DOCKER_CONTAINER, DOCKER_NETWORK, MACVLAN_DRIVER, type StackResource } from "./types";

/**
 * True for the runtime's UnknownValueError (what its proxy throws on a value not known during
 * preview). Recognized by its `unknownTypeSentinel` field: @pulumi/policy 1.21 ships no type for
 * the class (its proxy.d.ts is stripped), and the rules import nothing of it at run time.
 */
export function isUnknownValueError(e: unknown): e is Error {
    return e instanceof Error && "unknownTypeSentinel" in e;
}

/** `read()`, or `fallback` when it meets a value not known during preview (other errors pass). */
export function knownOr<T>(read: () => T, fallback: T): T {
    try {
        return read();
    } catch (e) {
        if (isUnknownValueError(e)) return fallback;
        throw e;
    }
}

/** A plain object (or a proxy of one), else undefined. */
export function record(v: unknown): Record<string, unknown> | undefined {
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** A string, else undefined. */
export function str(v: unknown): string | undefined {
    return typeof v === "string" ? v : undefined;
}

/** An array's elements, else none. */
export function list(v: unknown): unknown[] {
    return Array.isArray(v) ? [...(v as unknown[])] : [];
}

/** A non-empty string, else undefined (Docker treats an empty option as not set). */
function text(v: unknown): string | undefined {
    const s = str(v);
    return s === undefined || s === "" ? undefined : s;
}

/** One `ipamConfigs` entry, as written. */
export interface IpamView {
    readonly subnet?: string;
    readonly gateway?: string;
}

/** What the rules read of a docker.Network. */
export interface NetworkView {
    /** The Docker network name (`name`; the resource name when it is not set). */
    readonly dockerName: string;
    readonly driver?: string;
    /** `options.parent`. */
    readonly parent?: string;
    /** `options.macvlan_mode`. */
    readonly mode?: string;
    readonly ipam: readonly IpamView[];
}

/**
 * The view of a docker.Network's props; `resourceName` stands in for an unset `name` (or one not
 * known during preview: a name only labels messages and resolves containers' endpoints, which name
 * it with the same Output). An unknown parent, mode or pool throws.
 */
export function readNetwork(props: Record<string, unknown>, resourceName: string): NetworkView {
    const options = record(props["options"]) ?? {};
    const parent = text(options["parent"]);
    const mode = text(options["macvlan_mode"]);
    const driver = str(props["driver"]);
    return {
        dockerName: knownOr(() => text(props["name"]), undefined) ?? resourceName,
        ...(driver === undefined ? {} : { driver }),
        ...(parent === undefined ? {} : { parent }),
        ...(mode === undefined ? {} : { mode }),
        ipam: list(props["ipamConfigs"]).map((c) => {
            const r = record(c) ?? {};
            const subnet = text(r["subnet"]);
            const gateway = text(r["gateway"]);
            return { ...(subnet === undefined ? {} : { subnet }), ...(gateway === undefined ? {} : { gateway }) };
        }),
    };
}

/**
 * True for a docker.Network whose driver is macvlan. A driver not known during preview is not
 * macvlan: an unset driver is an output computed from the engine's default (bridge), unknown until
 * the network exists, and a program that means macvlan writes it.
 */
export function isMacvlanNetwork(type: string, props: Record<string, unknown>): boolean {
    return type === DOCKER_NETWORK && knownOr(() => str(props["driver"]), undefined) === MACVLAN_DRIVER;
}

/** One `networksAdvanced` entry of a container, with its index. */
export interface EndpointView {
    readonly index: number;
    readonly network?: string;
    readonly ipv4Address?: string;
    readonly ipv6Address?: string;
    readonly macAddress?: string;
}

/** What the rules read of a docker.Container. */
export interface ContainerView {
    /** The Docker container name (`name`; the resource name when it is not set). */
    readonly dockerName: string;
    readonly networkMode?: string;
    readonly endpoints: readonly EndpointView[];
    /** How many `ports` entries it publishes. */
    readonly ports: number;
}

/**
 * The view of a docker.Container's props. Its name and `networkMode` (outputs computed when not
 * set) fall back to the resource name and to unset when not known during preview; an unknown
 * endpoint or `ports` throws.
 */
export function readContainer(props: Record<string, unknown>, resourceName: string): ContainerView {
    const networkMode = knownOr(() => text(props["networkMode"]), undefined);
    return {
        dockerName: knownOr(() => text(props["name"]), undefined) ?? resourceName,
        ...(networkMode === undefined ? {} : { networkMode }),
        endpoints: list(props["networksAdvanced"]).map((e, index) => {
            const r = record(e) ?? {};
            const network = text(r["name"]);
            const ipv4Address = text(r["ipv4Address"]);
            const ipv6Address = text(r["ipv6Address"]);
            const macAddress = text(r["macAddress"]);
            return {
                index,
                ...(network === undefined ? {} : { network }),
                ...(ipv4Address === undefined ? {} : { ipv4Address }),
                ...(ipv6Address === undefined ? {} : { ipv6Address }),
                ...(macAddress === undefined ? {} : { macAddress }),
            };
        }),
        ports: list(props["ports"]).length,
    };
}

/** The Docker engine a resource talks to: its provider's URN (the default provider when it has none). */
export function engineOf(r: Pick<StackResource, "provider">): string {
    return r.provider?.urn ?? "default";
}

/** The containers of a stack. */
export function containersOf(resources: readonly StackResource[]): StackResource[] {
    return resources.filter((r) => r.type === DOCKER_CONTAINER);
}

/**
 * The types a resource's URN names: its ancestors' types, then its own
 * (`urn:pulumi:<stack>::<project>::<parent type>$…$<type>::<name>`).
 */
export function typeChain(urn: string): string[] {
    const qualified = urn.split("::")[2];
    return qualified === undefined ? [] : qualified.split("$");
}
