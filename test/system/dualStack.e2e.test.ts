/**
 * Several IPAM pools and dual stack on real engines (issue 10 item 3): index.ts applied to the lab
 * through the test harness (test/support/engine), on the lab's netns hosts (Docker 20.10):
 *   1. a dual-stack network (an IPv4 pool and an IPv6 pool in 2001:db8::/32) spans node1 and node2:
 *      the engines create it with IPv6 enabled and both pools, and the containers on both hosts
 *      reach each other over IPv6 at their pinned addresses (busybox `ping -6` from inside);
 *   2. a network with two IPv4 pools on node3: containers pinned in the second pool get exactly
 *      those addresses and reach each other;
 *   3. a re-run with the same config changes nothing;
 *   4. destroy leaves every host as it was before the apply;
 *   5. the real probe reads a host's global IPv6 address: a container's ip6 there is refused before
 *      anything registers.
 * Needs root and the lab's Debian packages; fails (never skips) without them.
 */
import * as assert from "node:assert/strict";
// The mocks first (importing them sets them), then the code under test (the engine runs index.ts under them).
import "../support/mocks";
import { labDocker, labExec, labUp, type Lab } from "../../lab/lab";
import { Engine, TYPES } from "../support/engine/engine";
import { assertHostsAsBefore, endLabTest, labHostEntry, removeLeftovers, snapshot, type HostSnapshot } from "../support/passState";

const log = (l: string): void => void process.stdout.write(`      dual stack: ${l}\n`);
const IMAGE = "local/busybox:1";
const SLEEP = ["sleep", "3600"];
/** Every name this file gives a Docker object starts with it (leftovers of a killed run are found by it). */
const PREFIX = "ds";

const V6_SUBNET = "2001:db8:18::/64";
const POOL2 = "198.19.0.0/24";

function config(lab: Lab): Record<string, unknown> {
    const c = (name: string, on: string, ip: string, ip6?: string): Record<string, unknown> => ({ name, host: on, image: IMAGE, ip, ...(ip6 === undefined ? {} : { ip6 }), command: SLEEP });
    return {
        "macvlan:sshPrivateKeyPath": lab.privateKeyPath,
        "macvlan:sshIdentityFile": lab.privateKeyPath,
        "macvlan:hosts": [labHostEntry(lab, "node1"), labHostEntry(lab, "node2"), labHostEntry(lab, "node3")],
        "macvlan:networks": [
            {
                name: `${PREFIX}_dual`,
                ipam: [
                    { subnet: "198.18.0.0/24", gateway: "198.18.0.1", ipRange: "198.18.0.192/28" },
                    { subnet: V6_SUBNET, gateway: "2001:db8:18::1", ipRange: "2001:db8:18::100/120" },
                ],
                hosts: ["node1", "node2"],
                // Each engine's own slice of the IPv4 ipRange: node1 198.18.0.192/29, node2 198.18.0.200/29.
                sliceSize: 29,
                slices: { node1: 0, node2: 1 },
                containers: [
                    c(`${PREFIX}1`, "node1", "198.18.0.161", "2001:db8:18::161"),
                    c(`${PREFIX}2`, "node2", "198.18.0.162", "2001:db8:18::162"),
                    c(`${PREFIX}3`, "node1", "198.18.0.163", "2001:db8:18::163"),
                ],
            },
            {
                name: `${PREFIX}_pools`,
                ipam: [
                    { subnet: "198.18.0.0/24", gateway: "198.18.0.1", ipRange: "198.18.0.208/28" },
                    { subnet: POOL2, gateway: "198.19.0.1", ipRange: "198.19.0.128/25" },
                ],
                hosts: ["node3"],
                containers: [c(`${PREFIX}4`, "node3", "198.18.0.164"), c(`${PREFIX}5`, "node3", "198.19.0.10"), c(`${PREFIX}6`, "node3", "198.19.0.11")],
            },
        ],
    };
}

async function docker(host: string, ...args: string[]): Promise<string> {
    return (await labDocker(host, args, { check: true, timeoutMs: 120_000 })).stdout.trim();
}

/** Asserts that a container reaches `ip` (ping, or `ping -6`; five tries: neighbour discovery on a busy machine). */
async function assertReach(host: string, container: string, ip: string, why: string): Promise<void> {
    const six = ip.includes(":");
    for (let i = 0; i < 5; i++) {
        const r = await labDocker(host, ["exec", container, "ping", ...(six ? ["-6"] : []), "-c1", "-W1", ip], { timeoutMs: 60_000 });
        if (r.code === 255) throw new Error(`${host}: ssh failed: ${r.stderr}`);
        if (r.code === 0) return;
        if (i === 4) {
            const addrs = await labDocker(host, ["exec", container, "ip", "addr"], { timeoutMs: 60_000 });
            assert.fail(`${container} on ${host} → ${ip} got no answer: ${why}\n${r.stdout}${r.stderr}\ninside ${container}:\n${addrs.stdout}`);
        }
    }
}

