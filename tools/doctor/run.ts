/**
 * The doctor's run: validate the stack config as the program does, plan every host, then ask each
 * host (in parallel, over SSH with its pinned key, or the key learned into the stack's known_hosts
 * file) two read-only questions: the drift probe the program runs (features, parent, Docker), and
 * `docker inspect` of the stack's networks and containers there. Nothing is changed on any host,
 * and no key is learned: a host without one is reported, not contacted.
 */
import { learnsHostKeys } from "../../components/config/hosts";
import { parseStackConfig } from "../../components/config/parse";
import { configWarnings } from "../../components/config/warnings";
import { featureKey } from "../../components/host/registry";
import { PROBE_COMMAND, parseProbeReport } from "../../components/host/scripts";
import { MacvlanConfigError } from "../../components/net/problems";
import { networksOn, planStack, probePlan } from "../../components/plan/stack";
import { learnedHostKeys, parseKnownHosts } from "../../components/stack/knownHosts";
import { HostKeyError, type HostProber } from "../../components/stack/probe";
import { validationInput, type StackFile } from "../compose/stackFile";
import { parseInspect, renderInspect } from "./inspect";
import { buildReport, type DoctorReport, type HostOutcome } from "./report";

/** How the doctor reaches the hosts. */
export interface DoctorOptions {
    /** Runs a script on a host (the drift probe's `sshProber()` in use; a fake in tests). */
    readonly prober: HostProber;
    /** The SSH private key's contents. */
    readonly privateKey: string;
    /** The stack's known_hosts text (keys learned on first use), if any. */
    readonly knownHosts?: string;
    /** Where that text came from, for its problems. */
    readonly knownHostsLocation?: string;
}

function message(e: unknown): string {
    return e instanceof Error ? e.message : String(e);
}

/**
 * The doctor's report of a stack file's config (tools/compose/stackFile.ts reads it). Throws
 * MacvlanConfigError when the config is not valid (the same problems `pulumi up` reports).
 */
export async function runDoctor(stack: StackFile, opts: DoctorOptions): Promise<DoctorReport> {
    // As the program validates before its probe (the doctor's probe is the program's), env values
    // it cannot read (`secure:` ciphertext) stood in for.
    const input = validationInput({ ...stack, probe: true });
    const policy = input.policy;
    const model = parseStackConfig(input.raw, policy, { deferred: true });
    let known = new Map<string, string>();
    if (learnsHostKeys(policy) && opts.knownHosts !== undefined) {
        const parsed = parseKnownHosts(opts.knownHosts, opts.knownHostsLocation ?? "known_hosts");
        if (parsed.problems.length > 0) throw new MacvlanConfigError(parsed.problems);
        known = learnedHostKeys(model.hosts, parsed.keys);
    }
    const planned = planStack(model, { hostKeys: known });
    if (planned.hosts === undefined) throw new MacvlanConfigError(planned.problems);
    const hosts = planned.hosts;
    const plans = probePlan(hosts);
    const outcomes = new Map<string, HostOutcome>();
    await Promise.all(
        plans.map(async ({ target, run }) => {
            if (target.hostKey === undefined) {
                outcomes.set(target.host, { kind: "unpinned" });
                return;
            }
            const hostKey = known.has(target.host) ? "learned" : "pinned";
            let probe;
            try {
                probe = parseProbeReport((await opts.prober({ ...target, privateKey: opts.privateKey }, run)).stdout);
            } catch (e) {
                outcomes.set(target.host, { kind: "failed", error: message(e), hostKeyRefused: e instanceof HostKeyError });
                return;
            }
            const nets = networksOn(model, target.host).filter((n) => n.swarm !== true);
            const planHost = hosts.find((x) => x.model.name === target.host);
            const request = {
                features: (planHost?.plan.features ?? []).map((f) => featureKey(f.feature)),
                networks: nets.map((n) => n.name),
                containers: nets.flatMap((n) => n.containers.filter((c) => c.host === target.host).map((c) => c.name)),
            };
            try {
                const answer = await opts.prober({ ...target, privateKey: opts.privateKey }, { command: PROBE_COMMAND, stdin: renderInspect(request) });
                outcomes.set(target.host, { kind: "answered", hostKey, probe, inspect: parseInspect(answer.stdout) });
            } catch (e) {
                outcomes.set(target.host, { kind: "answered", hostKey, probe, inspectError: message(e) });
            }
        }),
    );
    // The program's warnings, with the facts of the hosts that answered (a VM's NIC without promisc).
    const facts = new Map([...outcomes].flatMap(([host, o]) => (o.kind === "answered" ? [[host, o.probe] as const] : [])));
    return buildReport(model, hosts, outcomes, configWarnings(model, facts));
}
