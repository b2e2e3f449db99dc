/** An 802.1Q sub-interface `<parent>.<id>` of the parent NIC, up. */
import { KEY_SUFFIX_PATTERN, loadKindShell, type FeatureKind } from "../feature";
import { vlanLink } from "../../net/names";
import { assertIfName, assertVlanId } from "../shell";

export interface VlanFeature {
    readonly kind: "vlan";
    readonly parent: string;
    readonly id: number;
}

export const vlan: FeatureKind<VlanFeature> = {
    kind: "vlan",
    validate(f) {
        assertIfName("vlan.parent", f.parent);
        assertVlanId("vlan.id", f.id);
        assertIfName("vlan link", vlanLink(f.parent, f.id));
    },
    key: (f) => `vlan-${vlanLink(f.parent, f.id)}`,
    keyPattern: `vlan-${KEY_SUFFIX_PATTERN}`,
    identity: (f) => `vlan parent=${f.parent} id=${f.id}`,
    bootOrder: "20",
    bootWaitsForLinks: true,
    vars: (f) => [
        ["PARENT", f.parent],
        ["VID", String(f.id)],
        ["VLINK", vlanLink(f.parent, f.id)],
    ],
    shell: loadKindShell("vlan"),
};
