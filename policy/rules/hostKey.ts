/**
 * `macvlan-command-host-key` (per resource): a command.remote.Command (or CopyToRemote, CopyFile)
 * accepts only a pinned SSH host key (`connection.hostKey`, `<type> <base64>`). Without one pulumi-command accepts any key the host
 * (or a man in the middle) shows, and runs its script as root there. The config `scope` says which
 * commands: `macvlan` (default) those under a `macvlan:*` component (MacvlanHost's settings,
 * MacvlanSwarmNetwork's networks), read from the type chain of the command's URN; `all` every remote
 * command of the stack.
 */
import { sshHostKeyProblem } from "../../components/net/patterns";
import { record, str, typeChain } from "./read";
import { MACVLAN_COMPONENT_PREFIX, REMOTE_SSH_TYPES, type Violation } from "./types";

/** Which remote commands the policy checks (its config `scope`). */
export type HostKeyScope = "macvlan" | "all";

/** Every problem with one resource, when it is a remote command (or copy) in scope; none otherwise. */
export function hostKeyViolations(type: string, urn: string, props: Record<string, unknown>, scope: HostKeyScope = "macvlan"): Violation[] {
    if (!REMOTE_SSH_TYPES.includes(type)) return [];
    if (scope === "macvlan" && !typeChain(urn).slice(0, -1).some((t) => t.startsWith(MACVLAN_COMPONENT_PREFIX))) return [];
    const connection = record(props["connection"]);
    const key = connection === undefined ? undefined : str(connection["hostKey"]);
    if (key === undefined || key === "") {
        return [{ message: "connection.hostKey is not set: pin the host's SSH key (ssh-keyscan -t ed25519 <address>), else it trusts any key the host shows" }];
    }
    const problem = sshHostKeyProblem(key);
    return problem === undefined ? [] : [{ message: `connection.hostKey ${key} ${problem}` }];
}
