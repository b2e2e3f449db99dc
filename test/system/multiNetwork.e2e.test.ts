/**
 * Containers on several macvlan networks, on real engines: index.ts applied to the lab's two QEMU
 * guests (vlan1, vlan2: Docker 20.10, 802.1Q) through the test harness (test/support/engine), with
 * two VLAN networks (VLANs 50 and 60: Docker before 27 allows one macvlan network per parent, so
 * each network has its own sub-interface) and a container on each guest that joins both.
 *
 * Asserted on the engines and inside the containers:
 *   1. each container has its pinned address and MAC on both networks;
 *   2. the default route goes where the config says. Docker 20.10 has no gateway priority: the
 *      network whose name sorts first gives it, whichever the container was connected to first.
 *      m1 is declared under mn_v60 (connected first) and says `defaultRoute: mn_v50`, so its route
 *      via mn_v50's gateway shows the engine's lexical rule, not the order;
 *   3. the containers reach each other on both VLANs, across hosts;
 *   4. a config asking for the default route from the network that sorts second is refused on
 *      these engines (probed 20.10), naming the rule, before anything is registered;
 *   5. a second run changes nothing; destroy puts both guests back as they were.
 * Needs root and the lab's Debian packages; fails (never skips) without them.
 */
import * as assert from "node:assert/strict";
// The mocks first (importing them sets them), then the code under test (the engine runs index.ts under them).
import "../support/mocks";
import * as pulumi from "@pulumi/pulumi";
import { labDocker, labUp, releaseLab, type Lab, type LabHost } from "../../lab/lab";
import { Engine, TYPES } from "../support/engine/engine";
import { diffViews, runtimeView, snapshot, type HostSnapshot } from "../support/hostState";
import { stepsOf } from "../support/passState";
import { clone } from "../support/stacks";

const log = (l: string): void => void process.stdout.write(`      multi-network: ${l}\n`);
const IMAGE = "local/busybox:1";
const SLEEP = ["sleep", "3600"];
const GUESTS = ["vlan1", "vlan2"] as const;

/** The two networks, and a container on each guest that joins both. */
function config(lab: Lab): Record<string, unknown> {
    const host = (name: string): Record<string, unknown> => {
        const h: LabHost | undefined = lab.hosts.find((x) => x.name === name);
        if (h === undefined) throw new Error(`the lab has no host ${name}`);
        return { name, address: h.address, port: h.port, user: h.user, hostKey: h.hostKey, parent: h.parent, vlans: [50, 60] };
    };
    return {
        "macvlan:sshPrivateKeyPath": lab.privateKeyPath,
        "macvlan:sshIdentityFile": lab.privateKeyPath,
        "macvlan:hosts": GUESTS.map(host),
        "macvlan:networks": [
            {
                name: "mn_v60",
                vlan: 60,
                subnet: "198.18.60.0/24",
                gateway: "198.18.60.1",
                ipRange: "198.18.60.128/25",
                sliceSize: 26,
                slices: { vlan1: 0, vlan2: 1 },
                containers: [
                    // Connected to mn_v60 first, default route from mn_v50 (the name that sorts first).
                    { name: "m1", host: "vlan1", image: IMAGE, command: SLEEP, ip: "198.18.60.11", networks: [{ network: "mn_v50", ip: "198.18.50.11" }], defaultRoute: "mn_v50" },
                ],
            },
            {
                name: "mn_v50",
                vlan: 50,
                subnet: "198.18.50.0/24",
                gateway: "198.18.50.1",
                ipRange: "198.18.50.128/25",
                sliceSize: 26,
                slices: { vlan1: 0, vlan2: 1 },
                containers: [{ name: "m2", host: "vlan2", image: IMAGE, command: SLEEP, ip: "198.18.50.12", networks: [{ network: "mn_v60", ip: "198.18.60.12" }] }],
            },
        ],
    };
}

async function docker(host: string, ...args: string[]): Promise<string> {
    return (await labDocker(host, args, { check: true, timeoutMs: 120_000 })).stdout.trim();
}

