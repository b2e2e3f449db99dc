/**
 * Swarm services on macvlan (issue 10 item 5), end to end on real engines: index.ts applied to the
 * lab through the test harness (test/support/engine: every remote.Command it registers runs over
 * real SSH with its registered connection), with a network marked `swarm: true` spanning node1
 * and node2 (netns hosts, Docker Engine 20.10), each with its own /28 slice.
 *
 * The test makes its own swarm first (node1 `docker swarm init`, node2 joins as a worker: the
 * program does not manage swarm membership), then:
 *   1. apply: a config-only network `swarm_lan-config` on each host (its parent, its slice) and
 *      the swarm network `swarm_lan` on node1 (`--config-from`);
 *   2. a 2-replica service, one task per host, on `swarm_lan`: each task has an address from its
 *      own host's slice, and the tasks ping each other at those addresses (from inside the task
 *      containers);
 *      the swarm network's delete, while the service uses it, fails saying so;
 *   3. a re-apply changes nothing, and each create script run again (as after a dropped
 *      connection) finds its network there and changes nothing;
 *   4. node2's slice moved: node2's config-only network and the swarm network are replaced (the
 *      swarm one deleted first), node1's is left alone;
 *   5. destroy (the service removed first, as a user must) leaves no network behind: every host's
 *      `docker network ls` is what it was before the apply;
 * and `after` undoes its own swarm (`docker swarm leave --force`, the docker_gwbridge network that
 * joining made), also when a case failed. Needs root and the lab; fails, never skips, without them.
 */
import * as assert from "node:assert/strict";
// The mocks first (importing them sets them), then the code under test (the engine runs index.ts under them).
import "../support/mocks";
import { labExec, labUp, releaseLab, type Lab, type LabHost } from "../../lab/lab";
import { Engine, TYPES, type PassResult } from "../support/engine/engine";

const log = (l: string): void => void process.stdout.write(`      swarm: ${l}\n`);
const IMAGE = "local/busybox:1";
const NET = "swarm_lan";
const SERVICE = "swarm_e2e_svc";
const HOSTS = ["node1", "node2"] as const;
const SLICES: Record<(typeof HOSTS)[number], string> = { node1: "198.18.0.160/28", node2: "198.18.0.176/28" };

function hostOf(lab: Lab, name: string): LabHost {
    const h = lab.hosts.find((x) => x.name === name);
    if (h === undefined) throw new Error(`the lab has no host ${name}`);
    return h;
}

function config(lab: Lab): Record<string, unknown> {
    const host = (name: string): Record<string, unknown> => {
        const h = hostOf(lab, name);
        return { name, address: h.address, port: h.port, user: h.user, hostKey: h.hostKey, parent: h.parent, dockerVersion: h.dockerVersion };
    };
    return {
        "macvlan:sshPrivateKeyPath": lab.privateKeyPath,
        "macvlan:sshIdentityFile": lab.privateKeyPath,
        "macvlan:hosts": HOSTS.map(host),
        "macvlan:networks": [
            {
                name: NET,
                swarm: true,
                subnet: lab.lanCidr,
                gateway: lab.gateway,
                ipRange: "198.18.0.128/26",
                sliceSize: 28,
                slices: { node1: 2, node2: 3 },
                hosts: [...HOSTS],
            },
        ],
    };
}

async function sh(host: string, script: string, timeoutMs = 120_000): Promise<string> {
    const r = await labExec(host, script, { timeoutMs });
    if (r.code !== 0) throw new Error(`${host}: exit ${r.code} from ${JSON.stringify(script.slice(0, 200))}\n${r.stderr || r.stdout}`);
    return r.stdout;
}

/** `docker network ls` of a host: `name driver scope` lines, sorted. */
async function networks(host: string): Promise<string> {
    return (await sh(host, "docker network ls --format '{{.Name}} {{.Driver}} {{.Scope}}' | sort")).trim();
}

