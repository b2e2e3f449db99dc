/**
 * End to end: index.ts applied to the lab by the test harness (test/support/engine), which
 * performs every registered resource for real — remote commands over SSH with their registered
 * connection, Docker networks and containers through each host's registered `ssh://` provider — and
 * the field notes' experiments reproduced as assertions on real engines and kernels:
 *   1. bridge mode: containers on one host and across hosts ping each other; pinned ip and mac;
 *   2. a host cannot reach its own containers, another host can; with the shim it can;
 *   3. private: same-host containers cannot talk; vepa: only through a hairpinning switch port;
 *      passthru: a second container is refused by the engine, and by validation before that;
 *   4. VLAN 50 (on the QEMU guests): containers on `<parent>.50` reach each other across hosts and
 *      not the untagged network, although VLAN 50 carries the very same subnet;
 *   5. `docker network inspect` on every host matches the stack config;
 *   6. an edit (container added, ip changed, mode changed, a shim added, a shim's address changed)
 *      gives the new state, untouched containers keep running with the same ids;
 *   7. destroy leaves every host as before the first apply;
 *   8. a static ip outside the subnet is refused by validation before any Docker call;
 *   9. the main job: the lab's own stack file (what `pulumi up --stack lab` runs) applied, re-run,
 *      destroyed.
 * Needs root and the lab's Debian packages; fails (never skips) without them.
 */
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import * as yaml from "js-yaml";
// The mocks first (importing them sets them), then the code under test (the engine runs index.ts under them).
import "../support/mocks";
import * as pulumi from "@pulumi/pulumi";
import { labDocker, labDown, labExec, labUp, releaseLab, setHairpin, type Lab, type LabHost } from "../../lab/lab";
import { createContainer, DockerApi } from "../support/engine/docker";
import { Engine, TYPES } from "../support/engine/engine";
import { snapshot, stepsOf, type HostSnapshot } from "../support/passState";
import { clone } from "../support/stacks";

const log = (l: string): void => void process.stdout.write(`      e2e: ${l}\n`);
const IMAGE = "local/busybox:1";
const SLEEP = ["sleep", "3600"];

// ---------------------------------------------------------------------------------------------
// The stack configs

/** The first config: five hosts, four networks, eight containers. */
function configA(lab: Lab): Record<string, unknown> {
    const h = (name: string): LabHost => {
        const x = lab.hosts.find((y) => y.name === name);
        if (x === undefined) throw new Error(`the lab has no host ${name}`);
        return x;
    };
    const host = (name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
        name,
        address: h(name).address,
        port: h(name).port,
        user: h(name).user,
        hostKey: h(name).hostKey,
        parent: h(name).parent,
        dockerVersion: h(name).dockerVersion,
        ...extra,
    });
    const c = (name: string, on: string, ip: string): Record<string, unknown> => ({ name, host: on, image: IMAGE, ip, command: SLEEP });
    return {
        "macvlan:sshPrivateKeyPath": lab.privateKeyPath,
        "macvlan:sshIdentityFile": lab.privateKeyPath,
        "macvlan:hosts": [
            host("node1", { shim: { address: "198.18.0.250" } }),
            host("node2"),
            host("node3"),
            host("vlan1", { vlans: [50, 70] }),
            host("vlan2", { vlans: [50] }),
        ],
        "macvlan:networks": [
            {
                name: "e2e_lan",
                mode: "bridge",
                subnet: "198.18.0.0/24",
                gateway: "198.18.0.1",
                ipRange: "198.18.0.128/26",
                sliceSize: 28,
                slices: { node1: 0, node2: 1 },
                auxAddresses: { "node1-shim": "198.18.0.250", "node2-shim": "198.18.0.251" },
                hosts: ["node1", "node2"],
                containers: [c("c1", "node1", "198.18.0.101"), c("c2", "node1", "198.18.0.102"), c("c3", "node2", "198.18.0.103")],
            },
            {
                name: "e2e_modes",
                mode: "private",
                subnet: "198.18.0.0/24",
                gateway: "198.18.0.1",
                // Not the shims' addresses: validation insists (Docker could hand them out).
                ipRange: "198.18.0.120/29",
                hosts: ["node3"],
                containers: [c("p1", "node3", "198.18.0.121"), c("p2", "node3", "198.18.0.122")],
            },
            {
                // VLAN 50 carries the LAN's own subnet: only the tag keeps it apart from e2e_lan.
                name: "e2e_v50",
                vlan: 50,
                subnet: "198.18.0.0/24",
                gateway: "198.18.0.1",
                ipRange: "198.18.0.144/28",
                sliceSize: 29,
                slices: { vlan1: 0, vlan2: 1 },
                hosts: ["vlan1", "vlan2"],
                containers: [c("v1", "vlan1", "198.18.0.151"), c("v2", "vlan2", "198.18.0.152")],
            },
            {
                name: "e2e_pass",
                mode: "passthru",
                vlan: 70,
                subnet: "198.18.70.0/24",
                gateway: "198.18.70.1",
                hosts: ["vlan1"],
                containers: [c("s1", "vlan1", "198.18.70.10")],
            },
        ],
    };
}

