/**
 * Pure helpers of the convergence benchmark (bench/converge.ts): medians, ratios, Ansible's
 * recap and inventory, the ssh wrapper that counts Ansible's SSH sessions, and the result table.
 * No I/O here: unit-tested in test/unit/benchConverge.test.ts.
 */

/** The median of some numbers (mean of the two middle ones for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
    if (xs.length === 0) return NaN;
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** `other / ours` as `12.3x` (how many times faster ours is), or `n/a`. */
export function ratio(ours: number, other: number): string {
    if (!(ours > 0) || !Number.isFinite(other)) return "n/a";
    return `${(other / ours).toFixed(1)}x`;
}

/** Per-host counts of Ansible's PLAY RECAP (`host : ok=3 changed=1 unreachable=0 failed=0 …`). */
export interface RecapLine {
    readonly ok: number;
    readonly changed: number;
    readonly unreachable: number;
    readonly failed: number;
}

/** Parses the PLAY RECAP of `ansible-playbook`'s default output; hosts by inventory name. */
export function parseRecap(stdout: string): Record<string, RecapLine> {
    const out: Record<string, RecapLine> = {};
    const at = stdout.lastIndexOf("PLAY RECAP");
    if (at < 0) return out;
    for (const line of stdout.slice(at).split("\n").slice(1)) {
        const m = /^(\S+)\s*:\s*(.*)$/.exec(line.trim());
        if (m === null) continue;
        const n = (k: string): number => Number(new RegExp(`\\b${k}=(\\d+)`).exec(m[2])?.[1] ?? NaN);
        out[m[1]] = { ok: n("ok"), changed: n("changed"), unreachable: n("unreachable"), failed: n("failed") };
    }
    return out;
}

/** One host of the generated Ansible inventory. */
export interface InventoryHost {
    readonly name: string;
    readonly address: string;
    readonly port: number;
    readonly user: string;
    readonly parent: string;
    /** The shim address with its prefix, e.g. `198.18.0.241/32`. */
    readonly shimAddress: string;
    readonly shimLink: string;
    /** CIDRs routed through the shim. */
    readonly routes: readonly string[];
}

const SAFE = /^[A-Za-z0-9._:/@-]+$/;

/** A value put into the inventory: refuses anything that YAML or a shell could read otherwise. */
function safe(v: string | number, what: string): string {
    const s = String(v);
    if (!SAFE.test(s)) throw new Error(`inventory: ${what} ${JSON.stringify(s)} has characters other than [A-Za-z0-9._:/@-]`);
    return s;
}

/** The inventory (YAML, group `macvlan_hosts`) with each host's connection and settings. */
export function renderInventory(hosts: readonly InventoryHost[], privateKeyPath: string): string {
    const lines = ["all:", "  children:", "    macvlan_hosts:", "      hosts:"];
    for (const h of hosts) {
        lines.push(
            `        ${safe(h.name, "name")}:`,
            `          ansible_host: ${safe(h.address, "address")}`,
            `          ansible_port: ${safe(h.port, "port")}`,
            `          ansible_user: ${safe(h.user, "user")}`,
            `          ansible_ssh_private_key_file: ${safe(privateKeyPath, "key path")}`,
            `          parent: ${safe(h.parent, "parent")}`,
            `          shim_link: ${safe(h.shimLink, "shim link")}`,
            `          shim_address: ${safe(h.shimAddress, "shim address")}`,
            `          shim_routes: [${h.routes.map((r) => safe(r, "route")).join(", ")}]`,
        );
    }
    return `${lines.join("\n")}\n`;
}

/** How Ansible's ssh is set up in a run. */
export interface AnsibleSshMode {
    /** Short name in the report. */
    readonly name: string;
    /** `off`: ControlMaster=no, ControlPersist=no (every task its own TCP connection). `defaults`: Ansible's own `-C -o ControlMaster=auto -o ControlPersist=60s`. */
    readonly control: "off" | "defaults";
}

/**
 * ansible.cfg of a run: pipelining on and file transfer through the same ssh (`piped`), so
 * every SSH session goes through `sshExecutable` (the counting wrapper); the lab's known_hosts
 * with strict checking (the lab's throwaway keys, pinned by labUp).
 */
export function renderAnsibleCfg(o: { inventory: string; sshExecutable: string; knownHosts: string; controlDir: string; mode: AnsibleSshMode; remoteTmp: string; localTmp: string }): string {
    const hostKeys = `-o UserKnownHostsFile=${o.knownHosts} -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o BatchMode=yes`;
    const control = o.mode.control === "off" ? "-o ControlMaster=no -o ControlPersist=no" : "-C -o ControlMaster=auto -o ControlPersist=60s";
    return [
        "[defaults]",
        `inventory = ${o.inventory}`,
        "host_key_checking = True",
        "interpreter_python = /usr/bin/python3",
        `remote_tmp = ${o.remoteTmp}`,
        `local_tmp = ${o.localTmp}`,
        "retry_files_enabled = False",
        "forks = 10",
        "nocows = 1",
        "",
        "[ssh_connection]",
        `ssh_executable = ${o.sshExecutable}`,
        `ssh_args = ${control} ${hostKeys}`,
        `control_path_dir = ${o.controlDir}`,
        "control_path = %(directory)s/%%C",
        "pipelining = True",
        "transfer_method = piped",
        "",
    ].join("\n");
}

/** An `ssh` that appends one line per invocation (its arguments) to `log`, then runs `realSsh`. */
export function renderSshWrapper(realSsh: string, log: string): string {
    return ["#!/bin/sh", `printf '%s\\n' "ssh $*" >> '${log}'`, `exec '${realSsh}' "$@"`, ""].join("\n");
}

/** Sessions in a wrapper log: one per line, except `-O` control requests (`ssh -O exit/check`), which open none. */
export function countSessions(log: string): number {
    return log.split("\n").filter((l) => l.startsWith("ssh ") && !/\s-O\s/.test(l)).length;
}

/** One row of the result table. */
export interface Row {
    readonly tool: string;
    readonly kase: string;
    /** Wall times of the runs, ms. */
    readonly ms: readonly number[];
    /** SSH sessions of each run (all hosts together). */
    readonly sessions: readonly number[];
    /** Remote commands run (ours: registered commands run; Ansible: tasks that reported `changed`). */
    readonly commands: readonly number[];
}

/** The table of rows, medians only, with each row's ratio to `ours` of the same case. */
export function renderTable(rows: readonly Row[], ours: string): string {
    const head = ["case", "tool", "runs", "median ms", "min–max ms", "sessions", "commands/changed", `vs ${ours}`];
    const body = rows.map((r) => {
        const mine = rows.find((x) => x.kase === r.kase && x.tool === ours);
        const uniq = (xs: readonly number[]): string => [...new Set(xs)].join("/");
        return [
            r.kase,
            r.tool,
            String(r.ms.length),
            median(r.ms).toFixed(0),
            `${Math.min(...r.ms).toFixed(0)}–${Math.max(...r.ms).toFixed(0)}`,
            uniq(r.sessions),
            uniq(r.commands),
            r.tool === ours || mine === undefined ? "" : `ours ${ratio(median(mine.ms), median(r.ms))} faster`,
        ];
    });
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
    const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
    return [line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

