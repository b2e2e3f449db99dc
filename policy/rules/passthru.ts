/**
 * `macvlan-passthru-one-container` (stack): a macvlan network in passthru mode
 * (`options.macvlan_mode: passthru`) holds at most one container: passthru hands the parent link
 * itself to a single endpoint, and the engine refuses a second one when it starts.
 */
import { PASSTHRU_MODE, type Violation } from "./types";
import type { MacvlanStack } from "./stack";

/** `macvlan-passthru-one-container` over a resolved stack: one violation per passthru network with more than one container. */
export function passthruViolations(stack: MacvlanStack): Violation[] {
    const out: Violation[] = [];
    for (const n of stack.networks) {
        if (n.view.mode !== PASSTHRU_MODE) continue;
        const on = [...new Set(stack.endpoints.filter((e) => e.network === n).map((e) => e.container))];
        if (on.length < 2) continue;
        out.push({
            message: `macvlan network ${n.view.dockerName} (${n.resource.name}) is in passthru mode but holds ${on.length} containers (${on.map((c) => c.name).join(", ")}): a passthru network gives its parent link to one container`,
            urn: n.resource.urn,
        });
    }
    return out;
}