interface NetworkCfg {
    name: string;
    mode?: string;
    vlan?: number;
    subnet: string;
    gateway: string;
    ipRange?: string;
    sliceSize?: number;
    slices?: Record<string, number>;
    auxAddresses?: Record<string, string>;
    hosts: string[];
    containers: { name: string; host: string; ip: string }[];
}
/**
 * The ipRange host `h`'s network gets: its slice (a slot of `sliceSize` in the ipRange, counted
 * from 0, written out here as a /28 or /29 of the ipRange's first address), else the ipRange.
 */
function hostRange(n: NetworkCfg, h: string): string | undefined {
    const slot = n.slices?.[h];
    if (slot === undefined || n.ipRange === undefined || n.sliceSize === undefined) return n.ipRange;
    const [base] = n.ipRange.split("/");
    const octets = base.split(".").map(Number);
    octets[3] += slot * 2 ** (32 - n.sliceSize);
    return `${octets.join(".")}/${n.sliceSize}`;
}
interface HostCfg {
    name: string;
    parent: string;
    shim?: { address: string };
}
const networksOf = (cfg: Record<string, unknown>): NetworkCfg[] => cfg["macvlan:networks"] as NetworkCfg[];
const hostsOf = (cfg: Record<string, unknown>): HostCfg[] => cfg["macvlan:hosts"] as HostCfg[];
const networkOf = (cfg: Record<string, unknown>, name: string): NetworkCfg => {
    const n = networksOf(cfg).find((x) => x.name === name);
    if (n === undefined) throw new Error(`no network ${name}`);
    return n;
};

/** The edit of case 6: c4 added, c2's ip changed, e2e_modes private → vepa; node2 gets a shim, node1's shim a new address. */
function configB(a: Record<string, unknown>): Record<string, unknown> {
    const b = clone(a);
    const lan = networkOf(b, "e2e_lan");
    lan.containers.push({ name: "c4", host: "node2", image: IMAGE, ip: "198.18.0.104", command: SLEEP } as never);
    const c2 = lan.containers.find((x) => x.name === "c2");
    if (c2 === undefined) throw new Error("no c2");
    c2.ip = "198.18.0.112";
    networkOf(b, "e2e_modes").mode = "vepa";
    const node2 = hostsOf(b).find((x) => x.name === "node2");
    if (node2 === undefined) throw new Error("no node2");
    node2.shim = { address: "198.18.0.251" };
    const node1 = hostsOf(b).find((x) => x.name === "node1");
    if (node1 === undefined) throw new Error("no node1");
    // Outside every ipRange, so Docker never hands it out (validation insists).
    node1.shim = { address: "198.18.0.249" };
    return b;
}

// ---------------------------------------------------------------------------------------------
// Reading the hosts

async function docker(host: string, ...args: string[]): Promise<string> {
    return (await labDocker(host, args, { check: true, timeoutMs: 120_000 })).stdout.trim();
}