/** A container's address and MAC on a network, as the engine reports them. */
async function endpoint(host: string, container: string, network: string): Promise<{ ip: string; mac: string }> {
    const out = await docker(host, "inspect", "--format", `{{with index .NetworkSettings.Networks "${network}"}}{{.IPAddress}} {{.MacAddress}}{{end}}`, container);
    const [ip, mac] = out.split(" ");
    return { ip: ip ?? "", mac: mac ?? "" };
}

/** Inside a container (one exec): its addresses with their links' MACs, which link holds each, and its default routes. */
async function inside(host: string, container: string): Promise<{ macByIp: Map<string, string>; linkByIp: Map<string, string>; defaultRoutes: string[] }> {
    const out = await docker(host, "exec", container, "sh", "-c", "ip -o link; echo @@; ip -o -4 addr; echo @@; ip route");
    const [links, addrs, routes] = out.split("@@\n");
    const macOf = new Map<string, string>();
    for (const l of links.split("\n")) {
        const m = /^\d+: ([^:@]+)[@:].*link\/ether ([0-9a-f:]+)/.exec(l);
        if (m !== null) macOf.set(m[1], m[2]);
    }
    const macByIp = new Map<string, string>();
    const linkByIp = new Map<string, string>();
    for (const l of addrs.split("\n")) {
        const m = /^\d+: (\S+)\s+inet (\d+\.\d+\.\d+\.\d+)\//.exec(l);
        if (m === null || m[1] === "lo") continue;
        macByIp.set(m[2], macOf.get(m[1]) ?? "?");
        linkByIp.set(m[2], m[1]);
    }
    // (busybox `ip route show default` lists every route: filter here.)
    const defaultRoutes = (routes ?? "").split("\n").map((l) => l.trim()).filter((l) => l.startsWith("default "));
    return { macByIp, linkByIp, defaultRoutes };
}

async function reaches(host: string, container: string, ip: string): Promise<boolean> {
    for (let i = 0; i < 3; i++) {
        const r = await labDocker(host, ["exec", container, "ping", "-c1", "-W1", ip], { timeoutMs: 60_000 });
        if (r.code === 255) throw new Error(`${host}: ssh failed: ${r.stderr}`);
        if (r.code === 0) return true;
    }
    return false;
}

