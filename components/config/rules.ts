/**
 * The rules for single config values, each worded once: what a field takes (its type and rule)
 * and the wording shared by the checks of several entries. A rule returns the rule broken,
 * phrased to follow `<path> <value>`, or undefined.
 */
import { Address, Cidr, broadcastAddress, familyLabel, networkAddress, nonHostBlockOf, nonLanBlockOverlapping, parseAddress, parseCidr, POOL_FAMILIES, type IpFamily } from "../net/addr";
import { parseMac } from "../net/mac";
import {
    HOST_NAME_RULE,
    IFNAME_MAX,
    isAuxName,
    isDnsName,
    isDockerContainerName,
    isDockerName,
    isDockerVersion,
    isEnvName,
    isHostName,
    isIfName,
    isImageRef,
    isIpv4Literal,
    isIpv6Literal,
    isPort,
    isSshUser,
    isVlanId,
    PORT_RULE,
    ifNameProblem,
    SSH_USER_RULE,
    sshHostKeyProblem,
    VLAN_ID_RULE,
    VLAN_MAX,
    VLAN_MIN,
} from "../net/patterns";
import { declaredEngine, ENGINE_MIN, engineAtLeast } from "./engine";
import { MACVLAN_MODES, RESTART_POLICIES, type MacvlanMode, type RestartPolicy } from "./model";
import { field, isList, isMap, isNumber, isString, parsedField, textField, type Field, type RawMap, type Rule } from "./read";

/** Docker restart policies accepted for containers. */
/** Names of Docker's predefined networks, which a stack network cannot take. */
const PREDEFINED_NETWORK_NAMES: readonly string[] = ["bridge", "host", "none"];

/** A VLAN id, as wrong-type and empty-entry problems expect it. */
const VLAN_ID_TYPE = `a VLAN id ${VLAN_MIN}-${VLAN_MAX}`;

/** The rule `holds` decides, worded `broken`. */
function rule<T>(holds: (value: T) => boolean, broken: string): Rule<T> {
    return (value) => (holds(value) ? undefined : broken);
}

// ---------------------------------------------------------------------------------------------
// Rules with more than one wording, or on more than one value

/** SSH targets: an IPv4 address a host can have, or a DNS name. */
function sshAddressProblem(s: string): string | undefined {
    if (isIpv4Literal(s)) {
        const r = parseAddress(s);
        const special = r.ok ? nonHostBlockOf(r.value) : undefined;
        return special === undefined ? undefined : `is not a host address: ${special.name} ${special.why}; give the host's own address on the LAN`;
    }
    if (isDnsName(s)) return undefined;
    if (isIpv6Literal(s)) return "is an IPv6 address; IPv6 is not supported yet";
    return "is not an IPv4 address or DNS name";
}

/** The loopback interface: a host's parent must be a link that reaches the LAN. */
const LOOPBACK_IFNAME = "lo";

/** A host's parent: an interface name, and not the loopback interface. */
function parentProblem(s: string): string | undefined {
    if (s === LOOPBACK_IFNAME) return "is the loopback interface, which carries no LAN and cannot be a macvlan parent; give the NIC that carries the LAN";
    return ifNameProblem(s);
}

function networkNameProblem(s: string): string | undefined {
    if (!isDockerName(s)) return "is not a valid Docker network name: 1-64 characters of A-Z, a-z, 0-9, _, . and -, starting with a letter or digit";
    if (PREDEFINED_NETWORK_NAMES.includes(s)) return `is a predefined Docker network (${PREDEFINED_NETWORK_NAMES.join(", ")}); choose another name`;
    return undefined;
}

function modeProblem(s: string): string | undefined {
    if ((MACVLAN_MODES as readonly string[]).includes(s)) return undefined;
    const modes = MACVLAN_MODES.join(", ");
    // The field notes write `-o macvlan_mode=veth` for what they describe as vepa.
    if (s.toLowerCase() === "veth") return `is not a macvlan mode: ${modes}; for same-host traffic through the switch (what some notes call veth), use vepa`;
    if ((MACVLAN_MODES as readonly string[]).includes(s.toLowerCase())) return `is not a macvlan mode: ${modes}; did you mean ${s.toLowerCase()}?`;
    return `is not a macvlan mode: ${modes}`;
}

const restartProblem = rule<string>((s) => (RESTART_POLICIES as readonly string[]).includes(s), `is not a restart policy: ${RESTART_POLICIES.join(", ")}`);

const nulProblem = rule<string>((s) => !s.includes("\0"), "contains a NUL character");

/** `address` lies in `subnet` (Docker's wording: "does not belong to … subnets"). */
function inSubnetProblem(address: Address | Cidr, subnet: Cidr): string | undefined {
    return subnet.contains(address) ? undefined : `does not belong to subnet ${subnet.toString()}`;
}