/** One ping attempt (busybox ping, one probe, 1 s) from inside a container or from a host. */
async function pingOnce(from: { host: string; container?: string }, ip: string): Promise<boolean> {
    const r =
        from.container === undefined
            ? await labExec(from.host, `busybox ping -c1 -W1 ${ip}`, { timeoutMs: 60_000 })
            : await labDocker(from.host, ["exec", from.container, "ping", "-c1", "-W1", ip], { timeoutMs: 60_000 });
    if (r.code === 255) throw new Error(`${from.host}: ssh failed: ${r.stderr}`);
    return r.code === 0;
}

/** Asserts that `from` reaches `ip` (three tries, for ARP on a busy machine) or does not (two tries, both fail). */
async function assertReach(from: { host: string; container?: string }, ip: string, expected: boolean, why: string): Promise<void> {
    const label = `${from.container ?? "the host"} on ${from.host} → ${ip}`;
    for (let i = 0; i < (expected ? 3 : 2); i++) {
        if (await pingOnce(from, ip)) {
            assert.ok(expected, `${label} answered, but should not: ${why}`);
            return;
        }
    }
    assert.ok(!expected, `${label} got no answer: ${why}`);
}

interface ContainerFacts {
    id: string;
    startedAt: string;
    running: boolean;
    ip: string;
    mac: string;
    /** `ip addr` inside: the address and MAC of eth0. */
    insideIp: string;
    insideMac: string;
}

async function containerFacts(host: string, name: string, network: string): Promise<ContainerFacts> {
    const fmt = `{{.Id}} {{.State.StartedAt}} {{.State.Running}} {{with index .NetworkSettings.Networks "${network}"}}{{.IPAddress}} {{.MacAddress}}{{end}}`;
    const [id, startedAt, running, ip, mac] = (await docker(host, "inspect", "--format", fmt, name)).split(" ");
    const inside = await docker(host, "exec", name, "ip", "addr", "show", "dev", "eth0");
    return {
        id,
        startedAt,
        running: running === "true",
        ip: ip ?? "",
        mac: mac ?? "",
        insideIp: /inet (\d+\.\d+\.\d+\.\d+)\//.exec(inside)?.[1] ?? "",
        insideMac: /link\/ether ([0-9a-f:]+)/.exec(inside)?.[1] ?? "",
    };
}

/** Docker objects or host state of this file left by a killed earlier run. */
async function leftovers(host: string): Promise<string> {
    const r = await labExec(
        host,
        "docker ps -aq --filter name=e2e_; docker network ls -q --filter name=e2e_; docker ps -aq --filter name=^/c[1-4]$; find /var/lib/pulumi-macvlan /etc/pulumi-macvlan -mindepth 1 2>/dev/null; true",
        { check: true, timeoutMs: 120_000 },
    );
    return r.stdout.trim();
}

// ---------------------------------------------------------------------------------------------