describe("containers on several macvlan networks, on the lab's engines", function () {
    this.timeout(900_000);
    let lab: Lab;
    let engine: Engine;
    let cfg: Record<string, unknown>;
    const prior = new Map<string, HostSnapshot>();
    let applied = false;

    before(async function () {
        this.timeout(600_000);
        if (process.getuid?.() !== 0) throw new Error("the lab tests need root: run them as root (sudo npm test)");
        lab = await labUp({ log });
        for (const g of GUESTS) {
            const left = await docker(g, "ps", "-aq", "--filter", "name=^/m[12]$");
            assert.equal(left, "", `${g} has containers m1/m2 left by an earlier run`);
            prior.set(g, await snapshot(g));
        }
        cfg = config(lab);
        engine = new Engine({ log: (l) => log(`  ${l}`) });
    });

    after(async function () {
        this.timeout(600_000);
        try {
            if (engine !== undefined && engine.state.size > 0) await engine.destroy();
        } finally {
            engine?.close();
            releaseLab();
        }
    });

    it("4. refuses a default route from the network whose name sorts second, on these engines (probed), before anything is registered", async () => {
        const bad = clone(cfg);
        const m1 = ((bad["macvlan:networks"] as Record<string, unknown>[])[0]["containers"] as Record<string, unknown>[])[0];
        m1["defaultRoute"] = "mn_v60";
        const regs = engine.registrations;
        await assert.rejects(engine.up(bad), (e: unknown) => {
            assert.ok(pulumi.RunError.isInstance(e), String(e));
            assert.match(
                e.message,
                /networks\[0\]\.containers\[0\]\.defaultRoute mn_v60 cannot give the default route: host vlan1 runs Docker 20\.10[^ ]* \(API [0-9.]+, found by the probe\): Docker before 28 has no gateway priority/,
            );
            return true;
        });
        assert.equal(engine.registrations, regs, "nothing was registered");
        assert.equal(engine.state.size, 0);
    });

    it("applies: one container per guest, each on both networks", async () => {
        const r = await engine.up(cfg);
        assert.deepEqual(stepsOf(r, "create", TYPES.container), ["mn_v50-vlan2-m2", "mn_v60-vlan1-m1"]);
        assert.deepEqual(stepsOf(r, "create", TYPES.network), ["mn_v50-vlan1", "mn_v50-vlan2", "mn_v60-vlan1", "mn_v60-vlan2"]);
        applied = true;
    });

    it("1. each container has its pinned address and MAC on both networks, as the engine and the container see them", async () => {
        assert.ok(applied, "the apply failed");
        const want = [
            { host: "vlan1", c: "m1", net: "mn_v60", ip: "198.18.60.11", mac: "02:42:c6:12:3c:0b" },
            { host: "vlan1", c: "m1", net: "mn_v50", ip: "198.18.50.11", mac: "02:42:c6:12:32:0b" },
            { host: "vlan2", c: "m2", net: "mn_v50", ip: "198.18.50.12", mac: "02:42:c6:12:32:0c" },
            { host: "vlan2", c: "m2", net: "mn_v60", ip: "198.18.60.12", mac: "02:42:c6:12:3c:0c" },
        ];
        const views = new Map<string, Awaited<ReturnType<typeof inside>>>();
        for (const c of ["m1", "m2"]) views.set(c, await inside(c === "m1" ? "vlan1" : "vlan2", c));
        for (const w of want) {
            assert.deepEqual(await endpoint(w.host, w.c, w.net), { ip: w.ip, mac: w.mac }, `${w.c} on ${w.net}`);
            const seen = views.get(w.c) ?? assert.fail(`no view of ${w.c}`);
            assert.equal(seen.macByIp.get(w.ip), w.mac, `${w.c} has ${w.ip} on the link with MAC ${w.mac} (inside: ${JSON.stringify([...seen.macByIp])})`);
            assert.equal(seen.macByIp.size, 2, `${w.c} has exactly two addresses`);
        }
    });

    it("2. the default route goes where the config says: via mn_v50's gateway, on the link that holds the mn_v50 address", async () => {
        assert.ok(applied, "the apply failed");
        for (const [host, c, ip] of [
            ["vlan1", "m1", "198.18.50.11"],
            ["vlan2", "m2", "198.18.50.12"],
        ] as const) {
            const seen = await inside(host, c);
            log(`${c}: ${seen.defaultRoutes.join("; ")} (${ip} on ${seen.linkByIp.get(ip) ?? "?"})`);
            assert.equal(seen.defaultRoutes.length, 1, `${c} has one default route: ${JSON.stringify(seen.defaultRoutes)}`);
            const m = /^default via (\S+) dev (\S+)/.exec(seen.defaultRoutes[0]);
            assert.ok(m !== null, `${c}'s default route has a gateway and a link: ${seen.defaultRoutes[0]}`);
            assert.equal(m[1], "198.18.50.1", `${c}'s default route is via mn_v50's gateway`);
            assert.equal(m[2], seen.linkByIp.get(ip), `${c}'s default route leaves through its mn_v50 link, the one holding ${ip}`);
        }
    });

    it("3. the containers reach each other on both VLANs, across hosts", async () => {
        assert.ok(applied, "the apply failed");
        assert.ok(await reaches("vlan1", "m1", "198.18.50.12"), "m1 → m2 on VLAN 50");
        assert.ok(await reaches("vlan1", "m1", "198.18.60.12"), "m1 → m2 on VLAN 60");
        assert.ok(await reaches("vlan2", "m2", "198.18.60.11"), "m2 → m1 on VLAN 60");
    });

    it("5. a second run changes nothing; destroy puts both guests back as they were", async () => {
        assert.ok(applied, "the apply failed");
        const again = await engine.up(cfg);
        assert.deepEqual(
            again.steps.filter((s) => s.kind !== "same").map((s) => `${s.kind} ${s.name}`),
            [],
        );
        await engine.destroy();
        for (const g of GUESTS) {
            const before = prior.get(g);
            if (before === undefined) throw new Error(`no snapshot of ${g}`);
            assert.deepEqual(diffViews(runtimeView(before), runtimeView(await snapshot(g))), [], `${g} is as before the apply`);
            assert.equal(await docker(g, "network", "ls", "-q", "--filter", "driver=macvlan"), "", `${g} has no macvlan network left`);
        }
    });
});
