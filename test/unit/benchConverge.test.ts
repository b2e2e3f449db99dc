/**
 * The pure helpers of the convergence benchmark (bench/converge/report.ts): medians, ratios, Ansible's recap, the generated inventory and ansible.cfg, the ssh
 * wrapper's session count.
 */
import * as assert from "node:assert/strict";
import { countSessions, median, parseRecap, ratio, renderAnsibleCfg, renderInventory, renderSshWrapper, renderTable } from "../../bench/converge/report";
import { waves } from "../support/commandPlan";

describe("bench:converge helpers", () => {
    it("median: odd, even, unsorted, empty", () => {
        assert.equal(median([3, 1, 2]), 2);
        assert.equal(median([4, 1, 3, 2]), 2.5);
        assert.ok(Number.isNaN(median([])));
    });

    it("ratio: how many times faster ours is", () => {
        assert.equal(ratio(100, 1234), "12.3x");
        assert.equal(ratio(0, 10), "n/a");
        assert.equal(ratio(10, NaN), "n/a");
    });

    it("parseRecap reads the PLAY RECAP per host", () => {
        const out = [
            "TASK [x] ***",
            "changed: [node1]",
            "PLAY RECAP *********",
            "node1                      : ok=9    changed=1    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   ",
            "node2                      : ok=9    changed=0    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   ",
            "",
        ].join("\n");
        assert.deepEqual(parseRecap(out), {
            node1: { ok: 9, changed: 1, unreachable: 0, failed: 0 },
            node2: { ok: 9, changed: 0, unreachable: 0, failed: 0 },
        });
        assert.deepEqual(parseRecap("no recap"), {});
    });

    it("renderInventory lists each host with its connection and settings, and refuses unsafe values", () => {
        const h = { name: "node1", address: "198.18.0.11", port: 22, user: "root", parent: "eth0", shimLink: "macvlan-shim", shimAddress: "198.18.0.241/32", routes: ["198.18.0.201/32", "198.18.0.202/32"] };
        const inv = renderInventory([h], "/var/lib/k/id_lab");
        assert.match(inv, /^ {8}node1:$/m);
        assert.match(inv, /^ {10}ansible_host: 198\.18\.0\.11$/m);
        assert.match(inv, /^ {10}ansible_ssh_private_key_file: \/var\/lib\/k\/id_lab$/m);
        assert.match(inv, /^ {10}shim_routes: \[198\.18\.0\.201\/32, 198\.18\.0\.202\/32\]$/m);
        assert.throws(() => renderInventory([{ ...h, parent: "eth0; rm -rf /" }], "/k"), /parent/);
    });

    it("renderAnsibleCfg: pipelining, piped transfer, the wrapper, strict host keys; ControlPersist off or Ansible's defaults", () => {
        const base = { inventory: "/t/inv.yml", sshExecutable: "/t/bin/ssh", knownHosts: "/lab/known_hosts", controlDir: "/t/cp", remoteTmp: "/tmp/x", localTmp: "/t/local" };
        const off = renderAnsibleCfg({ ...base, mode: { name: "off", control: "off" } });
        assert.match(off, /^pipelining = True$/m);
        assert.match(off, /^local_tmp = \/t\/local$/m);
        assert.match(off, /^transfer_method = piped$/m);
        assert.match(off, /^ssh_executable = \/t\/bin\/ssh$/m);
        assert.match(off, /-o ControlMaster=no -o ControlPersist=no/);
        assert.match(off, /-o UserKnownHostsFile=\/lab\/known_hosts .*-o StrictHostKeyChecking=yes/);
        const def = renderAnsibleCfg({ ...base, mode: { name: "d", control: "defaults" } });
        assert.match(def, /-C -o ControlMaster=auto -o ControlPersist=60s/);
    });

    it("the ssh wrapper logs each invocation; countSessions skips control requests", () => {
        const w = renderSshWrapper("/usr/bin/ssh", "/t/ssh.log");
        assert.match(w, /^#!\/bin\/sh\n/);
        assert.match(w, /exec '\/usr\/bin\/ssh' "\$@"/);
        assert.equal(countSessions("ssh -o A root@h /bin/sh\nssh -O exit -o ControlPath=/x lab\nssh -o B root@h2 cmd\n"), 2);
        assert.equal(countSessions(""), 0);
    });

    it("renderTable gives medians and the ratio to ours", () => {
        const t = renderTable(
            [
                { tool: "ours", kase: "fresh", ms: [100, 300, 200], sessions: [9, 9, 9], commands: [15, 15, 15] },
                { tool: "ansible", kase: "fresh", ms: [2000, 2100, 1900], sessions: [30, 30, 30], commands: [21, 21, 21] },
            ],
            "ours",
        );
        assert.match(t, /\| fresh +\| ours +\| 3 +\| 200 +\|/);
        assert.match(t, /ours 10\.0x faster/);
    });

    it("waves orders commands after what they depend on", () => {
        const w = waves([
            { name: "route", after: ["shim"] },
            { name: "shim", after: ["pre"] },
            { name: "pre", after: [] },
            { name: "promisc", after: ["pre"] },
        ]);
        assert.deepEqual(w.map((x) => x.map((c) => c.name).sort()), [["pre"], ["promisc", "shim"], ["route"]]);
        assert.throws(() => waves([{ name: "a", after: ["b"] }, { name: "b", after: ["a"] }]), /cycle/);
    });
});
