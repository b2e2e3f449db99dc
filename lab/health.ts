/**
 * Whether a recorded lab can be reused (labUp): its daemons, switch and hosts are alive and every
 * host is as it was right after the build (hostSnapshot, hostChanges), and it was built with the
 * same options by the same lab code (sameSettings, codeHash).
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { ensureImage, labExec } from "./access";
import { alive, run } from "./proc";
import { labHost, readState, withKey } from "./state";
import { labNetns } from "./teardown";
import { BRIDGE, SWITCH_NETNS } from "./types";
import type { LabHost, LabSettings, LabState } from "./types";

/** Why a recorded lab cannot be reused, or undefined when it is healthy. */
export async function healthProblem(st: LabState): Promise<string | undefined> {
    if (!fs.existsSync(st.privateKeyPath) || !fs.existsSync(st.sshConfigPath)) return "keys missing";
    const netns = new Set(await labNetns());
    if (!netns.has(SWITCH_NETNS)) return "no switch";
    for (const h of st.hosts) {
        if (h.netns && !netns.has(h.netns)) return `${h.name}: netns missing`;
        const dead = Object.entries(h.pids).find(([, pid]) => !alive(pid));
        if (dead) return `${h.name}: ${dead[0]} is not running`;
    }
    const hairpins = (await switchPorts()).filter((port) => port.hairpin).map((port) => port.ifname);
    if (hairpins.length > 0) return `hairpin left on: ${hairpins.join(" ")}`;
    const problems = await Promise.all(
        st.hosts.map(async (h) => {
            try {
                if (h.docker) await ensureImage(h.name);
                const changes = diffLines(st.baseline[h.name] ?? "", await hostSnapshot(h));
                return changes.length > 0 ? `${h.name} is not as built: ${changes.slice(0, 3).join("; ")}` : undefined;
            } catch (e) {
                return `${h.name}: ${(e as Error).message.split("\n")[0]}`;
            }
        }),
    );
    return problems.find((x) => x !== undefined);
}

/**
 * What a test can leave behind on a host, as text: links (with flags such as PROMISC), addresses,
 * routes, the IPv4 forwarding/rp_filter/ARP sysctls, the files in the directories host scripts
 * write, Docker containers and networks. Not images (tests import their own) nor kernel modules
 * (tools load them on demand and nothing unloads them).
 */
function snapshotScript(h: Pick<LabHost, "kind" | "docker">): string {
    const sections = [
        ["links", "ip -br link | sort"],
        ["addresses", "ip -br addr | sort"],
        ["routes", "ip route show table all | sort"],
        [
            "sysctls",
            "cd /proc/sys/net/ipv4 && grep -r . ip_forward conf/*/forwarding conf/*/rp_filter conf/*/arp_ignore conf/*/arp_announce conf/*/proxy_arp | sort",
        ],
        ["files", "ls -lAR --time-style=+ /etc/systemd/system /etc/sysctl.d /etc/pulumi-macvlan /var/lib/pulumi-macvlan /run/pulumi-macvlan.lock 2>&1"],
        ...(h.docker
            ? [
                  ["containers", "docker ps -a --format '{{.Names}} {{.Image}} {{.Status}}' | sed 's/ Up .*/ Up/' | sort"],
                  ["networks", "docker network ls --format '{{.Name}} {{.Driver}}' | sort"],
              ]
            : []),
    ];
    return sections.map(([name, cmd]) => `echo '## ${name}'; ${cmd}`).join("; ");
}

/** A host's state as text (see snapshotScript), read over SSH. */
export async function hostSnapshot(h: Pick<LabHost, "name" | "kind" | "docker">): Promise<string> {
    return (await labExec(h.name, snapshotScript(h), { check: true, timeoutMs: 60_000 })).stdout;
}

/** Lines only in `a` (prefixed "-") or only in `b` ("+"), with the section each is in. */
function diffLines(a: string, b: string): string[] {
    const tagged = (text: string) => {
        let section = "";
        return text.split("\n").map((l) => {
            if (l.startsWith("## ")) section = l.slice(3);
            return `${section}: ${l}`;
        });
    };
    const [ta, tb] = [tagged(a), tagged(b)];
    const [sa, sb] = [new Set(ta), new Set(tb)];
    return [...ta.filter((l) => !sb.has(l)).map((l) => `-${l}`), ...tb.filter((l) => !sa.has(l)).map((l) => `+${l}`)];
}

/**
 * How a lab host differs from its state right after labUp (empty: unchanged), line by line with
 * the section (links, addresses, routes, sysctls, files, containers, networks).
 * Tests can use it to check that they cleaned up; labUp rebuilds a lab whose hosts changed.
 */
export async function hostChanges(hostName: string): Promise<string[]> {
    const st = readState();
    if (!st) throw new Error("no lab is running");
    const h = labHost(hostName, withKey(st));
    return diffLines(st.baseline[h.name] ?? "", await hostSnapshot(h));
}

async function switchPorts(): Promise<{ ifname: string; hairpin: boolean }[]> {
    const r = await run("/usr/sbin/ip", ["-n", SWITCH_NETNS, "-j", "-d", "link", "show", "master", BRIDGE]);
    return (JSON.parse(r.stdout) as { ifname: string; linkinfo?: { info_slave_data?: { hairpin?: boolean } } }[]).map((l) => ({
        ifname: l.ifname,
        hairpin: l.linkinfo?.info_slave_data?.hairpin === true,
    }));
}

/**
 * Hash of the files that decide what the lab builds: every .ts file in this directory except
 * cli.ts (the command line only calls the API), in sorted order.
 */
export function codeHash(): string {
    const h = crypto.createHash("sha256");
    const files = fs
        .readdirSync(__dirname)
        .filter((f) => f.endsWith(".ts") && f !== "cli.ts")
        .sort();
    for (const f of files) h.update(fs.readFileSync(path.join(__dirname, f)));
    return h.digest("hex").slice(0, 16);
}

/** The options that decide what is built are the same (`reuse` is not one of them). */
export function sameSettings(a: LabSettings, b: LabSettings): boolean {
    return a.nodes === b.nodes && a.guests === b.guests && a.guestDocker === b.guestDocker && a.guestMemory === b.guestMemory;
}
