/**
 * System test of the lab itself (lab/): it comes up, its hosts are what they claim to be
 * over real SSH, each engine is its own, packets cross the switch (and VLANs cross it tagged),
 * hairpin switches, a killed run is cleaned up, and labDown leaves nothing behind.
 * Needs root and the Debian packages of .ci/run; fails (never skips) without them.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { parseStackConfig } from "../../components/config/parse";
import {
    ensureImage,
    findLeftovers,
    getHairpin,
    hostChanges,
    LAB_DIR,
    LAB_IMAGE,
    LAB_PREFIX,
    Lab,
    labDocker,
    labDown,
    labExec,
    labUp,
    readLab,
    releaseLab,
    setHairpin,
} from "../../lab/lab";
import { alive, processToken } from "../../lab/proc";

const REPO = path.resolve(__dirname, "../..");
const log = (l: string) => process.stdout.write(`      lab: ${l}\n`);

/** Run docker on a host through ssh:// and insist on success. */
async function docker(host: string, ...args: string[]): Promise<string> {
    return (await labDocker(host, args, { check: true, timeoutMs: 180_000 })).stdout.trim();
}

/** Exit code of a command in a container. */
async function inContainer(host: string, container: string, ...cmd: string[]): Promise<number> {
    return (await labDocker(host, ["exec", container, ...cmd], { timeoutMs: 60_000 })).code;
}

/** A macvlan network on a host's parent. */
async function macvlanNetwork(host: string, name: string, subnet: string, gateway: string, parent: string, ...extra: string[]): Promise<void> {
    await docker(host, "network", "create", "-d", "macvlan", "--subnet", subnet, "--gateway", gateway, "-o", `parent=${parent}`, ...extra, name);
}

async function sleeper(host: string, name: string, network: string, ip: string): Promise<void> {
    await docker(host, "run", "-d", "--name", name, "--network", network, "--ip", ip, LAB_IMAGE, "sleep", "3600");
}

/** Remove test containers and networks (names mvlt*) from a host; ignores what is not there. */
async function cleanDocker(host: string): Promise<void> {
    await labExec(
        host,
        "docker ps -aq --filter name=mvlt | xargs -r docker rm -f >/dev/null; " +
            "docker network ls -q --filter name=mvlt | xargs -r docker network rm >/dev/null; true",
        { timeoutMs: 180_000 },
    );
}

/** When a process started, in ms since the epoch (from /proc; undefined when it is gone). */
function startedAt(pid: number): number | undefined {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        const ticks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
        const uptime = Number(fs.readFileSync("/proc/uptime", "utf8").split(" ")[0]);
        return Date.now() - uptime * 1000 + (ticks / 100) * 1000;
    } catch {
        return undefined;
    }
}

