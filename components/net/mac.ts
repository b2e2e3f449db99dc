/**
 * MAC addresses: parsing and normalizing (lower case), the unicast check, and the stable default
 * MAC of a container derived from its IPv4 address with Docker's legacy scheme
 * (`02:42:` + the four address bytes: 192.168.128.233 -> 02:42:c0:a8:80:e9). Pure.
 */
import type { Address, Parsed } from "./addr";
import { isMacSyntax } from "./patterns";

/** Lower-cases a MAC that has valid syntax (see `isMacSyntax`). */
export function normalizeMac(s: string): string {
    return s.toLowerCase();
}

function firstByte(mac: string): number {
    return parseInt(mac.slice(0, 2), 16);
}

/** True when the multicast (I/G) bit, the lowest bit of the first byte, is set; broadcast included. */
export function isMulticastMac(mac: string): boolean {
    return (firstByte(mac) & 0x01) === 0x01;
}

/** True when the locally administered (U/L) bit, the second-lowest bit of the first byte, is set. */
export function isLocallyAdministeredMac(mac: string): boolean {
    return (firstByte(mac) & 0x02) === 0x02;
}

/** True for a valid, unicast, non-zero MAC: what a container interface may carry. */
export function isUnicastMac(mac: string): boolean {
    return isMacSyntax(mac) && !isMulticastMac(mac) && normalizeMac(mac) !== "00:00:00:00:00:00";
}

/** Parses a MAC for a container: valid syntax, unicast, not all zeros; the value is lower case. */
export function parseMac(s: string): Parsed<string> {
    if (!isMacSyntax(s)) return { ok: false, problem: "is not a MAC address xx:xx:xx:xx:xx:xx (hex)" };
    const mac = normalizeMac(s);
    if (isMulticastMac(mac)) return { ok: false, problem: "is a multicast MAC (lowest bit of the first byte set); use a unicast MAC such as 02:..." };
    if (mac === "00:00:00:00:00:00") return { ok: false, problem: "is the all-zero MAC" };
    return { ok: true, value: mac };
}

/** Docker's legacy MAC for an IPv4 address: `02:42:` + the four bytes in hex (unicast, locally administered). */
export function macFromIpv4(address: Address): string {
    if (address.family !== "ipv4") throw new Error(`macFromIpv4 needs an IPv4 address, got ${address.toString()}`);
    return ["02", "42", ...address.bytes().map((b) => b.toString(16).padStart(2, "0"))].join(":");
}

/** The default MAC of a container at `address`; undefined for families without a derivation scheme (IPv6). */
export function defaultMac(address: Address): string | undefined {
    return address.family === "ipv4" ? macFromIpv4(address) : undefined;
}