/**
 * A subnet a LAN can have: not a /0 (every address), and clear of the blocks set aside for other
 * uses (NON_LAN_IPV4: "this network", loopback, link-local, multicast, the limited broadcast).
 */
export function lanSubnetProblem(subnet: Cidr): string | undefined {
    if (subnet.prefix === 0) return "cannot be a LAN subnet: a /0 is every address there is";
    const special = nonLanBlockOverlapping(subnet);
    if (special === undefined) return undefined;
    if (special.block.contains(subnet)) return `cannot be a LAN subnet: ${special.name} ${special.why}`;
    return `cannot be a LAN subnet: it covers ${special.name}, which ${special.why}`;
}

/** `address` is neither the network nor the broadcast address of `subnet`. */
export function reservedInSubnetProblem(address: Address, subnet: Cidr): string | undefined {
    if (address.equals(networkAddress(subnet))) return `is the network address of subnet ${subnet.toString()}`;
    const broadcast = broadcastAddress(subnet);
    if (broadcast !== undefined && address.equals(broadcast)) return `is the broadcast address of subnet ${subnet.toString()}`;
    return undefined;
}

/** The sub-interface `link` of a valid parent and VLAN id fits in a Linux interface name. */
export function subInterfaceProblem(link: string): string | undefined {
    return isIfName(link) ? undefined : `makes the sub-interface name ${link}, longer than the ${IFNAME_MAX} characters Linux allows`;
}

/** True when a host's declared Docker Engine allows several macvlan networks on one parent (engine.ts). */
export function allowsSharedParent(dockerVersion: string | undefined): boolean {
    return engineAtLeast(declaredEngine(dockerVersion), ENGINE_MIN.sharedParent);
}

// ---------------------------------------------------------------------------------------------
// Wording shared by several checks

/** A list entry given twice. */
export const LISTED_TWICE = "is listed twice";

/** An empty list entry or map value, where `expected` was due. */
export function emptyProblem(expected: string): string {
    return `is empty; expected ${expected}`;
}

/** The empty-entry problem of a list of VLAN ids. */
export const EMPTY_VLAN = emptyProblem(VLAN_ID_TYPE);

/** A name that is none of the hosts' (`names`: the valid ones). */
export function notAHostProblem(names: Iterable<string>): string {
    return `is not a host in hosts (${[...names].join(", ")})`;
}

// ---------------------------------------------------------------------------------------------
// The fields: the type and rule of each config value

// A host
export const HOST_NAME: Field<string> = field("a string", isString, rule(isHostName, HOST_NAME_RULE));
export const SSH_ADDRESS: Field<string> = field("a string", isString, sshAddressProblem);
export const PORT: Field<number> = field("an integer 1-65535", isNumber, rule(isPort, PORT_RULE));
export const SSH_USER: Field<string> = field("a string", isString, rule(isSshUser, SSH_USER_RULE));
export const HOST_KEY: Field<string> = field("a string", isString, sshHostKeyProblem);
export const PARENT: Field<string> = field("a string", isString, parentProblem);
export const VLAN_ID: Field<number> = field(VLAN_ID_TYPE, isNumber, rule(isVlanId, VLAN_ID_RULE));
export const VLAN_LIST: Field<unknown[]> = field("a list of VLAN ids", isList);
export const DOCKER_VERSION: Field<string> = field('a string "major.minor" (quote it in YAML)', isString, rule(isDockerVersion, 'is not a Docker version "major.minor" like "27.3"'));
/** Any address (a shim's; where it may sit is a rule across entries). */
export const ADDRESS: Field<Address> = parsedField(parseAddress);

// A network
export const NETWORK_NAME: Field<string> = field("a string", isString, networkNameProblem);
export const MODE: Field<MacvlanMode> = textField<MacvlanMode>(modeProblem);
export const AUX_MAP: Field<RawMap> = field("a map of name to address", isMap);
export const SLICE_MAP: Field<RawMap> = field("a map of host name to CIDR or slot number", isMap);
/** `sliceSize`: the prefix length of numbered slices, 1-32 (longer than the range's prefix: checked with it). */
export const SLICE_SIZE: Field<number> = field("a prefix length (a number 1-32)", isNumber, rule((v: number) => Number.isInteger(v) && v >= 1 && v <= 32, "is not a prefix length 1-32"));
export const HOST_LIST: Field<unknown[]> = field("a list of host names", isList);
export const HOST_REF: Field<string> = field("a host name", isString);
export const CONTAINER_LIST: Field<unknown[]> = field("a list", isList);
/** A container's `networks`: the further networks it joins. */
export const JOIN_LIST: Field<unknown[]> = field("a list of {network, ip, ip6, mac}", isList);
/** `ipam`: the network's pools, each a map {subnet, gateway, ipRange}. */
export const POOL_LIST: Field<unknown[]> = field("a list of pools {subnet, gateway, ipRange}", isList);

