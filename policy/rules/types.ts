/**
 * The resource types the pack checks (pulumi-docker 5.x and pulumi-command 1.x tokens) and the
 * shape of one violation. Types and constants only: the pack reads raw property bags (what the
 * engine sends, wrapped in the policy runtime's unknown-checking proxy), never the providers' classes,
 * so it loads no resource code and needs neither provider package.
 */

/** `docker.Network`. */
export const DOCKER_NETWORK = "docker:index/network:Network";
/** `docker.Container`. */
export const DOCKER_CONTAINER = "docker:index/container:Container";
/** `command.remote.Command`. */
export const REMOTE_COMMAND = "command:remote:Command";
/** Every pulumi-command resource that connects over SSH with a `connection` (Command, CopyToRemote, the deprecated CopyFile). */
export const REMOTE_SSH_TYPES: readonly string[] = [REMOTE_COMMAND, "command:remote:CopyToRemote", "command:remote:CopyFile"];
/** The type tokens of this project's components start with this (`macvlan:index:MacvlanHost`, …). */
export const MACVLAN_COMPONENT_PREFIX = "macvlan:";
/** The `driver` of a macvlan Docker network. */
export const MACVLAN_DRIVER = "macvlan";
/** The `options.macvlan_mode` that hands the parent link to a single endpoint. */
export const PASSTHRU_MODE = "passthru";

/** One violation: the message and, for a stack policy, the resource it is about. */
export interface Violation {
    readonly message: string;
    readonly urn?: string;
}

/** The provider of a resource as the policy runtime describes it (`PolicyProviderResource`). */
export interface ProviderView {
    readonly urn: string;
    readonly props: Record<string, unknown>;
}

/** A resource of the stack as the stack policies read it (the fields of `PolicyResource` they use). */
export interface StackResource {
    readonly type: string;
    readonly name: string;
    readonly urn: string;
    readonly props: Record<string, unknown>;
    readonly provider?: ProviderView;
}
