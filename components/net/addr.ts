/**
 * Address math for the stack: parsing addresses and CIDRs (with messages that say what is wrong
 * and what it should be), containment, overlap, network and broadcast addresses. Built on
 * `ip-num`; no resource imports. Types are family-neutral: an `Address` or `Cidr` is IPv4 or
 * IPv6. A parser takes the families its field accepts: `SUPPORTED_FAMILIES` (IPv4) by default —
 * SSH targets, shims, slices — and `POOL_FAMILIES` (IPv4 and IPv6) for IPAM pools and the
 * addresses inside them; a value of another family is recognized and reported as "not supported
 * yet" rather than as garbage.
 */
import { collapseIPv6Number, IPv4, IPv4CidrRange, IPv4Prefix, IPv6, IPv6CidrRange, IPv6Prefix, Validator } from "ip-num";
import { isIpv4Literal, isIpv6Literal } from "./patterns";

/** An IP address family. */
export type IpFamily = "ipv4" | "ipv6";

/** The families a field accepts by default (SSH targets, shims, slices); the others are recognized and refused as not supported yet. */
export const SUPPORTED_FAMILIES: readonly IpFamily[] = ["ipv4"];

/** The families of an IPAM pool and of the addresses inside one (gateways, aux addresses, containers): IPv4 and IPv6 (dual stack). */
export const POOL_FAMILIES: readonly IpFamily[] = ["ipv4", "ipv6"];

const FAMILY_LABEL: Record<IpFamily, string> = { ipv4: "IPv4", ipv6: "IPv6" };
const FAMILY_BITS: Record<IpFamily, number> = { ipv4: 32, ipv6: 128 };

/** A parse result: the value, or a problem (the rule broken, phrased to follow `<path> <value>`) and, when the fix is certain, the corrected value. */
export type Parsed<T> =
    | { readonly ok: true; readonly value: T }
    | { readonly ok: false; readonly problem: string; readonly corrected?: T };

/** One IP address of either family. */
export class Address {
    private constructor(
        readonly family: IpFamily,
        readonly ip: IPv4 | IPv6,
    ) {}

    /** Builds an address from a family and its integer value. */
    static fromValue(family: IpFamily, value: bigint): Address {
        return new Address(family, family === "ipv4" ? IPv4.fromNumber(value) : new IPv6(value));
    }

    /** Builds an address from a literal of the given family that is already known to be valid. */
    static fromValidLiteral(family: IpFamily, s: string): Address {
        return new Address(family, family === "ipv4" ? IPv4.fromString(s) : IPv6.fromString(s));
    }

    /** The address as an unsigned integer. */
    get value(): bigint {
        return this.ip.getValue();
    }

    /** Width of the family in bits: 32 or 128. */
    get bits(): number {
        return FAMILY_BITS[this.family];
    }

    /** Same family and same value. */
    equals(other: Address): boolean {
        return this.family === other.family && this.value === other.value;
    }

    /** The four bytes of an IPv4 address, or the sixteen of an IPv6 address, most significant first. */
    bytes(): number[] {
        const n = this.bits / 8;
        const out: number[] = [];
        for (let i = n - 1; i >= 0; i--) out.push(Number((this.value >> BigInt(i * 8)) & 0xffn));
        return out;
    }

    /** Canonical text: dotted quad for IPv4, RFC 5952 for IPv6. */
    toString(): string {
        // ip-num prints IPv6 expanded in lower case; its collapse then gives RFC 5952's form.
        return this.family === "ipv4" ? this.ip.toString() : collapseIPv6Number(this.ip.toString());
    }
}

/** A CIDR block with no host bits, of either family. */
export class Cidr {
    private constructor(
        readonly family: IpFamily,
        readonly range: IPv4CidrRange | IPv6CidrRange,
        /** The prefix length. */
        readonly prefix: number,
    ) {}

    /** The block of `prefix` bits containing `address` (host bits are cleared). */
    static containing(address: Address, prefix: number): Cidr {
        const range =
            address.family === "ipv4"
                ? new IPv4CidrRange(address.ip as IPv4, IPv4Prefix.fromNumber(BigInt(prefix)))
                : new IPv6CidrRange(address.ip as IPv6, IPv6Prefix.fromNumber(BigInt(prefix)));
        const first = range.getFirst().getValue();
        const cleared =
            address.family === "ipv4"
                ? new IPv4CidrRange(IPv4.fromNumber(first), IPv4Prefix.fromNumber(BigInt(prefix)))
                : new IPv6CidrRange(new IPv6(first), IPv6Prefix.fromNumber(BigInt(prefix)));
        return new Cidr(address.family, cleared, prefix);
    }

    /** Width of the family in bits: 32 or 128. */
    get bits(): number {
        return FAMILY_BITS[this.family];
    }

    /** Number of addresses in the block. */
    get size(): bigint {
        return 1n << BigInt(this.bits - this.prefix);
    }

