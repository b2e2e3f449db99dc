/** Promiscuous mode on the parent NIC, so it receives the frames of its macvlan children's MACs. */
import { KEY_SUFFIX_PATTERN, loadKindShell, type FeatureKind } from "../feature";
import { assertIfName } from "../shell";

export interface PromiscFeature {
    readonly kind: "promisc";
    readonly parent: string;
}

export const promisc: FeatureKind<PromiscFeature> = {
    kind: "promisc",
    validate(f) {
        assertIfName("promisc.parent", f.parent);
    },
    key: (f) => `promisc-${f.parent}`,
    keyPattern: `promisc-${KEY_SUFFIX_PATTERN}`,
    identity: (f) => `promisc parent=${f.parent}`,
    bootOrder: "10",
    bootWaitsForLinks: true,
    vars: (f) => [["PARENT", f.parent]],
    shell: loadKindShell("promisc"),
};