/** What this file leaves on a host when a run was killed: its service, its networks, the swarm. */
async function undoOwn(host: string, manager: boolean): Promise<void> {
    const script = [
        manager ? `docker service rm ${SERVICE} >/dev/null 2>&1 || :` : ":",
        // The test's own swarm networks first (a config-only one cannot go while they use it), then the swarm.
        `if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = active ]; then docker network rm ${NET} >/dev/null 2>&1 || :; fi`,
        `i=0; while docker network inspect ${NET}-config >/dev/null 2>&1 && ! docker network rm ${NET}-config >/dev/null 2>&1 && [ $i -lt 30 ]; do i=$((i+1)); sleep 1; done`,
        "docker swarm leave --force >/dev/null 2>&1 || :",
        "docker network rm docker_gwbridge >/dev/null 2>&1 || :",
        `docker network rm ${NET}-config >/dev/null 2>&1 || :`,
    ].join("\n");
    await sh(host, script, 180_000);
}

/** The running task container of the service on a host: its id and its address on the swarm network. */
async function task(host: string): Promise<{ id: string; ip: string } | undefined> {
    const id = (await sh(host, `docker ps -q --filter label=com.docker.swarm.service.name=${SERVICE}`)).trim();
    if (id === "" || id.includes("\n")) return undefined;
    const ip = (await sh(host, `docker inspect --format '{{(index .NetworkSettings.Networks "${NET}").IPAddress}}' ${id}`)).trim();
    return { id, ip };
}

function ipIn(ip: string, cidr: string): boolean {
    const v = (a: string) => a.split(".").reduce((x, o) => x * 256 + Number(o), 0);
    const [base, len] = cidr.split("/");
    const size = 2 ** (32 - Number(len));
    return v(ip) >= v(base) && v(ip) < v(base) + size;
}

/** The registered create/delete text and stdin of a command in the harness state. */
function commandOf(e: Engine, name: string): { create: string; delete: string; stdin: string } {
    const entry = [...e.state.values()].find((x) => x.type === TYPES.command && x.name === name);
    assert.ok(entry !== undefined, `no ${name} in the state`);
    return entry.inputs as { create: string; delete: string; stdin: string };
}

async function removeService(): Promise<void> {
    await sh("node1", `docker service rm ${SERVICE} >/dev/null`);
    // The task containers go asynchronously; the swarm network cannot be removed while they hold it.
    for (const h of HOSTS) await sh(h, `i=0; while [ -n "$(docker ps -aq --filter label=com.docker.swarm.service.name=${SERVICE})" ] && [ $i -lt 60 ]; do i=$((i+1)); sleep 1; done`);
}

function changes(r: PassResult): string[] {
    return r.steps.filter((s) => s.kind !== "same").map((s) => `${s.kind} ${s.name}`).sort();
}