    /** first() and last(), computed once: the block is immutable and validation asks for them per address it checks. */
    #first: Address | undefined;
    #last: Address | undefined;

    /** The first address of the block (the network address). */
    first(): Address {
        this.#first ??= Address.fromValue(this.family, this.range.getFirst().getValue());
        return this.#first;
    }

    /** The last address of the block. */
    last(): Address {
        this.#last ??= Address.fromValue(this.family, this.range.getLast().getValue());
        return this.#last;
    }

    /** True when `x` (an address or a block) lies entirely inside this block; false across families. */
    contains(x: Address | Cidr): boolean {
        if (x.family !== this.family) return false;
        if (this.range instanceof IPv4CidrRange) return this.range.contains(x instanceof Address ? x.ip : (x.range as IPv4CidrRange));
        return this.range.contains(x instanceof Address ? x.ip : (x.range as IPv6CidrRange));
    }

    /** True when the two blocks share at least one address; false across families. */
    overlaps(other: Cidr): boolean {
        if (other.family !== this.family) return false;
        if (this.range instanceof IPv4CidrRange) return this.range.isOverlapping(other.range as IPv4CidrRange);
        return this.range.isOverlapping(other.range as IPv6CidrRange);
    }

    /** Canonical `<network>/<prefix>`. */
    toString(): string {
        return `${this.first().toString()}/${this.prefix}`;
    }
}

/** The family a literal looks like (address or CIDR, prefix ignored), or undefined when it is neither. */
export function detectFamily(s: string): IpFamily | undefined {
    const slash = s.indexOf("/");
    const addr = slash < 0 ? s : s.slice(0, slash);
    if (isIpv4Literal(addr)) return "ipv4";
    if (isIpv6Literal(addr) && Validator.isValidIPv6String(addr)[0]) return "ipv6";
    return undefined;
}

/** `IPv4` or `IPv6`, as messages name a family. */
export function familyLabel(f: IpFamily): string {
    return FAMILY_LABEL[f];
}

function familiesLabel(families: readonly IpFamily[]): string {
    return families.map((f) => FAMILY_LABEL[f]).join(" or ");
}

/** Parses a bare address (no prefix length). */
export function parseAddress(s: string, families: readonly IpFamily[] = SUPPORTED_FAMILIES): Parsed<Address> {
    const slash = s.indexOf("/");
    if (slash >= 0) {
        const bare = s.slice(0, slash);
        const fam = detectFamily(bare);
        if (fam !== undefined && families.includes(fam)) {
            const value = Address.fromValidLiteral(fam, bare);
            return { ok: false, problem: `must be an address without a prefix length; did you mean ${value.toString()}?`, corrected: value };
        }
    }
    const family = slash >= 0 ? undefined : detectFamily(s);
    if (family === undefined) return { ok: false, problem: `is not an ${familiesLabel(families)} address` };
    if (!families.includes(family)) return { ok: false, problem: `is an ${FAMILY_LABEL[family]} address; ${FAMILY_LABEL[family]} is not supported yet` };
    return { ok: true, value: Address.fromValidLiteral(family, s) };
}

/**
 * Parses `<address>/<prefix>`. A block with host bits set is refused with the block it should be
 * (`has host bits set; did you mean 198.51.100.0/24?`) and that block as `corrected`.
 */
export function parseCidr(s: string, families: readonly IpFamily[] = SUPPORTED_FAMILIES): Parsed<Cidr> {
    const example = families.includes("ipv4") ? "198.51.100.0/24" : "2001:db8::/64";
    const slash = s.indexOf("/");
    if (slash < 0) {
        const fam = detectFamily(s);
        if (fam !== undefined && families.includes(fam)) return { ok: false, problem: `has no prefix length; write it as <address>/<prefix length>, like ${example}` };
        if (fam !== undefined) return { ok: false, problem: `is an ${FAMILY_LABEL[fam]} address; ${FAMILY_LABEL[fam]} is not supported yet` };
        return { ok: false, problem: `is not an ${familiesLabel(families)} CIDR like ${example}` };
    }
    const family = detectFamily(s);
    const prefixText = s.slice(slash + 1);
    if (family === undefined || !/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) {
        return { ok: false, problem: `is not an ${familiesLabel(families)} CIDR like ${example}` };
    }
    if (!families.includes(family)) return { ok: false, problem: `is an ${FAMILY_LABEL[family]} subnet; ${FAMILY_LABEL[family]} is not supported yet` };
    const prefix = Number(prefixText);
    const bits = FAMILY_BITS[family];
    if (prefix > bits) return { ok: false, problem: `has a prefix length outside 0-${bits}` };
    const address = Address.fromValidLiteral(family, s.slice(0, slash));
    const cidr = Cidr.containing(address, prefix);
    if (!cidr.first().equals(address)) {
        return { ok: false, problem: `has host bits set; did you mean ${cidr.toString()}?`, corrected: cidr };
    }
    return { ok: true, value: cidr };
}

