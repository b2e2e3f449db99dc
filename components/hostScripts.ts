/**
 * INTERFACE STUB (owned by the host-scripts work): the pure renderers of every shell script that
 * MacvlanHost runs on a host. The signatures below are the contract the components code against;
 * the implementation replaces the bodies.
 */

/** One thing MacvlanHost ensures on a host; each becomes one remote.Command. */
export type HostFeature =
    | { readonly kind: "promisc"; readonly parent: string }
    | { readonly kind: "ipforward" }
    | { readonly kind: "vlan"; readonly parent: string; readonly id: number }
    | {
          readonly kind: "shim";
          /** The link the shim hangs off: the parent or `<parent>.<vlan>`. */
          readonly lower: string;
          /** The shim link's own name (validated Linux ifname). */
          readonly link: string;
          /** Address with prefix length, e.g. `198.51.100.250/32`. */
          readonly address: string;
      }
    | { readonly kind: "route"; readonly link: string; readonly cidr: string };

/** What the preflight checks on a host before anything changes. */
export interface PreflightSpec {
    /** Host name, for messages. */
    readonly host: string;
    readonly parent: string;
    /** True when VLAN sub-interfaces are asked for: 802.1Q present or loadable. */
    readonly needsVlan: boolean;
    /** True when networks will use the host: `docker` present and its engine answering. */
    readonly needsDocker: boolean;
}

export interface RenderedCommand {
    /** Ensure script, run on create; carries the drift token. */
    readonly create: string;
    /** Ensure script, run on update (same effect as create). */
    readonly update: string;
    /** Undo script: restores the prior state recorded on the host by the first create. */
    readonly delete: string;
}

/** The state key of a feature on the host, e.g. `promisc-eth0`, `vlan-eth0.50`. Unique per host. */
export declare function featureKey(f: HostFeature): string;
export declare function renderPreflight(spec: PreflightSpec): string;
/** `token` is the drift token for this feature from the last probe (see renderProbe). */
export declare function renderFeature(host: string, f: HostFeature, token: string): RenderedCommand;
/** A read-only script printing one `key=token` line per feature. */
export declare function renderProbe(host: string, features: readonly HostFeature[]): string;
export declare function parseProbeOutput(stdout: string): ReadonlyMap<string, string>;