describe("swarm services on macvlan: a swarm network across two lab hosts", function () {
    this.timeout(900_000);
    let lab: Lab;
    let engine: Engine | undefined;
    let cfg: Record<string, unknown>;
    /** Each host's networks before the test's swarm, and after it, before the first apply. */
    const beforeSwarm = new Map<string, string>();
    const beforeApply = new Map<string, string>();
    let applied = false;
    const t0 = Date.now();

    before(async function () {
        this.timeout(900_000);
        if (process.getuid?.() !== 0) throw new Error("the swarm tests need root: run them as root (sudo npm test)");
        lab = await labUp({ log });
        // Leftovers of a killed run of this file (its own only).
        await undoOwn("node2", false);
        await undoOwn("node1", true);
        for (const h of HOSTS) beforeSwarm.set(h, await networks(h));
        const m = hostOf(lab, "node1");
        const w = hostOf(lab, "node2");
        // The swarm: the program creates networks in it, it does not make one. If the engines
        // cannot run swarm here, this fails with Docker's own words (never a skip).
        await sh("node1", `docker swarm init --advertise-addr ${m.address} --listen-addr ${m.address}:2377 >/dev/null`);
        const token = (await sh("node1", "docker swarm join-token -q worker")).trim();
        await sh("node2", `docker swarm join --advertise-addr ${w.address} --token ${token} ${m.address}:2377`);
        for (const h of HOSTS) beforeApply.set(h, await networks(h));
        log(`swarm of node1 (manager) and node2 (worker) ready in ${Date.now() - t0} ms`);
        cfg = config(lab);
        engine = new Engine({ log: (l) => log(`  ${l}`) });
    });

    after(async function () {
        this.timeout(600_000);
        try {
            if (engine !== undefined && engine.state.size > 0) {
                log("cleaning up: the service, then destroy what is left in the harness state");
                await sh("node1", `docker service rm ${SERVICE} >/dev/null 2>&1 || :`).catch(() => undefined);
                await engine.destroy().catch((e: unknown) => log(`destroy failed: ${e instanceof Error ? e.message : String(e)}`));
            }
            if (lab !== undefined) {
                await undoOwn("node2", false).catch((e: unknown) => log(`node2 cleanup: ${String(e)}`));
                await undoOwn("node1", true).catch((e: unknown) => log(`node1 cleanup: ${String(e)}`));
                for (const h of HOSTS) {
                    const now = await networks(h).catch(() => "?");
                    if (beforeSwarm.has(h) && now !== beforeSwarm.get(h)) throw new Error(`${h}: networks after the swarm's cleanup differ from before the test: ${now}`);
                }
            }
        } finally {
            releaseLab();
            log(`whole file: ${Date.now() - t0} ms`);
        }
    });

    it("1. apply: a config-only network with its slice on each host, the swarm network from them on the manager", async () => {
        const t = Date.now();
        const r = await (engine as Engine).up(cfg);
        log(`apply took ${Date.now() - t} ms (${r.steps.length} resources)`);
        applied = true;
        const cmds = r.steps.filter((s) => s.type === TYPES.command && s.name.startsWith(`${NET}-`)).map((s) => `${s.kind} ${s.name}`).sort();
        assert.deepEqual(cmds, [`create ${NET}-node1-config`, `create ${NET}-node2-config`, `create ${NET}-swarm`]);
        for (const h of HOSTS) {
            const inspect = JSON.parse(await sh(h, `docker network inspect ${NET}-config`)) as {
                ConfigOnly: boolean;
                Scope: string;
                Options: Record<string, string>;
                IPAM: { Config: { Subnet: string; Gateway?: string; IPRange?: string }[] };
                Labels: Record<string, string>;
            }[];
            const n = inspect[0];
            assert.equal(n.ConfigOnly, true, `${h}: config-only`);
            assert.deepEqual(n.Options, { parent: hostOf(lab, h).parent, macvlan_mode: "bridge" }, `${h}: options`);
            assert.deepEqual(n.IPAM.Config, [{ Subnet: lab.lanCidr, Gateway: lab.gateway, IPRange: SLICES[h] }], `${h}: its own slice`);
            assert.match(n.Labels["com.pulumi-macvlan.owner"], new RegExp(`/${h}$`));
        }
        const sw = JSON.parse(await sh("node1", `docker network inspect ${NET}`)) as { Scope: string; Driver: string; ConfigFrom: { Network: string } }[];
        assert.equal(sw[0].Scope, "swarm");
        assert.equal(sw[0].Driver, "macvlan");
        assert.equal(sw[0].ConfigFrom.Network, `${NET}-config`);
    });

    it("2. a 2-replica service, one task per host, on the swarm network: tasks get their host's slice and reach each other", async () => {
        assert.ok(applied, "the apply failed");
        await sh("node1", `docker service create --detach --name ${SERVICE} --network ${NET} --replicas 2 --replicas-max-per-node 1 ${IMAGE} sleep 3600 2>/dev/null`);
        const tasks = new Map<string, { id: string; ip: string }>();
        const deadline = Date.now() + 120_000;
        while (tasks.size < HOSTS.length) {
            for (const h of HOSTS) {
                const x = await task(h);
                if (x !== undefined && x.ip !== "") tasks.set(h, x);
            }
            if (tasks.size === HOSTS.length) break;
            if (Date.now() > deadline) {
                throw new Error(`the service's tasks did not run on both hosts within 120 s:\n${await sh("node1", `docker service ps --no-trunc ${SERVICE}`)}`);
            }
            await new Promise((r) => setTimeout(r, 2000));
        }
        for (const h of HOSTS) {
            const x = tasks.get(h) as { id: string; ip: string };
            log(`${h}: task ${x.id} at ${x.ip}`);
            assert.ok(ipIn(x.ip, SLICES[h]), `${h}: task address ${x.ip} is not in its slice ${SLICES[h]}`);
        }
        const [a, b] = HOSTS.map((h) => tasks.get(h) as { id: string; ip: string });
        const ab = await labExec("node1", `docker exec ${a.id} ping -c 3 -W 2 ${b.ip}`, { timeoutMs: 60_000 });
        assert.equal(ab.code, 0, `node1's task cannot reach node2's at ${b.ip}:\n${ab.stdout}${ab.stderr}`);
        const ba = await labExec("node2", `docker exec ${b.id} ping -c 3 -W 2 ${a.ip}`, { timeoutMs: 60_000 });
        assert.equal(ba.code, 0, `node2's task cannot reach node1's at ${a.ip}:\n${ba.stdout}${ba.stderr}`);
        // The swarm network's delete, while the service uses it, fails saying so and removes nothing.
        const sw = commandOf(engine as Engine, `${NET}-swarm`);
        const d = await labExec("node1", sw.delete, { stdin: sw.stdin, timeoutMs: 120_000 });
        assert.equal(d.code, 1, d.stdout);
        assert.match(d.stderr, /is in use .*remove the services attached to it first/, d.stderr);
        assert.equal((await sh("node1", `docker network ls -q --filter name=^${NET}$ | wc -l`)).trim(), "1");
        await removeService();
    });

    it("3. a re-apply changes nothing; each create script run again finds its network and changes nothing", async () => {
        assert.ok(applied, "the apply failed");
        const r = await (engine as Engine).up(cfg);
        assert.deepEqual(changes(r), [], "a re-run changes nothing");
        for (const [name, host] of [[`${NET}-node1-config`, "node1"], [`${NET}-node2-config`, "node2"], [`${NET}-swarm`, "node1"]] as const) {
            const { create, stdin } = commandOf(engine as Engine, name);
            const again = await labExec(host, create, { stdin, timeoutMs: 120_000 });
            assert.equal(again.code, 0, `${name}: ${again.stderr}`);
            assert.match(again.stdout, /is already there as wanted/, `${name}: ${again.stdout}`);
        }
    });

    it("4. node2's slice moved: node2's config-only network and the swarm network are replaced, the swarm one deleted first; node1's stays", async () => {
        assert.ok(applied, "the apply failed");
        const moved = structuredClone(cfg);
        ((moved["macvlan:networks"] as Record<string, unknown>[])[0]["slices"] as Record<string, number>)["node2"] = 1;
        const r = await (engine as Engine).up(moved);
        assert.deepEqual(changes(r), [`delete-replaced ${NET}-node2-config`, `delete-replaced ${NET}-swarm`, `replace ${NET}-node2-config`, `replace ${NET}-swarm`]);
        const order = r.steps.filter((x) => x.kind === "delete-replaced").map((x) => x.name);
        assert.ok(order.indexOf(`${NET}-swarm`) < order.indexOf(`${NET}-node2-config`), `the swarm network is deleted first: ${order.join(", ")}`);
        const ranges = JSON.parse(await sh("node2", `docker network inspect --format '{{json .IPAM.Config}}' ${NET}-config`)) as { IPRange: string }[];
        assert.deepEqual(ranges.map((x) => x.IPRange), ["198.18.0.144/28"]);
        assert.equal((await sh("node1", `docker network inspect --format '{{.Scope}} {{.ConfigFrom.Network}}' ${NET}`)).trim(), `swarm ${NET}-config`);
        cfg = moved;
        assert.deepEqual(changes(await (engine as Engine).up(cfg)), [], "and a re-run changes nothing");
    });

    it("5. destroy (after the service is removed) leaves no network behind", async () => {
        assert.ok(applied, "the apply failed");
        const t = Date.now();
        const steps = await (engine as Engine).destroy();
        log(`destroy took ${Date.now() - t} ms (${steps.length} deletes)`);
        assert.equal((engine as Engine).state.size, 0);
        const order = steps.filter((s) => s.name.startsWith(`${NET}-`)).map((s) => s.name);
        assert.equal(order[0], `${NET}-swarm`, `the swarm network is removed before the config-only ones: ${order.join(", ")}`);
        assert.equal((await sh("node1", `docker network ls -q --filter name=${NET}`)).trim(), "", "node1 keeps a swarm_lan network");
        // docker_gwbridge and ingress are the swarm's own: a worker's engine makes them when its first task runs.
        const ours = (ls: string | undefined) => (ls ?? "").split("\n").filter((l) => !l.startsWith("docker_gwbridge ") && l !== "ingress overlay swarm").join("\n");
        for (const h of HOSTS) assert.equal(ours(await networks(h)), ours(beforeApply.get(h)), `${h}: networks differ from before the apply`);
    });
});
