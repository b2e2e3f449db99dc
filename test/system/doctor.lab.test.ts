/**
 * The doctor against the lab (issue 13 item 4): a small stack applied to node1 and node2 through
 * the test harness (test/support/engine), then `npm run doctor` as a process on its stack file:
 *   1. all as applied: every feature ok, the network and both containers ok, exit 0;
 *   2. drift made by hand (promisc off on node1, a container removed on node2, another container's
 *      network disconnected): the doctor names each of them, exit 1, `--json` says the same;
 *   3. the doctor changed nothing: each host's whole state is the same before and after it ran;
 *   4. an up repairs the host's drift (its probe sees it), not the containers removed behind its
 *      back (the harness, like `pulumi up` without --refresh, does not read them back): the doctor
 *      shows both; destroy restores the hosts.
 * Needs root and the lab's Debian packages; fails (never skips) without them.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
// The mocks first (importing them sets them), then the code under test (the engine runs index.ts under them).
import "../support/mocks";
import { labExec, labUp, type Lab } from "../../lab/lab";
import type { DoctorReport } from "../../tools/doctor/report";
import { Engine } from "../support/engine/engine";
import { assertHostsAsBefore, endLabTest, labHostEntry, removeLeftovers, snapshot, type HostSnapshot } from "../support/passState";

const log = (l: string): void => void process.stdout.write(`      doctor: ${l}\n`);
const REPO = path.resolve(__dirname, "../..");
const IMAGE = "local/busybox:1";
/** Every name this file gives a Docker object starts with it. */
const PREFIX = "dr";
const HOSTS = ["node1", "node2"];

function config(lab: Lab): Record<string, unknown> {
    const c = (name: string, on: string, ip: string): Record<string, unknown> => ({ name, host: on, image: IMAGE, ip, command: ["sleep", "3600"] });
    return {
        "macvlan:sshPrivateKeyPath": lab.privateKeyPath,
        "macvlan:sshIdentityFile": lab.privateKeyPath,
        "macvlan:hosts": [labHostEntry(lab, "node1", { shim: { address: "198.18.0.249" } }), labHostEntry(lab, "node2")],
        "macvlan:networks": [
            {
                name: `${PREFIX}_lan`,
                subnet: "198.18.0.0/24",
                gateway: "198.18.0.1",
                ipRange: "198.18.0.224/28",
                sliceSize: 29,
                slices: { node1: 0, node2: 1 },
                containers: [c(`${PREFIX}1`, "node1", "198.18.0.171"), c(`${PREFIX}2`, "node2", "198.18.0.172"), c(`${PREFIX}3`, "node2", "198.18.0.173")],
            },
        ],
    };
}