/**
 * A pool's gateway: an address of either family in `subnet`, not its network or broadcast address,
 * which Docker holds already (unchecked while the subnet is unknown).
 */
export function addressIn(subnet: Cidr | undefined): Field<Address> {
    return parsedField((s) => parseAddress(s, POOL_FAMILIES), subnet === undefined ? undefined : (a) => inSubnetProblem(a, subnet) ?? reservedInSubnetProblem(a, subnet));
}

/** A pool's ipRange: a block of either family inside `subnet` when it is known. */
export function blockIn(subnet: Cidr | undefined): Field<Cidr> {
    return parsedField((s) => parseCidr(s, POOL_FAMILIES), subnet === undefined ? undefined : (c) => inSubnetProblem(c, subnet));
}

/** The subnets of one family that an address may lie in: a network's pools of that family, and whether every pool given was valid (else no in-pool rule can be decided). */
export interface PoolSubnets {
    readonly subnets: readonly Cidr[];
    readonly complete: boolean;
}

/**
 * An address inside a network's pools (an aux address, a container's ip or ip6): parsed as any
 * family, of `family` when given (`wrongFamily` says where the other family goes), in one of the
 * subnets of its family, not that subnet's network or broadcast address. `of` gives the subnets of
 * a family; a family without one is refused with `noPool(family)`; while a pool is unknown
 * (`complete` false) only the family is checked.
 */
export function addressInPools(
    of: (f: IpFamily) => PoolSubnets,
    noPool: (f: IpFamily) => string,
    family?: { readonly family: IpFamily; readonly wrongFamily: string },
): Field<Address> {
    return parsedField(
        (s) => parseAddress(s, POOL_FAMILIES),
        (a) => {
            if (family !== undefined && a.family !== family.family) return `is an ${familyLabel(a.family)} address; ${family.wrongFamily}`;
            const { subnets, complete } = of(a.family);
            if (subnets.length === 0) return complete ? noPool(a.family) : undefined;
            const holder = subnets.find((s) => s.contains(a));
            if (holder === undefined) {
                if (!complete) return undefined;
                return subnets.length === 1 ? `does not belong to subnet ${subnets[0].toString()}` : `does not belong to any of the subnets ${subnets.map((s) => s.toString()).join(", ")}`;
            }
            return reservedInSubnetProblem(a, holder);
        },
    );
}

/** A host's slice: a block inside the network's `ipRange`, or its subnet when it has no ipRange (unchecked while unknown). */
export function sliceIn(ipRange: Cidr | undefined, subnet: Cidr | undefined): Field<Cidr> {
    const within = ipRange ?? subnet;
    const what = ipRange === undefined ? "subnet" : "ipRange";
    return parsedField(parseCidr, within === undefined ? undefined : (c) => (within.contains(c) ? undefined : `does not lie inside the network's ${what} ${within.toString()}`));
}

// A container
export const CONTAINER_NAME: Field<string> = field(
    "a string",
    isString,
    rule(isDockerContainerName, "is not a valid Docker container name: 2-64 characters of A-Z, a-z, 0-9, _, . and -, starting with a letter or digit"),
);
export const IMAGE: Field<string> = field("a string", isString, rule(isImageRef, "is not a valid image reference: [registry[:port]/]name[:tag][@sha256:<64 hex>], name in lower case"));
export const MAC: Field<string> = parsedField(parseMac);
export const COMMAND: Field<unknown[]> = field("a list of strings", isList);
export const COMMAND_WORD: Field<string> = field("a string", isString, nulProblem);
export const ENV_MAP: Field<RawMap> = field("a map of name to string", isMap);
export const ENV_VALUE: Field<string> = field("a string (quote it in YAML)", isString, nulProblem);
export const RESTART: Field<RestartPolicy> = textField<RestartPolicy>(restartProblem);

// Keys of a map (a problem names the map, and shows the key as JSON)
export const AUX_NAME: Rule<string> = rule(isAuxName, "is not a valid aux address name: 1-64 characters of A-Z, a-z, 0-9, _, . and -, starting with a letter or digit");
export const ENV_NAME: Rule<string> = rule(isEnvName, "is not a valid environment variable name: A-Z, a-z, 0-9 and _, not starting with a digit");
/** A container's `secretEnv`: the env names that must be set as secrets, each a valid name. */
export const SECRET_ENV: Field<unknown[]> = field("a list of environment variable names", isList);
export const SECRET_ENV_NAME: Field<string> = field("a string", isString, ENV_NAME);