/** True when `inner` (an address or a block) lies inside `outer`. */
export function contains(outer: Cidr, inner: Address | Cidr): boolean {
    return outer.contains(inner);
}

/** True when the two blocks share an address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
    return a.overlaps(b);
}

/** The network address of a block: its first address. */
export function networkAddress(c: Cidr): Address {
    return c.first();
}

/**
 * The broadcast address of a block: its last address, for IPv4 blocks of prefix 30 or shorter;
 * undefined for /31 and /32 (RFC 3021: no broadcast) and for IPv6 (no broadcast).
 */
export function broadcastAddress(c: Cidr): Address | undefined {
    return c.family === "ipv4" && c.prefix <= 30 ? c.last() : undefined;
}

/** The address at `offset` from the start of the block (0 is the network address); undefined when outside. */
export function nthAddress(c: Cidr, offset: bigint): Address | undefined {
    if (offset < 0n || offset >= c.size) return undefined;
    return Address.fromValue(c.family, c.first().value + offset);
}

/** Slot `index` (from 0) of `range` divided into blocks of prefix `prefix` (longer than the range's); undefined when outside. */
export function sliceAt(range: Cidr, prefix: number, index: bigint): Cidr | undefined {
    if (prefix < range.prefix || prefix > range.bits || index < 0n) return undefined;
    const step = 1n << BigInt(range.bits - prefix);
    if (index >= range.size / step) return undefined;
    return Cidr.containing(Address.fromValue(range.family, range.first().value + index * step), prefix);
}

/**
 * An IPv4 block set aside for something other than a LAN's hosts (RFC 6890): how a message names
 * it, why no LAN may hold it, and whether an address in it can still be a host's (an SSH target).
 */
export interface NonLanBlock {
    readonly block: Cidr;
    /** `link-local (169.254.0.0/16)`. */
    readonly name: string;
    /** Phrased to follow the name: `is not routable on a LAN`. */
    readonly why: string;
    /** True when it may be a host's SSH target (link-local: a host has one, a LAN does not route it; loopback: the host itself). */
    readonly hostAddress: boolean;
}

function nonLan(cidr: string, name: string, why: string, hostAddress = false): NonLanBlock {
    const r = parseCidr(cidr);
    if (!r.ok) throw new Error(`internal: ${cidr} ${r.problem}`);
    return { block: r.value, name, why, hostAddress };
}

/** The IPv4 blocks no LAN subnet may touch, lowest first. */
export const NON_LAN_IPV4: readonly NonLanBlock[] = [
    nonLan("0.0.0.0/8", '"this network" (0.0.0.0/8)', "is never a host's address"),
    // A loopback SSH target is a host's own: pulumi run on the Docker host itself, or a VM's
    // forwarded port (127.0.0.1:2222); its parent is still the NIC on the LAN.
    nonLan("127.0.0.0/8", "loopback (127.0.0.0/8)", "never leaves a host", true),
    nonLan("169.254.0.0/16", "link-local (169.254.0.0/16)", "is not routable on a LAN", true),
    nonLan("224.0.0.0/4", "multicast (224.0.0.0/4)", "addresses groups, not hosts"),
    nonLan("255.255.255.255/32", "the limited broadcast (255.255.255.255)", "reaches every host on a link, never one"),
];

function nonLan6(cidr: string, name: string, why: string): NonLanBlock {
    const r = parseCidr(cidr, ["ipv6"]);
    if (!r.ok) throw new Error(`internal: ${cidr} ${r.problem}`);
    return { block: r.value, name, why, hostAddress: false };
}

/** The IPv6 blocks no LAN subnet may touch (RFC 4291, RFC 6890), lowest first. */
export const NON_LAN_IPV6: readonly NonLanBlock[] = [
    nonLan6("::/128", "the unspecified address (::)", "is never a host's address"),
    nonLan6("::1/128", "loopback (::1)", "never leaves a host"),
    nonLan6("::ffff:0:0/96", "IPv4-mapped addresses (::ffff:0:0/96)", "stand for IPv4 hosts, not IPv6 ones"),
    nonLan6("fe80::/10", "link-local (fe80::/10)", "is every link's own, which the kernel gives each interface and no LAN routes"),
    nonLan6("ff00::/8", "multicast (ff00::/8)", "addresses groups, not hosts"),
];

/** The first NON_LAN_IPV4 or NON_LAN_IPV6 block (of `c`'s family) that `c` overlaps (lies in or covers), or undefined. */
export function nonLanBlockOverlapping(c: Cidr): NonLanBlock | undefined {
    return (c.family === "ipv4" ? NON_LAN_IPV4 : NON_LAN_IPV6).find((b) => b.block.overlaps(c));
}

/** The NON_LAN_IPV4 block holding `a` when no host may have an address there, or undefined. */
export function nonHostBlockOf(a: Address): NonLanBlock | undefined {
    return NON_LAN_IPV4.find((b) => !b.hostAddress && b.block.contains(a));
}