describe("the lab (lab/)", function () {
    this.timeout(300_000);
    let lab: Lab;
    // Let another process (another engineer's test run) have the lab as soon as this file is done.
    after(releaseLab);

    describe("up", () => {
        it("refuses to run without root, saying so", () => {
            const r = spawnSync(path.join(REPO, "node_modules/.bin/tsx"), ["lab/cli.ts", "up"], {
                cwd: REPO,
                uid: 65534,
                gid: 65534,
                env: { PATH: `${path.join(REPO, "node_modules/.bin")}:/usr/bin:/bin`, HOME: "/tmp" },
                encoding: "utf8",
                timeout: 60_000,
            });
            assert.equal(r.status, 1, r.stderr);
            assert.match(r.stderr, /needs root/);
            assert.match(r.stderr, /sudo npm run lab:up/);
        });

        it("comes up (or is reused) with netns hosts and QEMU guests, and says how the guests boot", async () => {
            const t0 = Date.now();
            lab = await labUp({ log });
            log(`labUp took ${Date.now() - t0} ms`);
            assert.deepEqual(
                lab.hosts.map((h) => [h.name, h.kind, h.address, h.parent, h.docker, h.vlanCapable]),
                [
                    ["node1", "netns", "198.18.0.11", "eth0", true, false],
                    ["node2", "netns", "198.18.0.12", "eth0", true, false],
                    ["node3", "netns", "198.18.0.13", "eth0", true, false],
                    ["vlan1", "qemu", "198.18.0.21", "eth0", true, true],
                    ["vlan2", "qemu", "198.18.0.22", "eth0", true, true],
                ],
            );
            assert.deepEqual(readLab(), lab);
            assert.ok(lab.guestBoot !== undefined, "the lab records how its guests boot");
            assert.match(lab.guestBoot.accel, /^(kvm|tcg)$/);
            assert.ok(lab.guestBoot.description.includes(`QEMU ${lab.guestBoot.accel.toUpperCase()} guests`), lab.guestBoot.description);
            log(`guest kind: ${lab.guestBoot.description}`);
            assert.match(lab.privateKey, /BEGIN OPENSSH PRIVATE KEY/);
            assert.ok(lab.privateKeyPath.startsWith(LAB_DIR + "/"), "key material stays outside the repo");
            assert.equal(fs.statSync(lab.privateKeyPath).mode & 0o077, 0);
            for (const h of lab.hosts) assert.match(h.hostKey, /^ssh-ed25519 [A-Za-z0-9+/=]+$/);
        });
    });

    describe("hosts", () => {
        it("ssh to each host runs in that host's own namespaces", async () => {
            const kernel = fs.readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
            await Promise.all(
                lab.hosts.map(async (h) => {
                    const r = await labExec(
                        h.name,
                        `hostname; ip -4 -o addr show dev ${h.parent} | awk '{print $4}'; ` +
                            `ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort | tr '\\n' ' '; echo; ` +
                            `uname -r; echo "$HOME:$(ls -A ~ | wc -l)"`,
                        { check: true },
                    );
                    const [name, addr, links, release, home] = r.stdout.trim().split("\n");
                    assert.equal(name, h.name);
                    assert.equal(addr, `${h.address}/24`, `${h.name} has only its own address on ${h.parent}`);
                    assert.equal(home, "/root:0", `${h.name}: root's home is its own, empty (no ~/.bashrc)`);
                    if (h.kind === "netns") {
                        assert.equal(links?.trim(), "eth0 lo", `${h.name} sees only its own links`);
                        assert.equal(release, kernel);
                    } else {
                        assert.equal(release, lab.guestBoot?.kernel, `${h.name} runs the Debian kernel the lab booted`);
                        assert.notEqual(release, kernel);
                    }
                }),
            );
            // A wrong host key is refused: the pin is real.
            const kh = fs.readFileSync(lab.knownHostsPath, "utf8");
            try {
                fs.writeFileSync(lab.knownHostsPath, kh.replace(lab.hosts[0].hostKey, lab.hosts[1].hostKey));
                const r = await labExec("node1", "true");
                assert.equal(r.code, 255);
                assert.match(r.stderr, /Host key verification failed/);
            } finally {
                fs.writeFileSync(lab.knownHostsPath, kh);
            }
        });

        it("the files a host writes stay on that host", async () => {
            await labExec("node1", "echo lab > /etc/pulumi-macvlan/probe && echo lab > /etc/mvl-lab-probe", { check: true });
            assert.equal(fs.existsSync("/etc/pulumi-macvlan/probe"), false);
            assert.equal(fs.existsSync("/etc/mvl-lab-probe"), false);
            const r = await labExec("node2", "ls /etc/pulumi-macvlan/probe /etc/mvl-lab-probe 2>&1; true", { check: true });
            assert.match(r.stdout, /No such file/);
            await labExec("node1", "rm -f /etc/pulumi-macvlan/probe /etc/mvl-lab-probe", { check: true });
            const g = await labExec("vlan1", "touch /etc/mvl-lab-probe && ls /etc/mvl-lab-probe", { check: true });
            assert.match(g.stdout, /mvl-lab-probe/);
            assert.equal(fs.existsSync("/etc/mvl-lab-probe"), false, "the guest writes its overlay, not the machine");
            await labExec("vlan1", "rm -f /etc/mvl-lab-probe", { check: true });
        });

        it("kernel-wide settings stay the machine's: /proc/sys is read-only on netns hosts except net", async () => {
            // `touch` opens without writing: harmless even if the protection were missing.
            const r = await labExec("node1", "touch /proc/sys/kernel/pid_max; echo $?; sysctl -w net.ipv4.conf.eth0.rp_filter=2 && sysctl -n net.ipv4.conf.eth0.rp_filter");
            assert.deepEqual(r.stdout.trim().split("\n"), ["1", "net.ipv4.conf.eth0.rp_filter = 2", "2"], r.stderr);
            assert.match(r.stderr, /Read-only file system/);
            const other = await labExec("node2", "sysctl -n net.ipv4.conf.eth0.rp_filter", { check: true });
            assert.notEqual(other.stdout.trim(), "2", "net sysctls are per host");
            await labExec("node1", "sysctl -w net.ipv4.conf.eth0.rp_filter=" + other.stdout.trim(), { check: true });
        });

        it("docker -H ssh:// reaches each host's own engine", async () => {
            const infos = await Promise.all(
                lab.hosts.map(async (h) => ({
                    h,
                    info: (await docker(h.name, "info", "--format", "{{.ID}} {{.Name}} {{.ServerVersion}}")).split(" "),
                })),
            );
            for (const { h, info } of infos) {
                assert.equal(info[1], h.name, "the engine answering is the one on that host");
                assert.match(info[2] ?? "", /^20\.10\./);
                if (h.dockerSocket) {
                    // The same engine through its socket on the machine.
                    const local = spawnSync("/usr/bin/docker", ["-H", `unix://${h.dockerSocket}`, "info", "--format", "{{.ID}}"], {
                        encoding: "utf8",
                    });
                    assert.equal(local.stdout.trim(), info[0]);
                }
            }
            assert.equal(new Set(infos.map((x) => x.info[0])).size, lab.hosts.length, "distinct engine IDs");
            // The far side's `docker` serves dial-stdio for a client of another version too.
            if (fs.existsSync("/usr/local/bin/docker")) {
                const r = spawnSync("/usr/local/bin/docker", ["-H", "ssh://root@198.18.0.11", "info", "--format", "{{.Name}}"], {
                    encoding: "utf8",
                    env: { PATH: `${lab.binDir}:/usr/bin:/bin` },
                });
                assert.equal(r.stdout.trim(), "node1", r.stderr);
            }
            for (const h of lab.hosts) assert.match(await ensureImage(h.name), /^sha256:/);
        });
    });

    describe("macvlan across the switch", () => {
        after(async () => {
            await Promise.all(["node1", "node2", "node3"].map(cleanDocker));
        });

        it("a container on node1 pings one on node2 (and the router); node1 itself cannot reach its own", async () => {
            for (const [host, ip] of [["node1", "198.18.0.201"], ["node2", "198.18.0.202"]] as const) {
                await macvlanNetwork(host, "mvlt_lan", "198.18.0.0/24", "198.18.0.1", "eth0", "--ip-range", "198.18.0.192/28");
                await sleeper(host, `mvlt-${host}`, "mvlt_lan", ip);
            }
            assert.equal(await inContainer("node1", "mvlt-node1", "ping", "-c", "3", "-W", "3", "198.18.0.202"), 0);
            assert.equal(await inContainer("node1", "mvlt-node1", "ping", "-c", "3", "-W", "3", "198.18.0.1"), 0);
            // The macvlan rule the product's shim exists for: another host reaches the container, its own host does not.
            assert.equal((await labExec("node2", "busybox ping -c 3 -W 3 198.18.0.201")).code, 0);
            assert.notEqual((await labExec("node1", "busybox ping -c 1 -W 2 198.18.0.201")).code, 0);
        });

        it("hairpin switches per port: VEPA containers on one host talk only through a hairpin port", async () => {
            assert.equal(await getHairpin("node3"), false);
            await macvlanNetwork("node3", "mvlt_vepa", "198.18.0.0/24", "198.18.0.1", "eth0", "-o", "macvlan_mode=vepa");
            await sleeper("node3", "mvlt-va", "mvlt_vepa", "198.18.0.211");
            await sleeper("node3", "mvlt-vb", "mvlt_vepa", "198.18.0.212");
            const ping = () => inContainer("node3", "mvlt-va", "ping", "-c", "1", "-W", "2", "198.18.0.212");
            assert.notEqual(await ping(), 0, "no hairpin: the switch does not send the frame back");
            try {
                await setHairpin("node3", true);
                assert.equal(await getHairpin("node3"), true);
                assert.equal(await inContainer("node3", "mvlt-va", "ping", "-c", "3", "-W", "3", "198.18.0.212"), 0, "hairpin: the switch reflects it");
            } finally {
                await setHairpin("node3", false);
            }
            assert.equal(await getHairpin("node3"), false);
        });
    });

    describe("802.1Q on the QEMU guests", () => {
        after(async () => {
            await Promise.all(["vlan1", "vlan2", "node1"].map(cleanDocker));
            await labExec("node1", "ip addr del 198.18.50.11/24 dev eth0 2>/dev/null; true");
            await Promise.all(["vlan1", "vlan2"].map((g) => labExec(g, "ip link del eth0.50 2>/dev/null; true")));
        });

        it("eth0.50 carries tagged traffic between the guests, apart from the untagged LAN", async () => {
            for (const [g, ip] of [["vlan1", "198.18.50.21"], ["vlan2", "198.18.50.22"]] as const) {
                await labExec(g, `ip link add link eth0 name eth0.50 type vlan id 50 && ip addr add ${ip}/24 dev eth0.50 && ip link set eth0.50 up`, {
                    check: true,
                });
            }
            const d = await labExec("vlan1", "ip -d -j link show eth0.50", { check: true });
            const info = (JSON.parse(d.stdout) as { linkinfo: { info_kind: string; info_data: { protocol: string; id: number } } }[])[0].linkinfo;
            assert.deepEqual([info.info_kind, info.info_data.protocol, info.info_data.id], ["vlan", "802.1Q", 50]);
            assert.equal((await labExec("vlan1", "busybox ping -c 3 -W 3 198.18.50.22")).code, 0);
            // The same subnet untagged (node1's kernel has no 802.1Q) does not reach the VLAN.
            await labExec("node1", "ip addr add 198.18.50.11/24 dev eth0", { check: true });
            assert.notEqual((await labExec("node1", "busybox ping -c 1 -W 2 198.18.50.22")).code, 0);
            // And the machine's own kernel refuses VLAN links: why the guests exist.
            assert.notEqual((await labExec("node1", "ip link add link eth0 name eth0.50 type vlan id 50")).code, 0);
            await labExec("node1", "ip addr del 198.18.50.11/24 dev eth0", { check: true });
        });

        it("docker in the guests: macvlan containers on eth0.50 reach each other across guests, not the untagged network", async () => {
            const t0 = Date.now();
            await Promise.all(
                ([["vlan1", "198.18.50.101"], ["vlan2", "198.18.50.102"]] as const).map(async ([g, ip]) => {
                    await macvlanNetwork(g, "mvlt_v50", "198.18.50.0/24", "198.18.50.1", "eth0.50");
                    await sleeper(g, `mvlt-${g}`, "mvlt_v50", ip);
                }),
            );
            // An untagged container with an address in the same subnet, on node1.
            await macvlanNetwork("node1", "mvlt_v50u", "198.18.50.0/24", "198.18.50.1", "eth0");
            await sleeper("node1", "mvlt-untagged", "mvlt_v50u", "198.18.50.201");
            log(`VLAN containers up in ${Date.now() - t0} ms`);
            assert.equal(await inContainer("vlan1", "mvlt-vlan1", "ping", "-c", "3", "-W", "3", "198.18.50.102"), 0);
            assert.notEqual(await inContainer("vlan1", "mvlt-vlan1", "ping", "-c", "1", "-W", "2", "198.18.50.201"), 0);
            assert.notEqual(await inContainer("node1", "mvlt-untagged", "ping", "-c", "1", "-W", "2", "198.18.50.102"), 0);
        });
    });

    describe("stack and reuse", () => {
        it("writes stacks/Pulumi.lab.yaml, which the program's validation accepts", () => {
            const doc = yaml.load(fs.readFileSync(lab.stackPath, "utf8")) as { config: Record<string, unknown> };
            assert.equal(doc.config["macvlan:sshPrivateKeyPath"], lab.privateKeyPath);
            assert.equal(doc.config["macvlan:sshIdentityFile"], lab.privateKeyPath);
            const model = parseStackConfig({ hosts: doc.config["macvlan:hosts"], networks: doc.config["macvlan:networks"] });
            assert.deepEqual(
                model.hosts.map((h) => [h.name, h.address, h.parent, h.hostKey]),
                lab.hosts.map((h) => [h.name, h.address, h.parent, h.hostKey]),
            );
            assert.deepEqual(
                model.networks.map((n) => [n.name, n.vlan, n.hosts]),
                [
                    ["lab_lan", undefined, ["node1", "node2"]],
                    ["lab_v50", 50, ["vlan1", "vlan2"]],
                ],
            );
            const tracked = spawnSync("git", ["ls-files", "--error-unmatch", "stacks/Pulumi.lab.yaml"], { cwd: REPO });
            assert.notEqual(tracked.status, 0, "the lab stack is not in git");
        });

        it("hostChanges names what a test left on a host", async () => {
            assert.deepEqual(await hostChanges("node2"), []);
            await labExec("node2", "ip addr add 198.18.0.99/32 dev eth0 && ip link set eth0 promisc on", { check: true });
            try {
                const changes = await hostChanges("node2");
                assert.ok(changes.some((l) => /^\+addresses: eth0.*198\.18\.0\.99\/32/.test(l)), changes.join("\n"));
                assert.ok(changes.some((l) => /^\+links: eth0.*PROMISC/.test(l)), changes.join("\n"));
            } finally {
                await labExec("node2", "ip addr del 198.18.0.99/32 dev eth0; ip link set eth0 promisc off", { check: true });
            }
            assert.deepEqual(await hostChanges("node2"), []);
        });

        it("labUp again reuses the healthy lab, keeping the secrets settings `pulumi stack init` wrote into the stack file", async () => {
            // What `pulumi stack select --create lab` adds with the passphrase provider.
            const salt = "encryptionsalt: v1:aW5zZWN1cmU=:v1:Zm9yIHRlc3Rz:AAAA";
            // (An earlier, killed run of this test may have left its salt: start from none.)
            const original = fs
                .readFileSync(lab.stackPath, "utf8")
                .split("\n")
                .filter((l) => l !== salt)
                .join("\n");
            fs.writeFileSync(lab.stackPath, original.replace("\nconfig:\n", `\n${salt}\nconfig:\n`));
            const t0 = Date.now();
            const again = await labUp({ log });
            log(`reuse took ${Date.now() - t0} ms`);
            assert.equal(again.createdAt, lab.createdAt);
            assert.deepEqual(
                again.hosts.map((h) => h.pids),
                lab.hosts.map((h) => h.pids),
            );
            const text = fs.readFileSync(lab.stackPath, "utf8");
            assert.equal(text.split("\n").filter((l) => l === salt).length, 1, "the salt is kept, once");
            const doc = yaml.load(text) as Record<string, unknown>;
            assert.equal(doc["encryptionsalt"], salt.slice("encryptionsalt: ".length));
            assert.ok(typeof doc["config"] === "object", "still a stack file");
            fs.writeFileSync(lab.stackPath, original);
        });
    });

    describe("killed run and down", () => {
        it("labUp after a killed run (state file gone, everything still running) cleans up and rebuilds", async () => {
            // Each old process by pid and start time: a pid may be reused meanwhile (pid_max 32768).
            const old = lab.hosts.flatMap((h) => Object.values(h.pids)).map((pid) => ({ pid, token: processToken(pid) }));
            assert.ok(old.every((o) => o.token !== undefined), "every lab process is running before the killed run");
            fs.rmSync(path.join(LAB_DIR, "lab.json"));
            lab = await labUp({ log });
            for (const { pid, token } of old) assert.ok(!alive(pid) || processToken(pid) !== token, `old lab process ${pid} is gone`);
            assert.equal((await labExec("node1", "hostname", { check: true })).stdout.trim(), "node1");
        });

        it("labDown leaves nothing behind", async () => {
            // Something for it to clean: a running container.
            await docker("node2", "run", "-d", "--name", "mvlt-left", LAB_IMAGE, "sleep", "3600");
            const t0 = Date.now();
            await labDown({ log });
            const done = Date.now();
            log(`labDown took ${done - t0} ms`);
            // Processes another test process may start meanwhile (e.g. a Docker ssh helper) are not labDown's.
            const before = (pid: number) => (startedAt(pid) ?? Infinity) < done - 50;
            const left = await findLeftovers();
            assert.deepEqual(
                { ...left, processes: left.processes.filter((x) => before(x.pid)) },
                { netns: [], links: [], processes: [], mounts: [], cgroups: [], files: [] },
            );
            // Independently of findLeftovers: the machine's own view.
            const netns = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
            assert.ok(!netns.split("\n").some((l) => l.startsWith(`${LAB_PREFIX}-`)), netns);
            const links = spawnSync("ip", ["-o", "link"], { encoding: "utf8" }).stdout;
            assert.ok(!links.includes(`${LAB_PREFIX}-`), links);
            const procs = fs
                .readdirSync("/proc")
                .filter((d) => /^\d+$/.test(d) && alive(Number(d)) && before(Number(d)))
                .filter((d) => {
                    try {
                        return fs.readFileSync(`/proc/${d}/cmdline`, "utf8").includes(`${LAB_DIR}/`);
                    } catch {
                        return false;
                    }
                });
            assert.deepEqual(procs, []);
            assert.ok(!fs.readFileSync("/proc/self/mountinfo", "utf8").includes(LAB_DIR));
            assert.equal(fs.existsSync(LAB_DIR), false);
        });
    });
});
