/**
 * components/host/scripts.ts as text: keys, exact lines, determinism, token embedding, every feature kind,
 * the probe and its parser, refusals; every rendered script parses in real shells; hostile values
 * are refused, and accepted random values give scripts that run (read-only ones, for real) without
 * running anything they hold. The scripts' behaviour on a kernel is proven in
 * test/system/hostScripts.netns.test.ts.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import * as fc from "fast-check";
import {
    BOOT_RUNNER_TEXT,
    BOOT_UNIT_TEXT,
    bootFragmentPath,
    featureIdentity,
    featureKey,
    FEATURE_KEY_RE,
    HOST_PATHS,
    parseProbeOutput,
    renderBootFragment,
    renderFeature,
    renderUndo,
    renderPreflight,
    renderProbe,
    parseProbeReport,
    ShellValueError,
    TOKEN_RE,
    type HostFeature,
    type RenderedCommand,
} from "../../components/host/scripts";
import { unwrapSh, unwrapStdin } from "../../components/host/shell";
import { ifNameProblem } from "../../components/net/patterns";

/**
 * The script inside `/bin/sh -c '<script>'` (unwrapSh also checks the quoting is exactly shq's),
 * or inside the stdin text of the probe (`{ … } < /dev/null`, unwrapStdin).
 */
const unwrap = (text: string): string => (text.startsWith("{\n") ? unwrapStdin(text) : unwrapSh(text));

/** Runs a rendered command (`/bin/sh -c '…'`) or the probe's stdin text (`/bin/sh -s`, the text on stdin) with this machine's /bin/sh. */
function runRendered(text: string, opts: { cwd?: string; timeout?: number } = {}): ReturnType<typeof spawnSync> & { stdout: string; stderr: string } {
    const stdin = text.startsWith("{\n");
    return spawnSync("/bin/sh", stdin ? ["-s"] : ["-c", text], { ...opts, ...(stdin ? { input: text } : {}), encoding: "utf8" });
}

const PROMISC: HostFeature = { kind: "promisc", parent: "eth0" };
const FORWARD: HostFeature = { kind: "ipforward" };
const VLAN: HostFeature = { kind: "vlan", parent: "eth0", id: 50 };
const SHIM: HostFeature = { kind: "shim", lower: "eth0.50", link: "macvlan-shim", address: "198.51.100.250/32" };
const ROUTE: HostFeature = { kind: "route", link: "macvlan-shim", cidr: "198.51.100.12/32" };
const ALL: readonly HostFeature[] = [PROMISC, FORWARD, VLAN, SHIM, ROUTE];

/** The undo script a feature script carries (pm_undo_text). */
function undoOf(script: string): string {
    const m = /^pm_undo_text\(\) \{\n {4}cat <<"PM_EOF"\n([^]*?)PM_EOF\n\}$/m.exec(script);
    if (!m) throw new Error("no pm_undo_text in the script");
    return m[1];
}

const refused = (re: RegExp) => (e: unknown) => e instanceof ShellValueError && re.test(e.message);

/** The lines of a wrapSh command (the preflight, the probe) or of a feature's stdin script. */
function lines(cmd: string | RenderedCommand): string[] {
    return (typeof cmd === "string" ? unwrap(cmd) : unwrapStdin(cmd.stdin)).split("\n");
}

/** Who runs the scripts in these tests: host entry node1 of stack dev of project proj. */
const AT = { host: "node1", owner: "proj/dev/node1" };

describe("hostScripts: keys and paths", () => {
    it("gives every kind its key, boot fragment and identity", () => {
        assert.deepEqual(
            ALL.map((f) => [featureKey(f), bootFragmentPath(f), featureIdentity(f)]),
            [
                ["promisc-eth0", "/etc/pulumi-macvlan/boot.d/10-promisc-eth0.sh", "promisc parent=eth0"],
                ["ipforward", "/etc/pulumi-macvlan/boot.d/10-ipforward.sh", "ipforward"],
                ["vlan-eth0.50", "/etc/pulumi-macvlan/boot.d/20-vlan-eth0.50.sh", "vlan parent=eth0 id=50"],
                ["shim-macvlan-shim", "/etc/pulumi-macvlan/boot.d/30-shim-macvlan-shim.sh", "shim lower=eth0.50 link=macvlan-shim address=198.51.100.250/32"],
                ["route-198-51-100-12-32", "/etc/pulumi-macvlan/boot.d/40-route-198-51-100-12-32.sh", "route link=macvlan-shim cidr=198.51.100.12/32"],
            ],
        );
        for (const f of ALL) assert.match(featureKey(f), FEATURE_KEY_RE);
    });

    it("orders boot fragments vlan < shim < route (the runner runs them sorted)", () => {
        const names = [ROUTE, SHIM, VLAN, PROMISC, FORWARD].map((f) => bootFragmentPath(f).split("/").pop() as string);
        assert.deepEqual([...names].sort(), ["10-ipforward.sh", "10-promisc-eth0.sh", "20-vlan-eth0.50.sh", "30-shim-macvlan-shim.sh", "40-route-198-51-100-12-32.sh"]);
    });
});