/** `npm run doctor` on a stack file holding `cfg`, as a user runs it. */
function doctor(cfg: Record<string, unknown>, json: boolean): { code: number | null; stdout: string; stderr: string } {
    const dir = path.join(REPO, ".scratch", "doctor");
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, "Pulumi.doctor.yaml");
    writeFileSync(file, yaml.dump({ config: cfg }));
    const r = spawnSync("npm", ["run", "--silent", "doctor", "--", "--stack-file", file, ...(json ? ["--json"] : [])], { cwd: REPO, encoding: "utf8", timeout: 180_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("the doctor against the lab: what it sees on real hosts, and that it changes nothing", function () {
    this.timeout(900_000);
    let lab: Lab;
    let engine: Engine;
    let cfg: Record<string, unknown>;
    let applied = false;
    const prior = new Map<string, HostSnapshot>();

    before(async function () {
        this.timeout(900_000);
        if (process.getuid?.() !== 0) throw new Error("the lab tests need root: run them as root");
        lab = await labUp({ log });
        for (const h of HOSTS) await removeLeftovers(h, PREFIX, log);
        cfg = config(lab);
        engine = new Engine({ log: (l) => log(`  ${l}`) });
        for (const h of HOSTS) prior.set(h, await snapshot(h));
    });

    after(async function () {
        this.timeout(600_000);
        await endLabTest(engine, log);
    });

    it("1. as applied: every feature, the network and the containers ok; exit 0", async () => {
        await engine.up(cfg);
        applied = true;
        const r = doctor(cfg, false);
        log(`doctor (exit ${String(r.code)}):\n${r.stdout}${r.stderr}`);
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /^node1 +198\.18\.0\.11:22 +pinned +20\.10\.\S+ +eth0 UP mtu \d+ +ok +ok +- +ok +ok$/m);
        assert.match(r.stdout, /^node2 +198\.18\.0\.12:22 +pinned +20\.10\.\S+ +eth0 UP mtu \d+ +ok +ok +- +- +-$/m);
        for (const c of ["dr1", "dr2", "dr3"]) assert.match(r.stdout, new RegExp(`^${c} .* ok\\s*$`, "m"), c);
        assert.match(r.stdout, /All hosts, networks and containers are as the stack describes them\./);
    });

    it("2 and 3. drift made by hand: named with what differs (exit 1, and --json the same), and the hosts are the same after the doctor as before it", async () => {
        assert.ok(applied, "the apply failed");
        await labExec("node1", "ip link set dev eth0 promisc off", { check: true, timeoutMs: 60_000 });
        await labExec("node2", `docker rm -f ${PREFIX}2 && docker network disconnect -f ${PREFIX}_lan ${PREFIX}3`, { check: true, timeoutMs: 120_000 });
        const before = new Map<string, HostSnapshot>();
        for (const h of HOSTS) before.set(h, await snapshot(h));
        const text = doctor(cfg, false);
        log(`doctor after the drift (exit ${String(text.code)}):\n${text.stdout}${text.stderr}`);
        assert.equal(text.code, 1);
        assert.match(text.stdout, /^ {2}node1 promisc-eth0: drift \(promisc-off\)$/m);
        assert.match(text.stdout, /^dr2 +node2 .* MISSING\s*$/m);
        assert.match(text.stdout, /^dr3 +node2 .* DIFFERENT +not on dr_lan$/m);
        assert.match(text.stdout, /^dr1 +node1 .* ok\s*$/m);
        const json = doctor(cfg, true);
        assert.equal(json.code, 1);
        const report = JSON.parse(json.stdout) as DoctorReport;
        assert.equal(report.healthy, false);
        assert.deepEqual(
            report.hosts.flatMap((h) => h.features.filter((f) => f.state !== "ok").map((f) => `${h.host} ${f.key} ${f.state} ${f.codes.join(",")}`)),
            ["node1 promisc-eth0 drift promisc-off"],
        );
        assert.deepEqual(report.containers.map((c) => `${c.container} ${c.state}`), ["dr1 ok", "dr2 missing", "dr3 different"]);
        assert.deepEqual(report.networks.map((n) => `${n.network} ${n.host} ${n.state}`), ["dr_lan node1 ok", "dr_lan node2 ok"]);
        await assertHostsAsBefore(HOSTS, before, "before the doctor ran");
        log("the doctor changed nothing on node1 and node2 (links, addresses, routes, sysctls, the product's files, Docker objects)");
    });

    it("4. an up repairs the host's drift (its probe sees it) but not the containers gone behind its back (no refresh): the doctor shows both; destroy restores the hosts", async () => {
        assert.ok(applied, "the apply failed");
        const up = await engine.up(cfg);
        assert.deepEqual(up.steps.filter((x) => x.kind !== "same").map((x) => `${x.kind} ${x.name}`), ["update node1-promisc"]);
        const again = doctor(cfg, true);
        const report = JSON.parse(again.stdout) as DoctorReport;
        log(`after the up: ${report.hosts.map((h) => `${h.host} ${h.features.map((f) => `${f.key}:${f.state}`).join(" ")}`).join("; ")}; ${report.containers.map((c) => `${c.container} ${c.state}`).join(", ")}`);
        assert.ok(report.hosts.every((h) => h.features.every((f) => f.state === "ok")), "every feature is ok again");
        // Like \`pulumi up\` without --refresh, the harness does not read the containers back: the doctor is what shows them.
        assert.deepEqual(report.containers.map((c) => `${c.container} ${c.state}`), ["dr1 ok", "dr2 missing", "dr3 different"]);
        assert.equal(again.code, 1);
        await engine.destroy();
        await assertHostsAsBefore(HOSTS, prior, "before the apply");
    });
});
