/**
 * The other stacks of a fleet as a group stack reads them (`macvlan:fleet`): what each deployed
 * group stack publishes, computed from its config with the program's own pure code (the `hosts`
 * and `addressPlan` outputs `registerStack` exports), through JSON as the engine keeps stack
 * outputs. Pure: loads no mocks.
 */
import { parseStackConfig } from "../../components/config/parse";
import { addressPlan } from "../../components/plan/addressPlan";

/** The outputs of a stack that the fleet rules read. */
export type FleetOutputs = { readonly hosts: unknown; readonly addressPlan: unknown };

/** What a deployed stack with this config (`macvlan:*` keys) publishes for the fleet rules. */
export function publishedOutputs(config: Readonly<Record<string, unknown>>): FleetOutputs {
    const m = parseStackConfig({ hosts: config["macvlan:hosts"], networks: config["macvlan:networks"] });
    const hosts = Object.fromEntries(m.hosts.map((h) => [h.name, { address: h.address, port: h.port, user: h.user, parent: h.parent }]));
    return JSON.parse(JSON.stringify({ hosts, addressPlan: addressPlan(m) })) as FleetOutputs;
}
