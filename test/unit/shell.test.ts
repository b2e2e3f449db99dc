/**
 * shell.ts: quoting and the strict checks. Quoting is proven by running the quoted text in real
 * shells (dash, bash, busybox ash, whichever are installed; dash is required) with random hostile
 * strings, and checking that the value comes back byte for byte and that nothing ran.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as fc from "fast-check";
import {
    assertHostName,
    assertIfName,
    assertIpv4Cidr,
    assertIpv4Host32,
    assertToken,
    assertVlanId,
    ShellValueError,
    shq,
    TOKEN_RE,
    wrapSh,
    shStdinCommand,
    stdinScript,
    unwrapStdin,
} from "../../components/host/shell";

/** Bourne-family shells to run the quoted text in: [label, argv prefix]. dash must exist. */
function shells(): [string, string[]][] {
    const out: [string, string[]][] = [];
    for (const [label, argv] of [
        ["dash", ["/bin/dash"]],
        ["bash", ["/bin/bash"]],
        ["busybox ash", ["/bin/busybox", "sh"]],
    ] as [string, string[]][]) {
        if (existsSync(argv[0])) out.push([label, argv]);
    }
    if (!out.some(([l]) => l === "dash")) throw new Error("dash (/bin/dash) is required to prove the quoting");
    return out;
}

/** Pieces a hostile value is made of: quotes, expansions, separators, control bytes, unicode. */
const HOSTILE = [
    "'",
    '"',
    "\\",
    "`touch CANARY`",
    "$(touch CANARY)",
    "${IFS}",
    "$HOME",
    ";touch CANARY;",
    "&& touch CANARY",
    "| touch CANARY",
    "\n touch CANARY \n",
    "\r",
    "\t",
    "'\\''",
    "!",
    "*",
    "~",
    "#",
    " ",
    "-n",
    "é",
    "\u202e",
    "😀",
    "\u0001",
    "%s",
];

const hostileString = fc.array(fc.oneof(fc.constantFrom(...HOSTILE), fc.string({ unit: "binary", maxLength: 8 })), { maxLength: 8 }).map((parts) =>
    parts.join("").replace(/\0/g, ""),
);