describe("hostScripts: renderFeature", () => {
    it("renders one script on stdin and the commands /bin/sh -s create|delete <key>, create = update, no backslash", () => {
        for (const f of ALL) {
            const r = renderFeature(AT, f, "new");
            assert.equal(r.update, r.create);
            assert.equal(r.create, `/bin/sh -s create ${featureKey(f)}`);
            assert.equal(r.delete, `/bin/sh -s delete ${featureKey(f)}`);
            assert.ok(r.stdin.startsWith("{\n# pulumi-macvlan ") && r.stdin.endsWith("\n} < /dev/null\n"));
            assert.ok(!r.stdin.includes("\\"), "no backslash inside the script");
        }
    });

    it("writes the exact header, values and entry points of the script", () => {
        const l = lines(renderFeature(AT, SHIM, "drift:shim-missing@123"));
        assert.equal(l[0], "# pulumi-macvlan shim-macvlan-shim of host node1: create/update and delete (the argument says which). Generated by pulumi-macvlan; do not edit.");
        assert.deepEqual(l.slice(1, 18), [
            "set -eu",
            "umask 022",
            "LC_ALL=C",
            "export LC_ALL",
            'PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"',
            "H='node1'",
            "OWNER='proj/dev/node1'",
            "K='shim-macvlan-shim'",
            "IDENTITY='shim lower=eth0.50 link=macvlan-shim address=198.51.100.250/32'",
            "TOKEN='drift:shim-missing@123'",
            "LOWER='eth0.50'",
            "SHIM='macvlan-shim'",
            "ADDR='198.51.100.250/32'",
            'STATE_ROOT="/var/lib/pulumi-macvlan"',
            'BOOT_ROOT="/etc/pulumi-macvlan"',
            'RUNNER="/etc/pulumi-macvlan/boot"',
            'UNIT="/etc/systemd/system/pulumi-macvlan.service"',
        ]);
        assert.ok(l.includes(`FRAGMENT="$BOOT_ROOT/boot.d/"'30-shim-macvlan-shim.sh'`));
        const tail = l.slice(l.lastIndexOf('case "${1-}" in'));
        assert.deepEqual(tail, [
            'case "${1-}" in',
            "create)",
            "pm_preflight",
            "pm_preflight_tools",
            "pm_lock",
            "pm_begin",
            "pm_sweep",
            "pm_adopt",
            "pm_preflight_feature",
            "pm_record_prior",
            "pm_ensure",
            "pm_boot_install",
            "pm_store_token",
            "pm_own",
            "pm_done",
            ";;",
            "delete)",
            "pm_preflight",
            "pm_need_flock",
            "pm_lock",
            "pm_begin",
            "pm_sweep",
            "pm_disown",
            'if [ -n "$pm_others" ]; then',
            '    pm_note "kept: also held by $pm_others"',
            "else",
            '    if [ -f "$D/prior" ]; then',
            "        pm_restore",
            "    fi",
            "    pm_boot_remove",
            "    pm_forget",
            "    pm_unlock_last",
            "fi",
            "pm_done",
            ";;",
            "*)",
            '    pm_fail "usage: /bin/sh -s create|delete <key>, with the script on stdin"',
            ";;",
            "esac",
            "",
        ]);
    });

    it("carries its undo script (standalone, the same values, no token) for the state directory", () => {
        const script = renderFeature(AT, SHIM, "tok-9").stdin;
        assert.equal(undoOf(script), renderUndo(AT, SHIM), "the script carries exactly the undo it saves");
        const undo = unwrapStdin(undoOf(script)).split("\n");
        assert.equal(undo[0], "# pulumi-macvlan shim-macvlan-shim of host node1: undo of an unfinished create (run by pulumi-macvlan under its lock). Generated by pulumi-macvlan; do not edit.");
        assert.ok(undo.includes("OWNER='proj/dev/node1'") && undo.includes("ADDR='198.51.100.250/32'") && undo.includes("IDENTITY='shim lower=eth0.50 link=macvlan-shim address=198.51.100.250/32'"));
        assert.ok(!undo.some((x) => x.startsWith("TOKEN=")), "the undo carries no token");
        assert.ok(!undo.includes("pm_lock"), "the undo runs under its caller's lock");
        assert.deepEqual(undo.slice(-7), ['if [ -f "$D/prior" ]; then', "    pm_restore", "fi", "pm_boot_remove", "pm_forget", "pm_done", ""]);
    });

    it("puts each kind's values in single quotes, once, at the top", () => {
        const expect: [HostFeature, string[]][] = [
            [PROMISC, ["PARENT='eth0'"]],
            [FORWARD, []],
            [VLAN, ["PARENT='eth0'", "VID='50'", "VLINK='eth0.50'"]],
            [SHIM, ["LOWER='eth0.50'", "SHIM='macvlan-shim'", "ADDR='198.51.100.250/32'"]],
            [ROUTE, ["RLINK='macvlan-shim'", "CIDR='198.51.100.12/32'"]],
        ];
        for (const [f, vars] of expect) {
            const l = lines(renderFeature(AT, f, "new"));
            assert.deepEqual(l.slice(11, 11 + vars.length), vars, featureKey(f));
            assert.equal(l[11 + vars.length], 'STATE_ROOT="/var/lib/pulumi-macvlan"', featureKey(f));
        }
    });

    it("is deterministic: the same inputs give byte-identical text, whatever else was rendered before", () => {
        const a = ALL.map((f) => renderFeature(AT, f, "tok-1"));
        renderProbe("other", [...ALL].reverse());
        const b = [...ALL].reverse().map((f) => renderFeature(AT, f, "tok-1")).reverse();
        assert.deepEqual(b, a);
    });

    it("embeds the token in exactly one line of the script, and the owner in the script and its undo", () => {
        for (const f of ALL) {
            const one = renderFeature(AT, f, "new");
            const two = renderFeature(AT, f, "drift:promisc-off@42");
            assert.equal(two.delete, one.delete);
            const la = lines(one);
            const lb = lines(two);
            assert.equal(la.length, lb.length);
            const diff = la.map((x, i) => [x, lb[i]]).filter(([x, y]) => x !== y);
            assert.deepEqual(diff, [["TOKEN='new'", "TOKEN='drift:promisc-off@42'"]], featureKey(f));
            const other = lines(renderFeature({ host: "node1", owner: "proj/prod/node1" }, f, "new"));
            const od = la.map((x, i) => [x, other[i]]).filter(([x, y]) => x !== y);
            assert.deepEqual(od, [["OWNER='proj/dev/node1'", "OWNER='proj/prod/node1'"], ["OWNER='proj/dev/node1'", "OWNER='proj/prod/node1'"]], featureKey(f));
        }
    });

    it("carries the exact boot fragment, runner and unit text it installs", () => {
        const script = renderFeature(AT, PROMISC, "new").stdin;
        const frag = renderBootFragment("node1", PROMISC);
        assert.equal(
            frag,
            [
                "# pulumi-macvlan boot fragment promisc-eth0 of host node1. Generated by pulumi-macvlan; removed by destroy; do not edit.",
                "set -eu",
                "PARENT='eth0'",
                "pm_find_ip() {",
                '    pm_ip=""',
                "    pm_ifs=$IFS",
                "    IFS=:",
                "    for pm_dir in $PATH; do",
                '        if [ -z "$pm_ip" ] && [ -f "$pm_dir/ip" ] && [ -x "$pm_dir/ip" ]; then',
                '            case "$("$pm_dir/ip" -V 2>&1 || :)" in',
                '                *iproute2*) pm_ip="$pm_dir/ip" ;;',
                "            esac",
                "        fi",
                "    done",
                "    IFS=$pm_ifs",
                "}",
                "ip() {",
                '    "$pm_ip" "$@"',
                "}",
                "pm_find_ip",
                'if [ -z "$pm_ip" ]; then',
                '    echo "pulumi-macvlan boot: iproute2 is not installed" >&2',
                "    exit 1",
                "fi",
                "pm_wait_link() {",
                "    pm_i=0",
                '    while ! ip link show dev "$1" >/dev/null 2>&1; do',
                "        pm_i=$((pm_i + 1))",
                '        if [ "$pm_i" -gt 30 ]; then',
                '            echo "pulumi-macvlan boot: link $1 did not appear within 30 s" >&2',
                "            return 1",
                "        fi",
                "        sleep 1",
                "    done",
                "}",
                'pm_wait_link "$PARENT"',
                'ip link set dev "$PARENT" promisc on',
                "",
            ].join("\n"),
        );
        assert.ok(script.includes(`pm_fragment() {\n    cat <<"PM_EOF"\n${frag}PM_EOF\n}`));
        assert.ok(script.includes(`pm_runner() {\n    cat <<"PM_EOF"\n${BOOT_RUNNER_TEXT}PM_EOF\n}`));
        assert.ok(script.includes(`pm_unit() {\n    cat <<"PM_EOF"\n${BOOT_UNIT_TEXT}PM_EOF\n}`));
    });

    it("orders the unit before docker.service and after the network, as an enabled oneshot", () => {
        const u = BOOT_UNIT_TEXT.split("\n");
        for (const line of [
            "Wants=network-online.target",
            "After=network-online.target",
            "Before=docker.service",
            "Type=oneshot",
            "RemainAfterExit=yes",
            "ExecStart=/bin/sh /etc/pulumi-macvlan/boot",
            "WantedBy=multi-user.target",
        ]) {
            assert.ok(u.includes(line), line);
        }
        assert.ok(BOOT_RUNNER_TEXT.includes('for f in /etc/pulumi-macvlan/boot.d/*.sh; do'));
        assert.equal(HOST_PATHS.wantsLink, `${HOST_PATHS.wantsDir}/pulumi-macvlan.service`);
    });

    it("gives the shim its sysctls and the VLAN its 802.1Q check", () => {
        const shim = renderBootFragment("node1", SHIM).split("\n");
        assert.deepEqual(shim.slice(-9), [
            'if ! ip link show dev "$SHIM" >/dev/null 2>&1; then',
            '    ip link add link "$LOWER" name "$SHIM" type macvlan mode bridge',
            "fi",
            'echo 2 > "/proc/sys/net/ipv4/conf/$SHIM/rp_filter"',
            'echo 1 > "/proc/sys/net/ipv4/conf/$SHIM/arp_ignore"',
            'echo 2 > "/proc/sys/net/ipv4/conf/$SHIM/arp_announce"',
            'ip addr replace "$ADDR" dev "$SHIM"',
            'ip link set dev "$SHIM" up',
            "",
        ]);
        assert.ok(lines(renderFeature(AT, VLAN, "new")).includes("    pm_need_8021q"));
        assert.deepEqual(renderBootFragment("node1", ROUTE).split("\n").slice(-3), ['pm_wait_link "$RLINK"', 'ip route replace "$CIDR" dev "$RLINK"', ""]);
        assert.deepEqual(renderBootFragment("node1", FORWARD).split("\n"), [
            "# pulumi-macvlan boot fragment ipforward of host node1. Generated by pulumi-macvlan; removed by destroy; do not edit.",
            "set -eu",
            "echo 1 > /proc/sys/net/ipv4/ip_forward",
            "",
        ]);
    });

    it("refuses every invalid value, naming the field", () => {
        const cases: [() => unknown, RegExp][] = [
            [() => renderFeature({ host: "Node1", owner: "proj/dev/node1" }, PROMISC, "new"), /^host "Node1" is not a valid host name/],
            [() => renderFeature({ host: "node1", owner: "proj/dev" }, PROMISC, "new"), /^owner "proj\/dev" must be <project>\/<stack>\/<host>/],
            [() => renderFeature({ host: "node1", owner: "proj/d ev/node1" }, PROMISC, "new"), /^owner "proj\/d ev\/node1" must be/],
            [() => renderFeature({ host: "node1", owner: "proj/dev/node1;x" }, PROMISC, "new"), /^owner "proj\/dev\/node1;x" must be/],
            [() => renderFeature(AT, { kind: "promisc", parent: "eth0;reboot" }, "new"), /^promisc\.parent "eth0;reboot" is not a valid Linux interface name/],
            [() => renderFeature(AT, { kind: "vlan", parent: "eth0", id: 0 }, "new"), /^vlan\.id 0 is not a VLAN id: an integer 1-4094/],
            [() => renderFeature(AT, { kind: "vlan", parent: "eth0", id: 4095 }, "new"), /^vlan\.id 4095/],
            [() => renderFeature(AT, { kind: "vlan", parent: "enp0s31f6abcd", id: 4000 }, "new"), /^vlan link "enp0s31f6abcd\.4000" is not a valid Linux interface name/],
            [() => renderFeature(AT, { ...SHIM, address: "198.51.100.250" }, "new"), /^shim\.address "198\.51\.100\.250" must be an IPv4 address with \/32/],
            [() => renderFeature(AT, { ...SHIM, link: "all" }, "new"), /^shim\.link "all" is reserved: all and default name the global entries/],
            [() => renderFeature(AT, { ...SHIM, link: "eth0.50" }, "new"), /^shim\.link "eth0\.50" must differ from shim\.lower/],
            [() => renderFeature(AT, { ...ROUTE, cidr: "198.51.100.12/24" }, "new"), /^route\.cidr "198\.51\.100\.12\/24" has host bits set/],
            [() => renderFeature(AT, { kind: "bridge" } as unknown as HostFeature, "new"), /^feature\.kind "bridge" must be one of/],
            [() => renderFeature(AT, PROMISC, "drift:x y"), /^token "drift:x y" must match/],
            [() => renderFeature(AT, PROMISC, ""), /^token "" must match/],
            [() => renderProbe("node1", [PROMISC, PROMISC]), /^features "promisc-eth0" appears twice/],
            [() => renderPreflight({ host: "node1", parent: "eth 0", needsVlan: false, needsDocker: false }), /^parent "eth 0" is not a valid Linux interface name/],
        ];
        for (const [f, re] of cases) assert.throws(f, refused(re), re.source);
    });
});