describe("dual stack and several pools: index.ts applied to the lab through the harness", function () {
    this.timeout(900_000);
    let lab: Lab;
    let engine: Engine;
    let cfg: Record<string, unknown>;
    let applied = false;
    const prior = new Map<string, HostSnapshot>();
    const HOSTS = ["node1", "node2", "node3"];

    before(async function () {
        this.timeout(900_000);
        if (process.getuid?.() !== 0) throw new Error("the lab tests need root: run them as root");
        lab = await labUp({ log });
        // Only this file's own objects (named ds*): removed, never the lab.
        for (const h of HOSTS) await removeLeftovers(h, PREFIX, log);
        const v6 = await labExec("node1", "sysctl -n net.ipv6.conf.all.disable_ipv6 net.ipv6.conf.eth0.disable_ipv6", { check: true, timeoutMs: 60_000 });
        log(`node1: net.ipv6.conf.{all,eth0}.disable_ipv6 = ${v6.stdout.trim().split("\n").join(", ")}`);
        cfg = config(lab);
        engine = new Engine({ log: (l) => log(`  ${l}`) });
        for (const h of HOSTS) prior.set(h, await snapshot(h));
    });

    after(async function () {
        this.timeout(600_000);
        await endLabTest(engine, log);
    });

    it("1. applies: the engines create the dual-stack network with IPv6 enabled and both pools, and the containers get their pinned addresses", async () => {
        const t = Date.now();
        const r = await engine.up(cfg);
        log(`applied in ${Date.now() - t} ms (${r.steps.length} resources)`);
        applied = true;
        assert.deepEqual(r.steps.filter((s) => s.type === TYPES.container).map((s) => `${s.kind} ${s.name}`).sort(), [
            "create ds_dual-node1-ds1",
            "create ds_dual-node1-ds3",
            "create ds_dual-node2-ds2",
            "create ds_pools-node3-ds4",
            "create ds_pools-node3-ds5",
            "create ds_pools-node3-ds6",
        ]);
        for (const h of ["node1", "node2"]) {
            const inspect = await docker(h, "network", "inspect", "--format", "{{.Driver}} {{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}},{{.Gateway}},{{.IPRange}} {{end}}", `${PREFIX}_dual`);
            log(`${h}: docker network inspect ${PREFIX}_dual: ${inspect}`);
            const slice = h === "node1" ? "198.18.0.192/29" : "198.18.0.200/29";
            assert.equal(inspect, `macvlan true 198.18.0.0/24,198.18.0.1,${slice} ${V6_SUBNET},2001:db8:18::1,2001:db8:18::100/120`);
        }
        const pools = await docker("node3", "network", "inspect", "--format", "{{.EnableIPv6}} {{range .IPAM.Config}}{{.Subnet}} {{end}}", `${PREFIX}_pools`);
        assert.equal(pools, `false 198.18.0.0/24 ${POOL2}`);
        const expected: [string, string, string, string][] = [
            ["node1", `${PREFIX}1`, "198.18.0.161", "2001:db8:18::161"],
            ["node2", `${PREFIX}2`, "198.18.0.162", "2001:db8:18::162"],
            ["node1", `${PREFIX}3`, "198.18.0.163", "2001:db8:18::163"],
        ];
        for (const [h, name, ip, ip6] of expected) {
            const fmt = `{{with index .NetworkSettings.Networks "${PREFIX}_dual"}}{{.IPAddress}} {{.GlobalIPv6Address}}/{{.GlobalIPv6PrefixLen}}{{end}}`;
            const got = await docker(h, "inspect", "--format", fmt, name);
            log(`${h}: ${name} ${got}`);
            assert.equal(got, `${ip} ${ip6}/64`);
            const inside = await docker(h, "exec", name, "ip", "-6", "addr", "show", "dev", "eth0");
            assert.match(inside, new RegExp(`inet6 ${ip6}/64 scope global`), `${name} has ${ip6} inside:\n${inside}`);
        }
    });

    it("1b. containers reach each other over IPv6 at their pinned addresses, across hosts and on one host", async () => {
        assert.ok(applied, "the apply failed");
        await assertReach("node1", `${PREFIX}1`, "2001:db8:18::162", "ds1 (node1) → ds2 (node2) over IPv6 across the switch");
        await assertReach("node2", `${PREFIX}2`, "2001:db8:18::161", "ds2 (node2) → ds1 (node1)");
        await assertReach("node2", `${PREFIX}2`, "2001:db8:18::163", "ds2 (node2) → ds3 (node1)");
        await assertReach("node1", `${PREFIX}1`, "2001:db8:18::163", "ds1 → ds3, both on node1 (bridge mode)");
        await assertReach("node1", `${PREFIX}1`, "198.18.0.162", "and over IPv4");
        // The control: an address of the pool that nobody holds does not answer (the pings above are real).
        const none = await labDocker("node1", ["exec", `${PREFIX}1`, "ping", "-6", "-c1", "-W1", "2001:db8:18::199"], { timeoutMs: 60_000 });
        assert.notEqual(none.code, 0, "2001:db8:18::199 is nobody's, yet it answered");
        log("IPv6 pings: ds1→ds2, ds2→ds1, ds2→ds3, ds1→ds3 answered; IPv4 ds1→ds2 answered; the unused 2001:db8:18::199 did not");
    });

    it("2. two IPv4 pools: containers pinned in the second pool get exactly those addresses and reach each other", async () => {
        assert.ok(applied, "the apply failed");
        for (const [name, ip] of [[`${PREFIX}4`, "198.18.0.164"], [`${PREFIX}5`, "198.19.0.10"], [`${PREFIX}6`, "198.19.0.11"]]) {
            const got = await docker("node3", "inspect", "--format", `{{with index .NetworkSettings.Networks "${PREFIX}_pools"}}{{.IPAddress}}/{{.IPPrefixLen}}{{end}}`, name);
            const inside = await docker("node3", "exec", name, "ip", "-4", "addr", "show", "dev", "eth0");
            log(`node3: ${name} ${got}`);
            assert.equal(got, `${ip}/24`);
            assert.match(inside, new RegExp(`inet ${ip.replace(/\./g, "\\.")}/24`));
        }
        await assertReach("node3", `${PREFIX}5`, "198.19.0.11", "ds5 → ds6 in the second pool");
        await assertReach("node3", `${PREFIX}4`, "198.18.0.162", "ds4 (first pool, node3) → ds2 (node2) on the LAN");
    });

    it("3. a re-run with the same config changes nothing", async () => {
        assert.ok(applied, "the apply failed");
        const again = await engine.up(cfg);
        assert.deepEqual(again.steps.filter((s) => s.kind !== "same").map((s) => `${s.kind} ${s.name}`), []);
    });

    it("4. destroy leaves every host as it was before the apply", async () => {
        assert.ok(applied, "the apply failed");
        const t = Date.now();
        const steps = await engine.destroy();
        log(`destroy took ${Date.now() - t} ms (${steps.length} deletes)`);
        assert.equal(engine.state.size, 0);
        await assertHostsAsBefore(HOSTS, prior, "before the apply");
    });

    it("5. the probe reads node2's global IPv6 address on its parent: a container's ip6 there is refused before anything registers", async () => {
        // Given for this case only, without duplicate address detection, and removed after.
        await labExec("node2", "ip -6 addr add 2001:db8:18::12/64 dev eth0 nodad", { check: true, timeoutMs: 60_000 });
        try {
            const bad = JSON.parse(JSON.stringify(cfg)) as Record<string, unknown>;
            const nets = bad["macvlan:networks"] as { containers: { ip6?: string }[] }[];
            nets[0].containers[0].ip6 = "2001:db8:18:0::12";
            const [regs, ops] = [engine.registrations, engine.operations.length];
            await assert.rejects(engine.up(bad), (e: unknown) => {
                const line = String(e instanceof Error ? e.message : e).split("\n").find((l) => l.includes(".ip6 "));
                log(`refused: ${line?.trim() ?? String(e)}`);
                assert.match(
                    line ?? "",
                    /networks\[0\]\.containers\[0\]\.ip6 2001:db8:18::12 is an address of host node2 \(hosts\[1\]\) itself: the probe found 2001:db8:18::12\/64 on its eth0, on the untagged LAN segment/,
                );
                return true;
            });
            assert.equal(engine.registrations, regs, "nothing was registered");
            assert.equal(engine.operations.length, ops, "no host was touched");
        } finally {
            await labExec("node2", "ip -6 addr del 2001:db8:18::12/64 dev eth0", { check: true, timeoutMs: 60_000 });
        }
        const now = await snapshot("node2");
        assert.deepEqual(now["addresses"], prior.get("node2")?.["addresses"], "node2's addresses are as before");
    });
});