describe("shell: shq", () => {
    it("quotes the documented examples exactly", () => {
        assert.equal(shq("abc"), "'abc'");
        assert.equal(shq(""), "''");
        assert.equal(shq("it's"), "'it'\\''s'");
        assert.equal(shq("$(x) `y` \\"), "'$(x) `y` \\'");
    });

    it("refuses a NUL byte (no shell argument can hold one)", () => {
        assert.throws(() => shq("a\0b"), (e: unknown) => e instanceof ShellValueError && /contains a NUL byte/.test(e.message));
    });

    it("gives back any string exactly in every shell and never runs any part of it (fuzz)", function () {
        this.timeout(120000);
        const dir = mkdtempSync(join(tmpdir(), "mvt-shq-"));
        try {
            const list = shells();
            fc.assert(
                fc.property(hostileString, (s) => {
                    for (const [label, argv] of list) {
                        const r = spawnSync(argv[0], [...argv.slice(1), "-c", `printf '%s' ${shq(s)}`], { cwd: dir, encoding: "buffer" });
                        assert.equal(r.status, 0, `${label}: ${r.stderr.toString()}`);
                        assert.deepEqual(r.stdout, Buffer.from(s, "utf8"), `${label} changed ${JSON.stringify(s)}`);
                    }
                    assert.deepEqual(readdirSync(dir), [], `something ran for ${JSON.stringify(s)}`);
                }),
                { numRuns: 150 },
            );
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("shell: scripts sent on stdin (shStdinCommand, stdinScript)", () => {
    it("the command is /bin/sh -s and its checked words; anything else is refused", () => {
        assert.equal(shStdinCommand(["create", "vlan-eth0.50"]), "/bin/sh -s create vlan-eth0.50");
        for (const bad of ["-x", "a b", "a;b", "$x", "", "a'b"]) {
            assert.throws(() => shStdinCommand([bad]), (e: unknown) => e instanceof ShellValueError && e.message.includes("/bin/sh -s argument"), bad);
        }
    });

    it("each shell runs the whole script with its arguments; no command in it reads the rest; a cut script runs nothing", () => {
        const body = "set -eu\nif read -r x; then echo \"read $x\"; else echo 'stdin is empty'; fi\necho \"args $1 $2\"\n";
        const text = stdinScript(body);
        assert.equal(unwrapStdin(text), body);
        // A script far over the 128 KiB limit of one argument: the command stays short.
        const big = stdinScript(`${"# padding line of a large script\n".repeat(8000)}echo "big $1"\n`);
        assert.ok(big.length > 256 * 1024);
        for (const [label, argv] of shells()) {
            const r = spawnSync(argv[0], [...argv.slice(1), "-s", "one", "two"], { input: text, encoding: "utf8" });
            assert.equal(r.status, 0, `${label}: ${r.stderr}`);
            assert.equal(r.stdout, "stdin is empty\nargs one two\n", label);
            const b = spawnSync(argv[0], [...argv.slice(1), "-c", shStdinCommand(["x"])], { input: big, encoding: "utf8" });
            assert.equal(b.stdout, "big x\n", `${label}: ${b.stderr}`);
            const cut = spawnSync(argv[0], [...argv.slice(1), "-s"], { input: text.slice(0, text.indexOf("echo \"args")), encoding: "utf8" });
            assert.notEqual(cut.status, 0, label);
            assert.equal(cut.stdout, "", `${label}: a script cut in transit ran part of itself`);
        }
    });

    it("refuses a backslash or a NUL in the script", () => {
        assert.throws(() => stdinScript("printf 'a\\n'"), (e: unknown) => e instanceof ShellValueError && /backslash/.test(e.message));
        assert.throws(() => stdinScript("echo a\0"), (e: unknown) => e instanceof ShellValueError && /NUL/.test(e.message));
    });
});

describe("shell: wrapSh", () => {
    it("wraps a script as one /bin/sh -c word", () => {
        assert.equal(wrapSh("echo 'hi'\necho there"), "/bin/sh -c 'echo '\\''hi'\\''\necho there'");
    });

    it("refuses a backslash or a NUL in the script", () => {
        assert.throws(() => wrapSh("printf 'a\\n'"), (e: unknown) => e instanceof ShellValueError && /backslash/.test(e.message));
        assert.throws(() => wrapSh("echo a\0"), (e: unknown) => e instanceof ShellValueError && /NUL/.test(e.message));
    });

    it("runs the same script whichever Bourne-family shell reads the command (fuzz)", function () {
        this.timeout(120000);
        const dir = mkdtempSync(join(tmpdir(), "mvt-wrap-"));
        try {
            const list = shells();
            fc.assert(
                // Without backslashes and single quotes: shq writes a quote as '\'' (a backslash), which
                // wrapSh refuses; validated values never hold either, so real scripts never do.
                fc.property(
                    hostileString.map((s) => s.replace(/[\\']/g, "")),
                    (s) => {
                        const cmd = wrapSh(`x=${shq(s)}\nprintf '%s|%s' "$x" "$0"`);
                        for (const [label, argv] of list) {
                            const r = spawnSync(argv[0], [...argv.slice(1), "-c", cmd], { cwd: dir, encoding: "buffer" });
                            assert.equal(r.status, 0, `${label}: ${r.stderr.toString()}`);
                            assert.deepEqual(r.stdout, Buffer.from(`${s}|/bin/sh`, "utf8"), label);
                        }
                        assert.deepEqual(readdirSync(dir), []);
                    },
                ),
                { numRuns: 100 },
            );
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("shell: strict checks", () => {
    const refuses = (f: () => unknown, re: RegExp) => assert.throws(f, (e: unknown) => e instanceof ShellValueError && re.test(e.message));

    it("host names", () => {
        assert.equal(assertHostName("host", "node-1"), "node-1");
        refuses(() => assertHostName("host", "Node1"), /^host "Node1" is not a valid host name/);
        refuses(() => assertHostName("host", "-a"), /is not a valid host name/);
        refuses(() => assertHostName("host", "a b"), /is not a valid host name/);
        refuses(() => assertHostName("host", 7), /^host 7 is not a valid host name/);
    });

    it("interface names, including the ones that would name a global sysctl", () => {
        for (const ok of ["eth0", "ens33.50", "macvlan-shim", "a_b", "x".repeat(15)]) assert.equal(assertIfName("f", ok), ok);
        for (const bad of ["", ".", "..", "-s", "x".repeat(16), "a/b", "a b", "a:b", "a'b", "a$b", "ä", "eth0\n"]) refuses(() => assertIfName("f", bad), /is not a valid Linux interface name: 1-15 characters/);
        refuses(() => assertIfName("shim.link", "all"), /^shim\.link "all" is reserved: all and default name the global entries/);
        refuses(() => assertIfName("shim.link", "default"), /is reserved/);
    });

    it("VLAN ids", () => {
        assert.equal(assertVlanId("id", 1), 1);
        assert.equal(assertVlanId("id", 4094), 4094);
        for (const bad of [0, 4095, 1.5, -1, "50", NaN]) refuses(() => assertVlanId("id", bad), /is not a VLAN id: an integer 1-4094/);
    });

    it("shim addresses are IPv4 /32", () => {
        assert.equal(assertIpv4Host32("a", "198.51.100.250/32"), "198.51.100.250/32");
        for (const bad of ["198.51.100.250", "198.51.100.250/24", "198.51.100.256/32", "01.2.3.4/32", "2001:db8::1/128", " 1.2.3.4/32"]) {
            refuses(() => assertIpv4Host32("a", bad), /must be an IPv4 address with \/32/);
        }
    });

    it("route CIDRs are canonical IPv4 without host bits", () => {
        assert.equal(assertIpv4Cidr("c", "198.51.100.12/32"), "198.51.100.12/32");
        assert.equal(assertIpv4Cidr("c", "198.51.100.0/24"), "198.51.100.0/24");
        refuses(() => assertIpv4Cidr("c", "198.51.100.1/24"), /^c "198\.51\.100\.1\/24" has host bits set; did you mean 198\.51\.100\.0\/24\?/);
        refuses(() => assertIpv4Cidr("c", "198.51.100.12"), /has no prefix length/);
        refuses(() => assertIpv4Cidr("c", "198.51.100.12/32;x"), /is not an IPv4 CIDR/);
        refuses(() => assertIpv4Cidr("c", "2001:db8::/64"), /IPv6 is not supported yet/);
    });

    it("tokens", () => {
        for (const ok of ["new", "unprobed", "drift:promisc-off@12345", "a".repeat(200), "x=1,y+2"]) assert.equal(assertToken("t", ok), ok);
        for (const bad of ["", "-x", "a b", "a'b", "a\nb", "a".repeat(201), "ä", "a/b"]) refuses(() => assertToken("t", bad), /must match/);
        assert.equal(TOKEN_RE.test("drift:new,boot@4108195029"), true);
    });
});