describe("hostScripts: renderPreflight", () => {
    it("checks 802.1Q only for VLANs and Docker only when networks use the host", () => {
        const bare = lines(renderPreflight({ host: "node1", parent: "eth0", needsVlan: false, needsDocker: false }));
        const full = lines(renderPreflight({ host: "node1", parent: "eth0", needsVlan: true, needsDocker: true }));
        assert.equal(bare[0], "# pulumi-macvlan preflight of host node1: read-only checks. Generated by pulumi-macvlan; do not edit.");
        assert.ok(bare.includes("H='node1'") && bare.includes("PARENT='eth0'"));
        assert.ok(!bare.includes("pm_need_8021q") && !bare.some((l) => l.includes("docker version")));
        assert.ok(full.includes("pm_need_8021q"));
        assert.ok(full.includes('if ! pm_dv=$($pm_to docker version --format "{{.Server.Version}}" 2>&1); then'));
        assert.deepEqual(bare.slice(-6), [
            "pm_preflight",
            "pm_preflight_tools",
            'pm_need_link "$PARENT" "parent NIC"',
            'pm_ok="Linux $pm_kv, parent NIC $PARENT"',
            'pm_say "preflight ok ($pm_ok)"',
            "",
        ]);
    });
});

describe("hostScripts: renderProbe and parseProbeOutput", () => {
    it("checks each feature once, in order, with one check function per kind", () => {
        const l = lines(renderProbe("node1", [...ALL, { kind: "route", link: "macvlan-shim", cidr: "198.51.100.13/32" }]));
        assert.equal(l[0], "# pulumi-macvlan drift probe of host node1: read-only; prints one key=token line per feature, then the host's facts. Generated by pulumi-macvlan; do not edit.");
        assert.equal(l[1], "set -u");
        assert.deepEqual(
            l.filter((x) => x.startsWith("pm_emit '")),
            ["promisc-eth0", "ipforward", "vlan-eth0.50", "shim-macvlan-shim", "route-198-51-100-12-32", "route-198-51-100-13-32"].map((k) => `pm_emit '${k}' "$pm_d"`),
        );
        for (const kind of ["promisc", "ipforward", "vlan", "shim", "route"]) {
            assert.equal(l.filter((x) => x === `pm_check_${kind}() {`).length, 1, kind);
        }
        assert.ok(l.includes(`if ! pm_same '/etc/pulumi-macvlan/boot.d/40-route-198-51-100-13-32.sh' pm_frag_5; then`));
    });

    it("is read-only: no command in it changes a link, a route, a sysctl or a file", () => {
        const script = unwrap(renderProbe("node1", ALL));
        const body = script.replace(/cat <<"PM_EOF"\n[\s\S]*?\nPM_EOF/g, "cat <<HEREDOC");
        for (const bad of [/ip (link|addr|route) (add|del|set|replace)/, /\brm -/, /\bmv /, /\bmkdir /, /\bln -s/, /echo [^"]*> *"?\/proc/, /> *"\$/, /\bmodprobe\b/, /\bflock\b/]) {
            assert.ok(!bad.test(body), `probe contains ${bad.source}`);
        }
    });

    it("parses key=token lines, ignoring chatter", () => {
        const m = parseProbeOutput("Welcome to node1\r\npromisc-eth0=new\r\nipforward=drift:forward-off@123\nLANG=C\nvlan-eth0.50=tok-1\n\n");
        assert.deepEqual([...m], [
            ["promisc-eth0", "new"],
            ["ipforward", "drift:forward-off@123"],
            ["vlan-eth0.50", "tok-1"],
        ]);
    });

    it("reports the host's facts after the features: its machine id, the addresses of each link asked for, in order, the parent and its driver when given, the hypervisor, then the Docker Engine", () => {
        const l = lines(renderProbe("node1", [PROMISC], ["eth0", "eth0.50"], "eth0"));
        const facts = l.slice(l.indexOf("# the host's facts"));
        assert.deepEqual(facts.slice(-8), ["pm_machine_id", "pm_addrs 'eth0'", "pm_addrs 'eth0.50'", "pm_parent 'eth0'", "pm_parent_driver 'eth0'", "pm_virt", "pm_docker", ""]);
        assert.ok(l.indexOf(`pm_emit 'promisc-eth0' "$pm_d"`) < l.indexOf("# the host's facts"));
        assert.deepEqual(lines(renderProbe("node1", [])).slice(-4), ["pm_machine_id", "pm_virt", "pm_docker", ""], "no link, no parent: no address, parent or driver line");
        assert.throws(() => renderProbe("node1", [], [], "eth0;reboot"), (e: unknown) => e instanceof ShellValueError && /^parent "eth0;reboot" is not a valid Linux interface name/.test(e.message));
        assert.throws(() => renderProbe("node1", [], ["eth0;reboot"]), (e: unknown) => e instanceof ShellValueError && /^links\[0\] "eth0;reboot" is not a valid Linux interface name/.test(e.message));
        assert.throws(() => renderProbe("node1", [], ["eth0", "eth0"]), (e: unknown) => e instanceof ShellValueError && /^links "eth0 eth0" lists a link twice/.test(e.message));
    });

    it("parses the facts strictly: @machine-id=<32 hex> once, @addr=<ifname> <ipv4>/<0-32> or <ipv6>/<0-128> (canonical text); other @ lines are chatter", () => {
        const id = "0123456789abcdef0123456789abcdef";
        const r = parseProbeReport(`@motd hello\npromisc-eth0=tok\n@machine-id=${id}\r\n@addr=eth0 198.51.100.21/24\n@addr=eth0.50 203.0.113.7/32\n@addr=eth0 10.0.0.1/0\n@addr=eth0 2001:db8:0::0:1/64\n`);
        assert.deepEqual([...r.tokens], [["promisc-eth0", "tok"]]);
        assert.equal(r.machineId, id);
        assert.deepEqual(r.addresses, [
            { link: "eth0", address: "198.51.100.21", prefix: 24 },
            { link: "eth0.50", address: "203.0.113.7", prefix: 32 },
            { link: "eth0", address: "10.0.0.1", prefix: 0 },
            { link: "eth0", address: "2001:db8::1", prefix: 64 },
        ]);
        assert.deepEqual(parseProbeReport("promisc-eth0=tok\n"), { tokens: new Map([["promisc-eth0", "tok"]]), addresses: [] }, "no machine id: none reported");
        const bad: Array<[string, RegExp]> = [
            [`@machine-id=${id.toUpperCase()}`, /malformed machine id line/],
            [`@machine-id=${id}0`, /malformed machine id line/],
            ["@machine-id=", /malformed machine id line/],
            [`@machine-id=${id} `, /malformed machine id line/],
            [`@machine-id=${id}\n@machine-id=${id}`, /@machine-id appears twice/],
            ["@addr=eth0 198.51.100.21", /malformed address line/],
            ["@addr=eth0 198.51.100.21/33", /malformed address line/],
            ["@addr=eth0 198.51.100.256/24", /malformed address line/],
            ["@addr=eth0 198.051.100.21/24", /malformed address line/],
            ["@addr=eth0  198.51.100.21/24", /malformed address line/],
            ["@addr=all 198.51.100.21/24", /malformed address line/],
            ["@addr=a-very-long-interface0 198.51.100.21/24", /malformed address line/],
            ["@addr=eth0;x 198.51.100.21/24", /malformed address line/],
            ["@addr=eth0 2001:db8::1/129", /malformed address line/],
            ["@addr=eth0 2001:db8::1", /malformed address line/],
            ["@addr=eth0 2001:db8:::1/64", /malformed address line/],
            ["@addr=eth0 2001:DB8::1/64", /malformed address line/],
            ["@addr=eth0 2001:db8::1/064", /malformed address line/],
            ["@addr=eth0 198.51.100.21/24 extra", /malformed address line/],
        ];
        for (const [text, want] of bad) assert.throws(() => parseProbeReport(text), want, text);
    });

    it("parses the parent and Docker facts strictly: @parent=<ifname> absent | mtu=<n> state=<STATE>, @docker=<major.minor…> <api major.minor>, each once", () => {
        const r = parseProbeReport("promisc-eth0=tok\n@parent=eth0 mtu=1500 state=UP\n@docker=27.3.1 1.47\r\n");
        assert.deepEqual(r.parent, { link: "eth0", exists: true, mtu: 1500, state: "UP" });
        assert.deepEqual(r.docker, { version: "27.3.1", apiVersion: "1.47" });
        assert.deepEqual(parseProbeReport("@parent=eth0.50 absent\n").parent, { link: "eth0.50", exists: false });
        assert.deepEqual(parseProbeReport("@parent=ens33 mtu=9000 state=LOWERLAYERDOWN\n").parent, { link: "ens33", exists: true, mtu: 9000, state: "LOWERLAYERDOWN" });
        for (const v of ["20.10.24+dfsg1", "28.0.0-rc.1", "29.0", "25.0.3~ubuntu"]) assert.deepEqual(parseProbeReport(`@docker=${v} 1.44\n`).docker, { version: v, apiVersion: "1.44" }, v);
        const none = parseProbeReport("promisc-eth0=tok\n");
        assert.equal(none.parent, undefined);
        assert.equal(none.docker, undefined);
        const bad: Array<[string, RegExp]> = [
            ["@parent=eth0", /malformed parent line/],
            ["@parent=eth0 present", /malformed parent line/],
            ["@parent=eth0 mtu=1500", /malformed parent line/],
            ["@parent=eth0 mtu=0 state=UP", /malformed parent line/],
            ["@parent=eth0 mtu=1500 state=up", /malformed parent line/],
            ["@parent=eth0 mtu=1500 state=UP extra", /malformed parent line/],
            ["@parent=eth0;x absent", /malformed parent line/],
            ["@parent=all absent", /malformed parent line/],
            ["@parent=a-very-long-interface0 absent", /malformed parent line/],
            ["@parent=eth0 absent\n@parent=eth0 absent", /@parent appears twice/],
            ["@docker=", /malformed docker line/],
            ["@docker=27.3.1", /malformed docker line/],
            ["@docker=27 1.47", /malformed docker line/],
            ["@docker=27.3.1 1.47.0", /malformed docker line/],
            ["@docker=027.3 1.47", /malformed docker line/],
            ["@docker=27.3;reboot 1.47", /malformed docker line/],
            ["@docker=27.3.1  1.47", /malformed docker line/],
            ["@docker=dev 1.47", /malformed docker line/],
            ["@docker=27.3.1 1.47\n@docker=27.3.1 1.47", /@docker appears twice/],
        ];
        for (const [text, want] of bad) assert.throws(() => parseProbeReport(text), want, text);
    });

    it("parses the parent's driver and the hypervisor strictly: @parent-driver=<ifname> <driver>, @virt=<name> (never none), each once; a probe without them reports neither", () => {
        const r = parseProbeReport("promisc-eth0=tok\n@parent=eth0 mtu=1500 state=UP\n@parent-driver=eth0 virtio_net\r\n@virt=kvm\n");
        assert.deepEqual(r.parentDriver, { link: "eth0", driver: "virtio_net" });
        assert.equal(r.virtualization, "kvm");
        for (const d of ["vmxnet3", "hv_netvsc", "e1000e", "xen-netfront", "8139cp"]) assert.deepEqual(parseProbeReport(`@parent-driver=ens33 ${d}\n`).parentDriver, { link: "ens33", driver: d }, d);
        const none = parseProbeReport("promisc-eth0=tok\n@parent=eth0 mtu=1500 state=UP\n");
        assert.equal(none.parentDriver, undefined);
        assert.equal(none.virtualization, undefined);
        assert.ok(!("parentDriver" in none) && !("virtualization" in none), "absent, not undefined-valued");
        const bad: Array<[string, RegExp]> = [
            ["@parent-driver=eth0", /malformed parent driver line/],
            ["@parent-driver=eth0 ", /malformed parent driver line/],
            ["@parent-driver=eth0 virtio net", /malformed parent driver line/],
            ["@parent-driver=eth0 virtio;reboot", /malformed parent driver line/],
            ["@parent-driver=eth0 ../virtio_net", /malformed parent driver line/],
            [`@parent-driver=eth0 ${"d".repeat(33)}`, /malformed parent driver line/],
            ["@parent-driver=all virtio_net", /malformed parent driver line/],
            ["@parent-driver=eth0;x virtio_net", /malformed parent driver line/],
            ["@parent-driver=eth0 vmxnet3\n@parent-driver=eth0 vmxnet3", /@parent-driver appears twice/],
            ["@virt=", /malformed virtualization line/],
            ["@virt=none", /malformed virtualization line/],
            ["@virt=KVM", /malformed virtualization line/],
            ["@virt=kvm qemu", /malformed virtualization line/],
            ["@virt=kvm$(reboot)", /malformed virtualization line/],
            [`@virt=${"v".repeat(33)}`, /malformed virtualization line/],
            ["@virt=kvm\n@virt=kvm", /@virt appears twice/],
        ];
        for (const [text, want] of bad) assert.throws(() => parseProbeReport(text), want, text);
    });

    it("refuses a malformed token or a key seen twice", () => {
        assert.throws(() => parseProbeOutput("ipforward=drift forward\n"), /^Error: probe output: ipforward has a malformed token "drift forward"$/);
        assert.throws(() => parseProbeOutput("ipforward=\n"), /malformed token ""/);
        assert.throws(() => parseProbeOutput("ipforward=drift:,unit@12\n"), /malformed token "drift:,unit@12"/);
        assert.throws(() => parseProbeOutput("ipforward=drift:unit\n"), /malformed token "drift:unit"/);
        assert.throws(() => parseProbeOutput("ipforward=a\nipforward=b\n"), /^Error: probe output: ipforward appears twice$/);
    });
});

// ---------------------------------------------------------------------------------------------
// Real shells: syntax of every script, fuzzing of every field.

const SHELLS: [string, string[]][] = [
    ["dash", ["/bin/dash"]],
    ["bash --posix", ["/bin/bash", "--posix"]],
    ["busybox ash", ["/bin/busybox", "sh"]],
];

const ifname = fc
    .stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,9}$/)
    .filter((s) => s !== "all" && s !== "default");
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join("."));
const cidr = fc.tuple(fc.nat(0xffffffff), fc.integer({ min: 0, max: 32 })).map(([v, p]) => {
    const masked = p === 0 ? 0 : (v >>> (32 - p)) * 2 ** (32 - p);
    return `${[24, 16, 8, 0].map((s) => Math.floor(masked / 2 ** s) % 256).join(".")}/${p}`;
});
const validFeature: fc.Arbitrary<HostFeature> = fc.oneof(
    ifname.map((parent): HostFeature => ({ kind: "promisc", parent })),
    fc.constant<HostFeature>({ kind: "ipforward" }),
    fc.tuple(ifname, fc.integer({ min: 1, max: 4094 })).map(([parent, id]): HostFeature => ({ kind: "vlan", parent, id })),
    fc
        .tuple(ifname, ifname, ipv4)
        .filter(([a, b]) => a !== b)
        .map(([lower, link, ip]): HostFeature => ({ kind: "shim", lower, link, address: `${ip}/32` })),
    fc.tuple(ifname, cidr).map(([link, c]): HostFeature => ({ kind: "route", link, cidr: c })),
);
const token = fc.stringMatching(TOKEN_RE);

