/**
 * The part of the engine the convergence benchmark needs (as test/system/macvlanHost.ssh.test.ts
 * does it): index.ts run under the test mocks with the REAL drift probe, the registered
 * `command:remote:Command`s taken from the records (create/update/delete text, stdin, connection
 * exactly as registered), and a state that runs a command's `create` when it is new, its `update`
 * when its registered text changed, nothing when it is the same, in dependency waves per host (hosts
 * in parallel), and the stored `delete` texts in reverse order. Each command is one SSH session
 * (test/support/engine/command.ts `runRemote`, as pulumi-command opens one per command).
 */
// The mocks first (importing them sets them), then the code under test.
import "../../test/support/mocks";
import { runProgram } from "../../test/support/program";
import { commandPlan, waves, type Cmd, type Plan } from "../../test/support/commandPlan";
import { runRemote } from "../../test/support/engine/command";
import { sshProber, type HostProber } from "../../components/stack/probe";

export type { Cmd, Plan } from "../../test/support/commandPlan";

/** What one program run cost: the whole run, and the span of the probes (first start to last end). */
export interface ProgramRun {
    readonly plan: Plan;
    readonly ms: number;
    readonly probeMs: number;
    readonly probes: number;
}

/** Runs index.ts under the mocks with `config` (the real probe unless `prober` is given) and returns its remote commands. */
export async function program(config: Record<string, unknown>, prober?: HostProber): Promise<ProgramRun> {
    const real = prober ?? sshProber();
    let first = Infinity;
    let last = 0;
    let probes = 0;
    const timed: HostProber = async (t, r) => {
        probes++;
        first = Math.min(first, Date.now());
        try {
            return await real(t, r);
        } finally {
            last = Math.max(last, Date.now());
        }
    };
    const t0 = Date.now();
    const { resources } = await runProgram(config, { prober: timed, secretKeys: [] });
    const ms = Date.now() - t0;
    const plan = commandPlan(resources);
    return { plan, ms, probeMs: probes === 0 ? 0 : last - first, probes };
}

function same(a: Cmd, b: Cmd): boolean {
    return a.create === b.create && a.update === b.update && a.delete === b.delete && a.stdin === b.stdin;
}

/** The state of what was applied, by command name. */
export class Stack {
    readonly state = new Map<string, Cmd>();

    /** Names of the commands of `plan` that `up` would run (new or with other registered text). */
    changed(plan: Plan): string[] {
        return [...plan.values()].filter((c) => {
            const old = this.state.get(c.name);
            return old === undefined || !same(old, c);
        }).map((c) => c.name);
    }

    /** Creates, updates or leaves each command; returns the names of those it ran. Throws on the first failure (after its wave). */
    async up(plan: Plan): Promise<string[]> {
        const ran: string[] = [];
        const hosts = [...new Set([...plan.values()].map((c) => c.host))];
        await Promise.all(
            hosts.map(async (host) => {
                for (const wave of waves([...plan.values()].filter((c) => c.host === host))) {
                    await Promise.all(
                        wave.map(async (c) => {
                            const old = this.state.get(c.name);
                            if (old !== undefined && same(old, c)) return;
                            const text = old === undefined ? c.create : c.update;
                            await runRemote(c.connection, text, `${c.name} ${old === undefined ? "create" : "update"}`, 120_000, c.stdin);
                            this.state.set(c.name, c);
                            ran.push(c.name);
                        }),
                    );
                }
            }),
        );
        return ran;
    }

    /** Runs every stored `delete` text, in reverse dependency order per host. */
    async destroy(): Promise<void> {
        const hosts = [...new Set([...this.state.values()].map((c) => c.host))];
        await Promise.all(
            hosts.map(async (host) => {
                for (const wave of waves([...this.state.values()].filter((c) => c.host === host)).reverse()) {
                    await Promise.all(
                        wave.map(async (c) => {
                            if (c.delete !== undefined) await runRemote(c.connection, c.delete, `${c.name} delete`, 120_000, c.stdin);
                            this.state.delete(c.name);
                        }),
                    );
                }
            }),
        );
    }
}
