/**
 * What the end-to-end lab tests read of a host and of a harness pass: a host's whole state as
 * destroy must put it back (`snapshot`, `assertHostsAsBefore`), and the resources of a pass by kind
 * (`stepsOf`); and what they share around it: a lab host as a stack's host entry (`labHostEntry`),
 * a killed earlier run's Docker objects removed (`removeLeftovers`), the cleanup after (`endLabTest`). Shared by
 * test/system/e2e.test.ts, dualStack.e2e.test.ts and multiNetwork.e2e.test.ts.
 */
import * as assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { labExec, releaseLab, type Lab } from "../../lab/lab";
import type { Engine, PassResult, Step } from "./engine/engine";
import { SCRIPT_DIRS } from "./hostState";

/** Everything destroy must put back on a host (links, promisc, addresses, sysctls, routes, Docker, files). */
export interface HostSnapshot {
    links: unknown;
    addresses: unknown;
    routes: string;
    sysctls: string;
    files: string;
    docker: string;
}

/** The host's state now (one SSH session): links and addresses (lifetimes left out), routes, net sysctls, the product's files, Docker's objects. */
export async function snapshot(host: string): Promise<HostSnapshot> {
    const script = [
        "ip -d -j link show",
        "echo @@",
        "ip -j addr show",
        "echo @@",
        "ip -4 route show table all; ip -6 route show table all",
        "echo @@",
        "sysctl -a 2>/dev/null | grep -E '^net\\.ipv[46]\\.(ip_forward|conf\\.)' | grep -v stable_secret | sort",
        "echo @@",
        `for d in ${SCRIPT_DIRS.join(" ")}; do [ -e "$d" ] || { echo "$d absent"; continue; }; find "$d" -printf '%p %y %m %l\\n' | sort; find "$d" -type f -exec sha256sum {} + | sort; done`,
        "echo @@",
        "docker network ls --format '{{.Name}} {{.Driver}}' | sort; docker ps -a --format '{{.Names}} {{.Image}}' | sort; docker images --format '{{.Repository}}:{{.Tag}} {{.ID}}' | sort",
    ].join("\n");
    const r = await labExec(host, script, { check: true, timeoutMs: 120_000 });
    const [links, addrs, routes, sysctls, files, dockerState] = r.stdout.split("@@\n");
    // Lifetimes count down; everything else of a link or address is state.
    const strip = (v: unknown): unknown =>
        JSON.parse(JSON.stringify(v), (k: string, x: unknown) => (k === "valid_life_time" || k === "preferred_life_time" ? undefined : x));
    return { links: strip(JSON.parse(links)), addresses: strip(JSON.parse(addrs)), routes, sysctls, files, docker: dockerState };
}

/** The names of a pass's resources of one kind (and type), sorted. */
export function stepsOf(r: PassResult, kind: Step["kind"], type?: string): string[] {
    return r.steps
        .filter((s) => s.kind === kind && (type === undefined || s.type === type))
        .map((s) => s.name)
        .sort();
}

/** A lab host as a stack's `macvlan:hosts` entry (address, port, user, pinned key, parent, Docker version), with `extra` keys. */
export function labHostEntry(lab: Lab, name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    const h = lab.hosts.find((y) => y.name === name);
    if (h === undefined) throw new Error(`the lab has no host ${name}`);
    return { name, address: h.address, port: h.port, user: h.user, hostKey: h.hostKey, parent: h.parent, dockerVersion: h.dockerVersion, ...extra };
}

/**
 * Removes a test file's own Docker objects left on `host` by a killed earlier run: containers named
 * `<prefix>*` and networks named `<prefix>_*`, never anything of the lab's.
 */
export async function removeLeftovers(host: string, prefix: string, log: (line: string) => void): Promise<void> {
    const found = await labExec(host, `docker ps -aq --filter name=^/${prefix}; docker network ls -q --filter name=^${prefix}_; true`, { check: true, timeoutMs: 120_000 });
    if (found.stdout.trim() === "") return;
    log(`${host}: leftovers of an earlier run of this file, removing them`);
    await labExec(host, `docker rm -f $(docker ps -aq --filter name=^/${prefix}) 2>/dev/null; docker network rm $(docker network ls -q --filter name=^${prefix}_) 2>/dev/null; true`, { timeoutMs: 120_000 });
}

/** Asserts that each of `hosts` is now exactly as its snapshot in `was` (each part compared, naming the host and part), `when` saying since when. */
export async function assertHostsAsBefore(hosts: readonly string[], was: ReadonlyMap<string, HostSnapshot>, when: string): Promise<void> {
    for (const h of hosts) {
        const now = await snapshot(h);
        const before = was.get(h);
        if (before === undefined) throw new Error(`no snapshot of ${h}`);
        for (const k of Object.keys(before) as (keyof HostSnapshot)[]) {
            if (!isDeepStrictEqual(now[k], before[k])) assert.deepEqual(now[k], before[k], `${h}: ${k} differs from ${when}`);
        }
    }
}

/** A lab test's `after`: destroys what the harness state still holds (a failed destroy is logged), then closes the engine and releases the lab. */
export async function endLabTest(engine: Engine | undefined, log: (line: string) => void): Promise<void> {
    try {
        if (engine !== undefined && engine.state.size > 0) {
            log("cleaning up: destroy what is left in the harness state");
            await engine.destroy().catch((e: unknown) => log(`destroy failed: ${e instanceof Error ? e.message : String(e)}`));
        }
    } finally {
        engine?.close();
        releaseLab();
    }
}
