/** `net.ipv4.ip_forward=1` on the host; its restore also puts back what writing it resets. */
import { loadKindShell, type FeatureKind } from "../feature";

export interface IpforwardFeature {
    readonly kind: "ipforward";
}

export const ipforward: FeatureKind<IpforwardFeature> = {
    kind: "ipforward",
    validate() {
        // No fields besides its kind.
    },
    key: () => "ipforward",
    keyPattern: "ipforward",
    identity: () => "ipforward",
    bootOrder: "10",
    bootWaitsForLinks: false,
    vars: () => [],
    shell: loadKindShell("ipforward"),
};
