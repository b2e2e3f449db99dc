/** A route to a container's address (or a range) over the shim link, so the host reaches it. */
import { addressSlug } from "../../net/names";
import { KEY_SUFFIX_PATTERN, loadKindShell, type FeatureKind } from "../feature";
import { assertIfName, assertIpv4Cidr } from "../shell";

export interface RouteFeature {
    readonly kind: "route";
    /** The link the route goes out of: the shim. */
    readonly link: string;
    /** Canonical IPv4 CIDR, e.g. `198.51.100.12/32`. */
    readonly cidr: string;
}

export const route: FeatureKind<RouteFeature> = {
    kind: "route",
    validate(f) {
        assertIfName("route.link", f.link);
        assertIpv4Cidr("route.cidr", f.cidr);
    },
    key: (f) => `route-${addressSlug(f.cidr)}`,
    keyPattern: `route-${KEY_SUFFIX_PATTERN}`,
    identity: (f) => `route link=${f.link} cidr=${f.cidr}`,
    bootOrder: "40",
    bootWaitsForLinks: true,
    vars: (f) => [
        ["RLINK", f.link],
        ["CIDR", f.cidr],
    ],
    shell: loadKindShell("route"),
};
