/**
 * The other stacks of a fleet (`macvlan:fleet`), read through StackReferences before anything of
 * this stack is registered: their `hosts` and `addressPlan` outputs, for the fleet rules
 * (config/fleet.ts). A StackReference is a read of another stack's outputs; it touches no host.
 */
import * as pulumi from "@pulumi/pulumi";
import { checkFleetKey, readFleetPeer, type FleetPeer } from "../config/fleet";
import { Problems } from "../config/problems";

/** The name of the StackReference that reads stack `stack` (stable: it is part of the reference's URN). */
export function fleetReferenceName(stack: string): string {
    return `fleet-${stack}`;
}

/**
 * Reads `macvlan:fleet` (given as `raw`) and every stack it names. Problems (a malformed key, a
 * stack without the outputs) are added to `problems`; the stacks read are returned.
 */
export async function readFleetPeers(raw: unknown, problems: string[]): Promise<FleetPeer[]> {
    const p = new Problems();
    const named = checkFleetKey(p, raw, { project: pulumi.getProject(), stack: pulumi.getStack() });
    const read = await Promise.all(
        named.map(async ({ stack, path }) => {
            const ref = new pulumi.StackReference(fleetReferenceName(stack), { name: stack });
            const [hosts, addressPlan] = await Promise.all([ref.getOutputDetails("hosts"), ref.getOutputDetails("addressPlan")]);
            const value = (d: pulumi.StackReferenceOutputDetails): unknown => (d.value ?? d.secretValue) as unknown;
            return { stack, path, hosts: value(hosts), addressPlan: value(addressPlan) };
        }),
    );
    const peers = read.flatMap((r) => {
        const peer = readFleetPeer(p, r.path, r.stack, r);
        return peer === undefined ? [] : [peer];
    });
    problems.push(...p.list);
    return peers;
}