describe("hostScripts: real shells", () => {
    before(() => {
        for (const [label, argv] of SHELLS) if (!existsSync(argv[0])) throw new Error(`${label} (${argv[0]}) is needed to check the scripts`);
    });

    it("every script of random valid features parses in dash, bash --posix and busybox ash", function () {
        this.timeout(120000);
        fc.assert(
            fc.property(fc.uniqueArray(validFeature, { selector: (f) => featureKey(f), minLength: 1, maxLength: 4 }), token, (features, tok) => {
                const scripts = [
                    ...features.flatMap((f) => {
                        const r = renderFeature({ host: "node-1", owner: "p/s/node-1" }, f, tok);
                        return [r.stdin, undoOf(r.stdin)];
                    }),
                    unwrap(renderProbe("node-1", features)),
                    unwrap(renderPreflight({ host: "node-1", parent: "eth0", needsVlan: true, needsDocker: true })),
                ];
                for (const s of scripts) {
                    for (const [label, argv] of SHELLS) {
                        const r = spawnSync(argv[0], [...argv.slice(1), "-n"], { input: s, encoding: "utf8" });
                        assert.equal(r.status, 0, `${label}: ${r.stderr}`);
                    }
                }
            }),
            { numRuns: 25 },
        );
    });

    it("refuses hostile values in every field, and what it accepts runs without running any of it (fuzz)", function () {
        this.timeout(180000);
        const dir = mkdtempSync(join(tmpdir(), "mvt-fuzz-"));
        const canary = join(dir, "CANARY");
        const payloads = [
            `$(touch ${canary})`,
            `\`touch ${canary}\``,
            `;touch ${canary};`,
            `'; touch ${canary}; '`,
            `"; touch ${canary}; "`,
            `\ntouch ${canary}\n`,
            `&&touch ${canary}`,
            `|touch ${canary}`,
            `\0touch ${canary}`,
            `é$(touch ${canary})`,
            "${IFS}",
            "a b",
            "\\",
        ];
        const hostile = fc.oneof(
            fc.constantFrom(...payloads),
            fc.tuple(fc.string({ maxLength: 6 }), fc.constantFrom(...payloads), fc.string({ maxLength: 6 })).map((p) => p.join("")),
            fc.string({ unit: "binary", maxLength: 20 }),
            // Values some fields accept, so the accepted branch always runs.
            fc.constantFrom("node2", "eth1", "mvs1", "198.18.0.251/32", "198.18.0.0/24", "tok-2", "p2/s.2/node1"),
        );
        type Field = "host" | "owner" | "parent" | "lower" | "link" | "address" | "cidr" | "token";
        const render = (field: Field, v: string): string[] => {
            const at = (f: Field, dflt: string) => (f === field ? v : dflt);
            const feats: HostFeature[] = [
                { kind: "promisc", parent: at("parent", "eth0") },
                { kind: "vlan", parent: at("parent", "eth0"), id: 50 },
                { kind: "shim", lower: at("lower", "eth0"), link: at("link", "mvs0"), address: at("address", "198.18.0.250/32") },
                { kind: "route", link: at("link", "mvs0"), cidr: at("cidr", "198.18.0.10/32") },
            ];
            const host = at("host", "node1");
            return [
                ...feats.flatMap((f) => {
                    const r = renderFeature({ host, owner: at("owner", "proj/dev/node1") }, f, at("token", "new"));
                    return [r.create, r.delete, r.stdin];
                }),
                renderProbe(host, feats, [at("parent", "eth0"), `${at("lower", "eth0")}.50`]),
                renderPreflight({ host, parent: at("parent", "eth0"), needsVlan: false, needsDocker: false }),
            ];
        };
        const SAFE = /^[A-Za-z0-9_.:/,=+@-]*$/;
        let accepted = 0;
        try {
            fc.assert(
                fc.property(fc.constantFrom<Field>("host", "owner", "parent", "lower", "link", "address", "cidr", "token"), hostile, (field, v) => {
                    let cmds: string[];
                    try {
                        cmds = render(field, v);
                    } catch (e) {
                        assert.ok(e instanceof ShellValueError, `not a ShellValueError: ${String(e)}`);
                        return;
                    }
                    assert.match(v, SAFE, `${field} accepted an unsafe value ${JSON.stringify(v)}`);
                    accepted++;
                    // Run the read-only ones for real: the probe and the preflight.
                    for (const cmd of cmds.slice(-2)) {
                        runRendered(cmd, { cwd: dir, timeout: 20000 });
                    }
                    assert.deepEqual(readdirSync(dir), [], `${field}=${JSON.stringify(v)} ran something`);
                }),
                { numRuns: 400 },
            );
            // The payloads themselves: each one, in each field, is refused.
            for (const field of ["host", "owner", "parent", "lower", "link", "address", "cidr", "token"] as Field[]) {
                for (const p of payloads) assert.throws(() => render(field, p), (e: unknown) => e instanceof ShellValueError, `${field} took ${JSON.stringify(p)}`);
            }
            assert.ok(!existsSync(canary));
            // Not vacuous: some random values were accepted (and their probe and preflight run).
            assert.ok(accepted > 0, "no value was accepted: the fuzz ran nothing");
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it("refuses every VLAN id that is not an integer 1-4094, whatever its type", () => {
        const bad: unknown[] = [0, 4095, -1, 1.5, NaN, Infinity, 1e21, "50", "50; reboot", null, undefined, [50], { id: 50 }, true];
        for (const id of bad) {
            const f = { kind: "vlan", parent: "eth0", id } as unknown as HostFeature;
            assert.throws(() => renderFeature(AT, f, "new"), (e: unknown) => e instanceof ShellValueError && /vlan\.id/.test(e.message), String(id));
            assert.throws(() => renderProbe("node1", [f]), ShellValueError, String(id));
        }
        fc.assert(
            fc.property(fc.integer({ min: 1, max: 4094 }), (id) => {
                const r = renderFeature(AT, { kind: "vlan", parent: "eth0", id }, "new");
                assert.ok(r.stdin.includes(`\nVID='${id}'\n`));
            }),
            { numRuns: 50 },
        );
    });

    it("the probe really runs read-only on this machine and prints one well-formed line per feature", function () {
        this.timeout(30000);
        const feats: HostFeature[] = [
            { kind: "promisc", parent: "mvt-nonexist0" },
            { kind: "ipforward" },
            { kind: "shim", lower: "mvt-nonexist0", link: "mvt-nonexist1", address: "198.18.0.250/32" },
            { kind: "route", link: "mvt-nonexist1", cidr: "198.18.0.10/32" },
        ];
        const r = runRendered(renderProbe("node1", feats));
        assert.equal(r.status, 0, r.stderr);
        const m = parseProbeOutput(r.stdout);
        assert.deepEqual([...m.keys()], feats.map(featureKey));
        assert.match(m.get("promisc-mvt-nonexist0") as string, /^drift:new,link-missing,boot(,unit)?@[0-9]+$/);
        assert.match(m.get("shim-mvt-nonexist1") as string, /^drift:new,shim-missing,boot(,unit)?@[0-9]+$/);
        assert.match(m.get("route-198-18-0-10-32") as string, /^drift:new,route-missing,boot(,unit)?@[0-9]+$/);
        const again = runRendered(renderProbe("node1", feats));
        assert.equal(again.stdout, r.stdout, "the same state gives the same tokens");
    });

    it("the probe reports this machine's own /etc/machine-id and the loopback's address, and nothing for a link that does not exist", function () {
        this.timeout(30000);
        const r = runRendered(renderProbe("node1", [], ["lo", "mvt-nonexist0"]));
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stderr, "");
        const report = parseProbeReport(r.stdout);
        assert.equal(report.machineId, readFileSync("/etc/machine-id", "utf8").trim());
        assert.deepEqual(report.addresses, [{ link: "lo", address: "127.0.0.1", prefix: 8 }]);
    });

    it("the probe reports the kernel driver of this machine's NICs as sysfs names it (none for the loopback), and the hypervisor as systemd-detect-virt --vm does", function () {
        this.timeout(30000);
        const nics = readdirSync("/sys/class/net").filter((l) => existsSync(`/sys/class/net/${l}/device/driver`) && ifNameProblem(l) === undefined);
        for (const link of ["lo", ...nics]) {
            const r = runRendered(renderProbe("node1", [], [], link));
            assert.equal(r.status, 0, r.stderr);
            assert.equal(r.stderr, "");
            const report = parseProbeReport(r.stdout);
            const want = link === "lo" ? undefined : { link, driver: basename(realpathSync(`/sys/class/net/${link}/device/driver`)) };
            assert.deepEqual(report.parentDriver, want, link);
            const detect = spawnSync("systemd-detect-virt", ["--vm"], { encoding: "utf8" });
            const virt = detect.error === undefined && detect.status === 0 ? detect.stdout.trim() : undefined;
            assert.equal(report.virtualization, virt === "none" ? undefined : virt);
        }
    });
});
