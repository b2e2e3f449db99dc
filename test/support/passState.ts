/**
 * What the end-to-end lab tests read of a host and of a harness pass: a host's whole state as
 * destroy must put it back (`snapshot`), and the resources of a pass by kind (`stepsOf`). Shared by
 * test/system/e2e.test.ts, dualStack.e2e.test.ts and multiNetwork.e2e.test.ts.
 */
import { labExec } from "../../lab/lab";
import type { PassResult, Step } from "./engine/engine";
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
