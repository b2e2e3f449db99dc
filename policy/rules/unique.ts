/**
 * `macvlan-unique-on-segment` (stack): no IPv4 or IPv6 address and no MAC is pinned by two
 * containers on one LAN segment (`stack.ts` says what a segment is). Two containers with one
 * address or one MAC on a LAN break each other's traffic, even on different hosts, and neither
 * engine can see the other's. Each holder gets a violation naming the others.
 */
import { parseAddress, POOL_FAMILIES } from "../../components/net/addr";
import { parseMac } from "../../components/net/mac";
import { containerLabel, endpointLabel } from "./containers";
import type { MacvlanEndpoint, MacvlanStack } from "./stack";
import type { Violation } from "./types";

/** `macvlan-unique-on-segment` over a resolved stack. */
export function uniqueViolations(stack: MacvlanStack): Violation[] {
    const holders = new Map<string, { field: string; value: string; e: MacvlanEndpoint }[]>();
    const hold = (key: string, field: string, value: string, e: MacvlanEndpoint) => {
        const list = holders.get(key);
        if (list === undefined) holders.set(key, [{ field, value, e }]);
        else list.push({ field, value, e });
    };
    for (const e of stack.endpoints) {
        const segment = e.network.segment;
        for (const field of ["ipv4Address", "ipv6Address"] as const) {
            const text = e.endpoint[field];
            const a = text === undefined ? undefined : parseAddress(text, POOL_FAMILIES);
            if (text !== undefined && a?.ok === true) hold(`${segment} ip ${a.value.toString()}`, field, text, e);
        }
        const mac = e.endpoint.macAddress === undefined ? undefined : parseMac(e.endpoint.macAddress);
        if (e.endpoint.macAddress !== undefined && mac?.ok === true) hold(`${segment} mac ${mac.value}`, "macAddress", e.endpoint.macAddress, e);
    }
    const out: Violation[] = [];
    for (const list of holders.values()) {
        if (list.length < 2) continue;
        for (const h of list) {
            const others = list.filter((o) => o !== h).map((o) => `${containerLabel(o.e)} ${endpointLabel(o.e)}`);
            const what = h.field === "macAddress" ? "MAC" : "address";
            out.push({
                message: `${containerLabel(h.e)}: ${endpointLabel(h.e)}.${h.field} ${h.value} is also pinned by ${others.join(", ")} on the same LAN segment: every ${what} must be unique on a segment`,
                urn: h.e.container.urn,
            });
        }
    }
    return out;
}