describe("end to end: index.ts applied to the lab through the harness", function () {
    this.timeout(900_000);
    let lab: Lab;
    let engine: Engine;
    let cfgA: Record<string, unknown>;
    let cfgB: Record<string, unknown>;
    let outputsA: { networks: Record<string, { hosts: Record<string, { containers: Record<string, { ip: string; mac: string }> }> }> };
    const prior = new Map<string, HostSnapshot>();
    const factsA = new Map<string, ContainerFacts>();
    let applied = false;
    let updated = false;
    let destroyed = false;
    const t0 = Date.now();

    /** host and network of a container in a config. */
    const where = (cfg: Record<string, unknown>, container: string): { host: string; network: string; ip: string } => {
        for (const n of networksOf(cfg)) {
            const c = n.containers.find((x) => x.name === container);
            if (c !== undefined) return { host: c.host, network: n.name, ip: c.ip };
        }
        throw new Error(`no container ${container}`);
    };
    const from = (cfg: Record<string, unknown>, container: string): { host: string; container: string } => ({
        host: where(cfg, container).host,
        container,
    });

    before(async function () {
        this.timeout(600_000);
        if (process.getuid?.() !== 0) throw new Error("the end-to-end tests need root: run them as root (sudo npm test)");
        lab = await labUp({ log });
        const dirty = (await Promise.all(lab.hosts.map(async (h) => [h.name, await leftovers(h.name)] as const))).filter(([, x]) => x !== "");
        if (dirty.length > 0) {
            log(`leftovers of an earlier run on ${dirty.map(([n]) => n).join(", ")}: rebuilding the lab`);
            await labDown({ log });
            lab = await labUp({ log });
        }
        await Promise.all(lab.hosts.map((h) => setHairpin(h.name, false)));
        cfgA = configA(lab);
        cfgB = configB(cfgA);
        engine = new Engine({ log: (l) => log(`  ${l}`) });
        for (const [h, snap] of await Promise.all(lab.hosts.map(async (h) => [h.name, await snapshot(h.name)] as const))) prior.set(h, snap);
        log(`lab ready, hosts snapshotted in ${Date.now() - t0} ms`);
    });

    after(async function () {
        this.timeout(600_000);
        try {
            if (engine !== undefined && engine.state.size > 0) {
                log("cleaning up: destroy what is left in the harness state");
                try {
                    await engine.destroy();
                } catch (e) {
                    log(`destroy failed (${e instanceof Error ? e.message : String(e)}): tearing the lab down instead`);
                    await labDown({ log });
                }
            }
            if (lab !== undefined) await Promise.all(lab.hosts.map((h) => setHairpin(h.name, false).catch(() => undefined)));
        } finally {
            engine?.close();
            releaseLab();
            log(`whole file: ${Date.now() - t0} ms`);
        }
    });

    it("8. a static ip outside the subnet is refused by validation, with the path and the subnet, before any Docker call", async () => {
        const bad = clone(cfgA);
        networkOf(bad, "e2e_lan").containers[0].ip = "10.9.9.9";
        const [regs, ops] = [engine.registrations, engine.operations.length];
        await assert.rejects(engine.up(bad), (e: unknown) => {
            assert.ok(pulumi.RunError.isInstance(e), String(e));
            assert.match(e.message, /networks\[0\]\.containers\[0\]\.ip 10\.9\.9\.9 does not belong to subnet 198\.18\.0\.0\/24/);
            return true;
        });
        assert.equal(engine.registrations, regs, "nothing was registered");
        assert.equal(engine.operations.length, ops, "no host was touched");
        assert.equal(engine.state.size, 0);
    });

    it("applies the stack: every registered resource performed on the lab", async () => {
        const t = Date.now();
        const r = await engine.up(cfgA);
        log(`apply took ${Date.now() - t} ms (${r.steps.length} resources)`);
        outputsA = r.outputs as typeof outputsA;
        assert.deepEqual(stepsOf(r, "update").concat(stepsOf(r, "replace"), stepsOf(r, "delete")), []);
        assert.deepEqual(stepsOf(r, "create", TYPES.container), ["c1", "c2", "c3", "p1", "p2", "s1", "v1", "v2"].map((c) => `${where(cfgA, c).network}-${where(cfgA, c).host}-${c}`).sort());
        assert.deepEqual(stepsOf(r, "create", TYPES.network), ["e2e_lan-node1", "e2e_lan-node2", "e2e_modes-node3", "e2e_pass-vlan1", "e2e_v50-vlan1", "e2e_v50-vlan2"]);
        for (const c of ["c1", "c2", "c3", "p1", "p2", "v1", "v2", "s1"]) {
            const w = where(cfgA, c);
            factsA.set(c, await containerFacts(w.host, c, w.network));
        }
        applied = true;
    });

    it("a second run with the same config changes nothing", async () => {
        assert.ok(applied, "the apply failed");
        const r = await engine.up(cfgA);
        const changed = r.steps.filter((s) => s.kind !== "same").map((s) => `${s.kind} ${s.name}`);
        assert.deepEqual(changed, [], "no resource changes: the probe finds no drift and every input is the same");
    });

    it("the Docker providers' registered ssh:// endpoint and sshOpts alone reach each engine, with the host key pinned", async () => {
        assert.ok(applied, "the apply failed");
        const provider = engine.byName("node1-docker");
        const host = String(provider.inputs["host"]);
        const sshOpts = JSON.parse(String(provider.inputs["sshOpts"])) as string[];
        const right = new DockerApi({ host, sshOpts });
        const node2Key = lab.hosts.find((h) => h.name === "node2")?.hostKey ?? "";
        const node1Key = lab.hosts.find((h) => h.name === "node1")?.hostKey ?? "";
        const wrong = new DockerApi({ host, sshOpts: sshOpts.map((o) => o.replace(node1Key, node2Key)) });
        try {
            assert.equal((await right.call<{ Name: string }>("GET", "/info")).Name, "node1");
            assert.ok(sshOpts.some((o) => o.includes(node1Key)), "the pinned key is in the registered sshOpts");
            await assert.rejects(wrong.call("GET", "/info"), /Host key verification failed/);
        } finally {
            right.close();
            wrong.close();
        }
    });

    it("1. bridge mode: same-host and cross-host containers ping each other; every container has exactly its pinned ip and mac", async () => {
        assert.ok(applied, "the apply failed");
        await assertReach(from(cfgA, "c1"), "198.18.0.102", true, "c1 and c2 share node1's eth0 in bridge mode");
        await assertReach(from(cfgA, "c2"), "198.18.0.101", true, "c2 and c1 share node1's eth0 in bridge mode");
        await assertReach(from(cfgA, "c1"), "198.18.0.103", true, "c1 (node1) and c3 (node2) are on one LAN");
        await assertReach(from(cfgA, "c3"), "198.18.0.101", true, "c3 (node2) and c1 (node1) are on one LAN");
        for (const [c, f] of factsA) {
            const w = where(cfgA, c);
            const pinned = outputsA.networks[w.network].hosts[w.host].containers[c];
            assert.equal(pinned.ip, w.ip);
            assert.match(pinned.mac, /^02:42:/);
            assert.ok(f.running, `${c} runs`);
            assert.deepEqual([f.ip, f.mac, f.insideIp, f.insideMac], [w.ip, pinned.mac, w.ip, pinned.mac], `${c}: docker inspect and ip addr inside`);
        }
    });

    it("2. a host cannot reach its own containers, another host can; with the shim (MacvlanHost over SSH) the host can", async () => {
        assert.ok(applied, "the apply failed");
        await assertReach({ host: "node2" }, "198.18.0.103", false, "node2 has no shim: the kernel keeps a macvlan parent from talking to its children");
        await assertReach({ host: "node3" }, "198.18.0.103", true, "another host reaches c3 across the switch");
        await assertReach({ host: "node2" }, "198.18.0.101", true, "node2 reaches node1's containers");
        await assertReach({ host: "node1" }, "198.18.0.101", true, "node1 has the shim and a /32 route to c1");
        await assertReach({ host: "node1" }, "198.18.0.102", true, "node1 has the shim and a /32 route to c2");
        const shim = await labExec("node1", "ip -d -j link show macvlan-shim; ip -4 route show dev macvlan-shim", { check: true });
        assert.match(shim.stdout, /"mode":"bridge"/);
        assert.match(shim.stdout, /198\.18\.0\.101 /);
        assert.match(shim.stdout, /198\.18\.0\.102 /);
    });

    it("3a. private mode: same-host containers cannot talk; passthru: a second container is refused by the engine and by validation", async () => {
        assert.ok(applied, "the apply failed");
        await assertReach(from(cfgA, "p1"), "198.18.0.122", false, "p1 and p2 are on node3's eth0 in private mode");
        await assertReach(from(cfgA, "p2"), "198.18.0.121", false, "private mode, the other way");
        await assertReach(from(cfgA, "p1"), "198.18.0.101", true, "private mode still reaches other hosts' containers");

        // The engine: a second container on the passthru network, through the provider's own calls.
        const s1 = engine.byName("e2e_pass-vlan1-s1");
        const api = engine.dockerApi(s1.provider ?? "");
        const second = {
            ...s1.inputs,
            name: "e2e_s2",
            networksAdvanced: [{ name: "e2e_pass", ipv4Address: "198.18.70.11", macAddress: "02:42:c6:12:46:0b" }],
        };
        try {
            await assert.rejects(createContainer(api, second), (e: unknown) => {
                log(`engine refused: ${String(e).split("\n")[0]}`);
                assert.match(String(e), /Unable to start container: .*failed to create the macvlan port: invalid argument/);
                return true;
            });
        } finally {
            await labDocker("vlan1", ["rm", "-f", "e2e_s2"], { timeoutMs: 120_000 });
        }
        const s1Now = await containerFacts("vlan1", "s1", "e2e_pass");
        assert.deepEqual([s1Now.id, s1Now.running], [factsA.get("s1")?.id, true], "s1 is untouched");

        // Validation: the same second container in the config never reaches a host.
        const bad = clone(cfgA);
        networkOf(bad, "e2e_pass").containers.push({ name: "s2", host: "vlan1", image: IMAGE, ip: "198.18.70.11", command: SLEEP } as never);
        const [regs, ops] = [engine.registrations, engine.operations.length];
        await assert.rejects(engine.up(bad), (e: unknown) => {
            assert.ok(pulumi.RunError.isInstance(e), String(e));
            assert.match(e.message, /networks\[3\]\.containers\[1\]\.host vlan1 already has networks\[3\]\.containers\[0\] on passthru network/);
            assert.match(e.message, /passthru has a single port per parent/);
            return true;
        });
        assert.deepEqual([engine.registrations, engine.operations.length], [regs, ops], "refused before anything was registered or performed");
    });

    it("4. VLAN 50: containers on eth0.50 reach each other across hosts and not the untagged network of the same subnet", async () => {
        assert.ok(applied, "the apply failed");
        await assertReach(from(cfgA, "v1"), "198.18.0.152", true, "v1 (vlan1) and v2 (vlan2) share VLAN 50");
        await assertReach(from(cfgA, "v2"), "198.18.0.151", true, "v2 and v1 share VLAN 50");
        await assertReach(from(cfgA, "v1"), "198.18.0.101", false, "c1 has an address of the same subnet, but on the untagged LAN");
        await assertReach(from(cfgA, "c1"), "198.18.0.151", false, "the untagged LAN does not reach VLAN 50");
        await assertReach({ host: "node3" }, "198.18.0.152", false, "nor does an untagged host");
        for (const h of ["vlan1", "vlan2"]) {
            const l = await labExec(h, "ip -d -j link show eth0.50", { check: true });
            assert.match(l.stdout, /"protocol":"802.1Q","id":50/, `${h}: eth0.50 is an 802.1Q link made by MacvlanHost`);
        }
    });

    /** Case 5 for a config: every network on every host it spans. */
    async function assertInspectMatches(cfg: Record<string, unknown>): Promise<void> {
        const parents = new Map(hostsOf(cfg).map((h) => [h.name, h.parent]));
        for (const n of networksOf(cfg)) {
            for (const h of n.hosts) {
                const raw = await docker(h, "network", "inspect", n.name);
                const [net] = JSON.parse(raw) as {
                    Driver: string;
                    Options: Record<string, string>;
                    IPAM: { Config: Record<string, unknown>[] };
                }[];
                const parent = n.vlan === undefined ? parents.get(h) : `${parents.get(h)}.${n.vlan}`;
                assert.deepEqual(
                    { driver: net.Driver, options: net.Options, ipam: net.IPAM.Config },
                    {
                        driver: "macvlan",
                        options: { parent, macvlan_mode: n.mode ?? "bridge" },
                        ipam: [
                            {
                                Subnet: n.subnet,
                                Gateway: n.gateway,
                                ...(hostRange(n, h) === undefined ? {} : { IPRange: hostRange(n, h) }),
                                ...(n.auxAddresses === undefined ? {} : { AuxiliaryAddresses: n.auxAddresses }),
                            },
                        ],
                    },
                    `${n.name} on ${h}`,
                );
            }
        }
    }

    it("5. docker network inspect on every host matches the stack config", async () => {
        assert.ok(applied, "the apply failed");
        await assertInspectMatches(cfgA);
    });

    it("6. an edit (container added, ip changed, mode changed, a shim added, a shim readdressed) gives the new state; untouched containers keep running with the same ids", async () => {
        assert.ok(applied, "the apply failed");
        const t = Date.now();
        const r = await engine.up(cfgB);
        log(`update took ${Date.now() - t} ms`);
        updated = true;
        assert.deepEqual(stepsOf(r, "create", TYPES.container), ["e2e_lan-node2-c4"]);
        assert.deepEqual(stepsOf(r, "replace", TYPES.container), ["e2e_lan-node1-c2", "e2e_modes-node3-p1", "e2e_modes-node3-p2"]);
        assert.deepEqual(stepsOf(r, "replace", TYPES.network), ["e2e_modes-node3"]);
        assert.deepEqual(stepsOf(r, "create", TYPES.command), ["node1-shim-route-198-18-0-112-32", "node2-shim", "node2-shim-route-198-18-0-103-32", "node2-shim-route-198-18-0-104-32"]);
        // node1's shim has a new address: its command is replaced (the old one undone first), and
        // so is the route that rides on it; nothing else of node1 is touched.
        assert.deepEqual(stepsOf(r, "replace", TYPES.command), ["node1-shim", "node1-shim-route-198-18-0-101-32"]);
        assert.deepEqual(stepsOf(r, "delete"), ["node1-shim-route-198-18-0-102-32"], "deleted: only what the edit dropped");
        assert.deepEqual(stepsOf(r, "delete-replaced"), stepsOf(r, "replace"), "each replacement deleted its old resource first");
        assert.deepEqual(stepsOf(r, "update"), [], "no host command re-ran");
        for (const c of ["c1", "c3", "v1", "v2", "s1"]) {
            const w = where(cfgB, c);
            const now = await containerFacts(w.host, c, w.network);
            const was = factsA.get(c);
            assert.deepEqual([now.id, now.startedAt, now.running], [was?.id, was?.startedAt, true], `${c} kept running, same id, never restarted`);
        }
        const outputsB = r.outputs as typeof outputsA;
        for (const c of ["c2", "c4", "p1", "p2"]) {
            const w = where(cfgB, c);
            const f = await containerFacts(w.host, c, w.network);
            const pinned = outputsB.networks[w.network].hosts[w.host].containers[c];
            assert.deepEqual([f.running, f.ip, f.mac, f.insideIp, f.insideMac], [true, w.ip, pinned.mac, w.ip, pinned.mac], c);
        }
        assert.notEqual((await containerFacts("node1", "c2", "e2e_lan")).id, factsA.get("c2")?.id, "c2 was replaced");
        assert.equal(await docker("node3", "network", "inspect", "--format", "{{.Options.macvlan_mode}}", "e2e_modes"), "vepa");
        await assertInspectMatches(cfgB);
        // The shim's routes follow the containers: c2's old /32 is gone, its new one is there;
        // the shim carries its new address alone.
        const routes = (await labExec("node1", "ip -4 route show dev macvlan-shim", { check: true })).stdout;
        assert.doesNotMatch(routes, /198\.18\.0\.102 /);
        assert.match(routes, /198\.18\.0\.112 /);
        assert.match(routes, /198\.18\.0\.101 /);
        const shimAddrs = (await labExec("node1", "ip -4 -o addr show dev macvlan-shim", { check: true })).stdout;
        assert.deepEqual([...shimAddrs.matchAll(/inet (\S+)/g)].map((m) => m[1]), ["198.18.0.249/32"]);
        assert.equal((await labExec("node1", "ls /etc/pulumi-macvlan/boot.d", { check: true })).stdout.includes("30-shim-macvlan-shim.sh"), true);
        assert.match((await labExec("node1", "cat /etc/pulumi-macvlan/boot.d/30-shim-macvlan-shim.sh", { check: true })).stdout, /198\.18\.0\.249\/32/);
        await assertReach({ host: "node1" }, "198.18.0.101", true, "node1 reaches c1 through its re-made shim");
        await assertReach({ host: "node1" }, "198.18.0.112", true, "node1 reaches c2 at its new address");
        await assertReach(from(cfgB, "c4"), "198.18.0.101", true, "the new c4 is on the LAN");
        const again = await engine.up(cfgB);
        assert.deepEqual(again.steps.filter((s) => s.kind !== "same").map((s) => `${s.kind} ${s.name}`), [], "and a re-run changes nothing");
    });

    it("2b. the shim added by the edit lets node2 reach its own containers", async () => {
        assert.ok(updated, "the update failed");
        await assertReach({ host: "node2" }, "198.18.0.103", true, "node2 now has a shim and /32 routes to c3");
        await assertReach({ host: "node2" }, "198.18.0.104", true, "and to c4");
    });

    it("3b. vepa mode: same-host containers talk only when the switch port hairpins", async () => {
        assert.ok(updated, "the update failed");
        try {
            await setHairpin("node3", false);
            await assertReach(from(cfgB, "p1"), "198.18.0.122", false, "vepa sends p1's frames to the switch, which does not send them back");
            await setHairpin("node3", true);
            await assertReach(from(cfgB, "p1"), "198.18.0.122", true, "a hairpinning switch port reflects them to p2");
            await assertReach(from(cfgB, "p2"), "198.18.0.121", true, "both ways");
        } finally {
            await setHairpin("node3", false);
        }
    });

    it("7. destroy leaves every host as it was before the first apply", async () => {
        assert.ok(applied, "the apply failed");
        const t = Date.now();
        const steps = await engine.destroy();
        log(`destroy took ${Date.now() - t} ms (${steps.length} deletes)`);
        destroyed = true;
        assert.equal(engine.state.size, 0);
        const after = await Promise.all(lab.hosts.map(async (h) => [h.name, await snapshot(h.name)] as const));
        for (const [h, now] of after) {
            const was = prior.get(h) as HostSnapshot;
            for (const k of Object.keys(was) as (keyof HostSnapshot)[]) {
                if (!isDeepStrictEqual(now[k], was[k])) assert.deepEqual(now[k], was[k], `${h}: ${k} differs from before the first apply`);
            }
        }
    });


    it("9. the main job: stacks/Pulumi.lab.yaml as lab:up wrote it, applied, re-run unchanged, destroyed back to the prior state", async () => {
        // What `pulumi up --stack lab` runs, with this harness in place of the engine. The hosts'
        // engines (20.10) allow one macvlan network per parent: case 7's destroy must have run.
        assert.ok(destroyed, "case 7's destroy did not run");
        const doc = yaml.load(readFileSync(lab.stackPath, "utf8")) as { config: Record<string, unknown> };
        const job = new Engine({ log: (l) => log(`  lab stack: ${l}`) });
        try {
            const t = Date.now();
            const r = await job.up(doc.config);
            log(`lab stack applied in ${Date.now() - t} ms (${r.steps.length} resources)`);
            const containers = stepsOf(r, "create", TYPES.container);
            assert.deepEqual(containers, ["lab_lan-node1-web1", "lab_lan-node2-web2", "lab_v50-vlan1-vweb1", "lab_v50-vlan2-vweb2"]);
            const get = async (fromHost: string, container: string, ip: string): Promise<string> =>
                // No `-T`: Debian's static busybox wget segfaults with it (seen: exit 139); labDocker's timeout bounds it.
                (await labDocker(fromHost, ["exec", container, "wget", "-q", "-O", "-", `http://${ip}/`], { check: true, timeoutMs: 60_000 })).stdout;
            const page = await get("node1", "web1", "198.18.0.102");
            assert.equal(page, "pulumi-macvlan lab\n", "web2 (node2) serves web1 (node1) across the switch: the lab image's /www/index.html");
            assert.equal(await get("vlan1", "vweb1", "198.18.50.102"), page, "vweb2 serves vweb1 on VLAN 50");
            await assertReach({ host: "node1" }, "198.18.0.101", true, "node1 reaches its own web1 through the shim");
            await assertReach({ host: "node2" }, "198.18.0.102", false, "node2 has no shim");
            const again = await job.up(doc.config);
            assert.deepEqual(again.steps.filter((x) => x.kind !== "same").map((x) => `${x.kind} ${x.name}`), [], "a re-run changes nothing");
            await job.destroy();
            for (const h of lab.hosts) {
                const now = await snapshot(h.name);
                const was = prior.get(h.name) as HostSnapshot;
                for (const k of Object.keys(was) as (keyof HostSnapshot)[]) {
                    if (!isDeepStrictEqual(now[k], was[k])) assert.deepEqual(now[k], was[k], `${h.name}: ${k} differs from before`);
                }
            }
        } finally {
            if (job.state.size > 0) await job.destroy().catch((e: unknown) => log(`lab stack destroy failed: ${String(e)}`));
            job.close();
        }
    });
});
