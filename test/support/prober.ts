/** A fake drift prober for a stack config (what each host would answer); pure: loads no mocks. */
import { parseStackConfig } from "../../components/config/parse";
import { featureKey } from "../../components/host/scripts";
import { planHostFeatures } from "../../components/plan/host";
import { hostSpec } from "../../components/plan/stack";
import type { HostProber, ProbeTarget } from "../../components/stack/probe";
import { declaresSecretEnv } from "./stacks";
import { fakeHostKey } from "./keys";

/** Drift token a fake host reports for a feature; default `ok`. */
export type TokenFn = (host: string, key: string) => string;

/**
 * A fake prober for a config: answers each host with one `key=token` line per feature that
 * MacvlanHost plans there (what the host would print for `renderProbe`'s script), then
 * `facts[host]` when given (the host's `@machine-id=`, `@addr=`, `@parent=`, `@docker=` lines, as they are), and records
 * the calls: each target, the script sent on stdin and the command. The host key it reports is
 * `serverKeys[host]` when given (a server with another key), else the target's own key (a pinned
 * or known key, matched), else, for a host to learn, `fakeHostKey(host)`.
 */
export function fakeProber(
    config: Record<string, unknown>,
    token: TokenFn = () => "ok",
    calls: Array<{ target: ProbeTarget; script: string; command?: string }> = [],
    serverKeys: Readonly<Record<string, string>> = {},
    facts: Readonly<Record<string, readonly string[]>> = {},
): HostProber {
    return (target, run) => {
        calls.push({ target, script: run.stdin, command: run.command });
        // macvlan:networks is secret when its containers list secretEnv (as runProgram sets it by default).
        const model = parseStackConfig(
            { hosts: config["macvlan:hosts"], networks: config["macvlan:networks"], networksSecret: declaresSecretEnv(config) },
            { trustOnFirstUse: true },
            // As the program parses with the probe on: the Docker version rules wait for the probe.
            { deferred: true },
        );
        const host = model.hosts.find((h) => h.name === target.host);
        if (host === undefined) throw new Error(`fake prober: unknown host ${target.host}`);
        const keys = planHostFeatures(host.name, hostSpec(model, host)).map((p) => featureKey(p.feature));
        const hostKey = serverKeys[host.name] ?? target.hostKey ?? fakeHostKey(host.name);
        const lines = [...keys.map((k) => `${k}=${token(host.name, k)}`), ...(facts[host.name] ?? [])];
        return Promise.resolve({ stdout: lines.map((l) => `${l}\n`).join(""), hostKey });
    };
}
