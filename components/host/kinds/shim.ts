/**
 * The shim: a bridge-mode macvlan link on the parent (or on one of its VLANs) holding one /32
 * address, so the host reaches its own containers, which a macvlan parent cannot.
 */
import { KEY_SUFFIX_PATTERN, loadKindShell, type FeatureKind } from "../feature";
import { assertIfName, assertIpv4Host32, ShellValueError } from "../shell";

export interface ShimFeature {
    readonly kind: "shim";
    /** The link the shim hangs off: the parent or `<parent>.<vlan>`. */
    readonly lower: string;
    /** The shim link's own name (validated Linux ifname). */
    readonly link: string;
    /** The shim's address with a /32 prefix, e.g. `198.51.100.250/32`. */
    readonly address: string;
}

const shell = loadKindShell("shim");

export const shim: FeatureKind<ShimFeature> = {
    kind: "shim",
    validate(f) {
        assertIfName("shim.lower", f.lower);
        assertIfName("shim.link", f.link);
        assertIpv4Host32("shim.address", f.address);
        if (f.link === f.lower) throw new ShellValueError("shim.link", f.link, "must differ from shim.lower");
    },
    key: (f) => `shim-${f.link}`,
    keyPattern: `shim-${KEY_SUFFIX_PATTERN}`,
    identity: (f) => `shim lower=${f.lower} link=${f.link} address=${f.address}`,
    bootOrder: "30",
    bootWaitsForLinks: true,
    vars: (f) => [
        ["LOWER", f.lower],
        ["SHIM", f.link],
        ["ADDR", f.address],
    ],
    shell,
};

/**
 * The sysctls the shim link gets: loose reverse-path filter, ARP answered and sourced only for its
 * own address. Read from the `echo <value> > .../conf/$SHIM/<name>` lines of shim.sh's boot
 * fragment, which is where they are written (as in its pm_measure, pm_ensure, pm_restore and
 * check; a unit test checks all of them name the same ones).
 */
export const SHIM_SYSCTLS: readonly (readonly [name: string, value: number])[] = [
    ...shell.boot.matchAll(/^echo ([0-9]+) > "\/proc\/sys\/net\/ipv4\/conf\/\$SHIM\/([a-z_]+)"$/gm),
].map((m) => [m[2], Number(m[1])] as const);
