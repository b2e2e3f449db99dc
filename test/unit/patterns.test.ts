import * as assert from "node:assert/strict";
import fc from "fast-check";
import {
    isAuxName,
    isDnsName,
    isDockerContainerName,
    isDockerName,
    isDockerVersion,
    isEnvName,
    isHostName,
    isIfName,
    isImageRef,
    isIpLiteral,
    isIpv4Literal,
    isIpv6Literal,
    isMacSyntax,
    isPort,
    isSshAddress,
    isSshHostKey,
    isSshUser,
    isVlanId,
    sshHostKeyProblem,
} from "../../components/net/patterns";

/** Real public keys made with ssh-keygen for these tests (no private halves kept). */
const KEYS = {
    ed25519: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIObw31n2MGR/TVqGBf3Iqzs7FZSsUzRRJ7PHEeSUyNr4",
    p256: "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBNaqqL1j5/C6tEVAQlUaPA9/Aq4i1kjxEUfbSfmKINKBV36xWxdYZ4TMGvPCnr/P8di4aRL6fiy34A7NIGrPVws=",
    p384: "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBCYkZIJ1MpI/sLYbEELhOF1jPwihkfulJiF7uEs5Vr5QAs2VUY+v/wB3TsF4rAcNN/PlTisL+U4dUKB2M2gjmO8t1z5fdjZQuM6wMP3m5IaL1CgNBSdDoUJZPcYHja3p9w==",
    p521: "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAB9d0r/rjstblk8gPJBYt54d7pA03DvXbeh7N22V4B1keap8SgWTSRsXaLt4/Jo+/aikI+Z43dQgeaRVONqhsK5jwDhSR5oA9nK/b/iB7aKT1QBpvRdyEgdA4EvJpw8gs6Qgrn6lDO2AXCt+WWSoAInm1xwIuOOPmGrrhZo6eP082OQ0g==",
    rsa: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCZDreAVJ6hEB7Kk5w4EtiSFfw5cYGkuITIMWlRW8YRONZAkyvzHTuXRMQ5Z3gX8RrO7Zs68jHOnj3HpghTQygXb5mlbkLf6MdNG8c2WdXHDRNwGJGt9fI6mAMw0USiNWTbwGS4bwTy566nK0XMqKfw2oqX62CdaBuKtK/xFgy1dMR+jqdTC5U7bthzZIY25l/eUE1TaiUfwZBOmjLTc8hD3o1AKD5mxk01Y7dH0jbmfXi7fdEWlR4l+m7ZdR0tbkemYiHc+8fNZfbXNr3tsCk6cTgotC+/n5I4mWOtIcwHrIX6WLV6PdfPiN2ojE+0DxvWjj2rqKtEeZUVvZt+nCdP",
};

/** An SSH wire-format blob from its strings (uint32 length + bytes each), base64. */
function blob(...fields: (string | Buffer)[]): string {
    const parts = fields.map((f) => {
        const b = typeof f === "string" ? Buffer.from(f, "latin1") : f;
        const len = Buffer.alloc(4);
        len.writeUInt32BE(b.length);
        return Buffer.concat([len, b]);
    });
    return Buffer.concat(parts).toString("base64");
}

/** Characters a POSIX shell treats specially, plus whitespace and quotes. */
const SHELL_SPECIAL = /[\s'"`$\\;&|<>(){}[\]*?!#~^%=,]/;

describe("patterns", () => {
    it("host names: lower-case letters, digits, inner dashes, 1-32", () => {
        for (const ok of ["node1", "a", "n-1", "0", "a".repeat(32)]) assert.ok(isHostName(ok), ok);
        for (const bad of ["", "Node1", "-a", "a-", "a_b", "a.b", "a".repeat(33), "a b", "nöde"]) assert.ok(!isHostName(bad), bad);
    });

    it("Linux interface names: 1-15 of [A-Za-z0-9_.-], starting with a letter or digit", () => {
        for (const ok of ["eth0", "ens33", "ens33.50", "enp0s31f6", "a", "br-lan_1", "x".repeat(15), "0eth"]) assert.ok(isIfName(ok), ok);
        for (const bad of ["", ".", "..", "...", "-dash", "-all", "_x", "x".repeat(16), "eth0/1", "eth 0", "eth0;", "eth0:1", "eth$0", "é", "all", "default"]) {
            assert.ok(!isIfName(bad), bad);
        }
        for (const ok of ["all0", "defaults", "All"]) assert.ok(isIfName(ok), ok);
    });

    it("SSH users", () => {
        for (const ok of ["root", "_svc", "deploy-bot", "a.b", "Admin"]) assert.ok(isSshUser(ok), ok);
        for (const bad of ["", "-root", "1root", "ro ot", "root@x", "a".repeat(33), "ro'ot"]) assert.ok(!isSshUser(bad), bad);
    });

    it("DNS names (RFC 1123) and IP literals", () => {
        for (const ok of ["node1", "node1.example.com", "a-b.c", "x1"]) assert.ok(isDnsName(ok), ok);
        for (const bad of ["", "-a.com", "a-.com", "a..b", "a_b.com", "198.51.100.300", "a.123", `${"a".repeat(64)}.com`, "a.".repeat(127) + "a"]) {
            assert.ok(!isDnsName(bad), bad);
        }
        for (const ok of ["198.51.100.1", "0.0.0.0", "255.255.255.255"]) assert.ok(isIpv4Literal(ok), ok);
        for (const bad of ["198.51.100", "198.51.100.256", "198.051.100.1", " 198.51.100.1", "198.51.100.1/24", "1.2.3.4.5"]) assert.ok(!isIpv4Literal(bad), bad);
        assert.ok(isIpv6Literal("2001:db8::1"));
        assert.ok(!isIpv6Literal("2001:db8::1%eth0"));
        assert.ok(!isIpv6Literal("198.51.100.1"));
        assert.ok(isIpLiteral("2001:db8::1") && isIpLiteral("192.0.2.1") && !isIpLiteral("node1"));
        assert.ok(isSshAddress("node1.example.com") && isSshAddress("192.0.2.10") && !isSshAddress("root@node1"));
    });

    it("Docker network and container names", () => {
        for (const ok of ["pub_net", "web", "a", "A.b-c_d", "0", "x".repeat(64)]) assert.ok(isDockerName(ok), ok);
        for (const bad of ["", "_net", ".net", "-net", "pub net", "pub/net", "x".repeat(65), "ne$t"]) assert.ok(!isDockerName(bad), bad);
        for (const ok of ["web", "w1", "A.b-c_d", "x".repeat(64)]) assert.ok(isDockerContainerName(ok), ok);
        for (const bad of ["", "a", "0", "_web", "-web", "we b", "x".repeat(65), "we$b"]) assert.ok(!isDockerContainerName(bad), bad);
    });

    it("image references, including the field notes' registry with a port", () => {
        const ok = [
            "nginx",
            "nginx:1.27",
            "nginx:latest",
            "mysql:5.7",
            "library/nginx",
            "1.1.1.3:5000/hp_kodexplorer_a1223",
            "registry.example.com/team/app:v1.2.3",
            "localhost:5000/app",
            `nginx@sha256:${"a".repeat(64)}`,
            `nginx:1.27@sha256:${"0".repeat(64)}`,
            "my__image",
            "a--b",
        ];
        for (const s of ok) assert.ok(isImageRef(s), s);
        const bad = [
            "",
            "Nginx",
            "nginx:",
            "nginx:-x",
            ":tag",
            "nginx@sha256:abc",
            "nginx:1.27;rm -rf /",
            "nginx latest",
            "registry:70000/app",
            "a/../b",
            `nginx:${"t".repeat(129)}`,
            `${"a".repeat(256)}`,
            "app/",
            "_app",
        ];
        for (const s of bad) assert.ok(!isImageRef(s), s);
    });

    it("environment variable names and aux-address names", () => {
        for (const ok of ["TZ", "MYSQL_ROOT_PASSWORD", "_x", "a1"]) assert.ok(isEnvName(ok), ok);
        for (const bad of ["", "1A", "MY-VAR", "MY VAR", "A=B"]) assert.ok(!isEnvName(bad), bad);
        for (const ok of ["printer", "node1-shim", "host.a", "R2"]) assert.ok(isAuxName(ok), ok);
        for (const bad of ["", "-x", "a b", "x".repeat(65), "a=b"]) assert.ok(!isAuxName(bad), bad);
    });

    it("MAC syntax", () => {
        for (const ok of ["02:42:c6:33:64:0c", "02:42:C6:33:64:0C", "ff:ff:ff:ff:ff:ff"]) assert.ok(isMacSyntax(ok), ok);
        for (const bad of ["", "02-42-c6-33-64-0c", "0242c633640c", "02:42:c6:33:64", "02:42:c6:33:64:0g", "2:42:c6:33:64:0c"]) assert.ok(!isMacSyntax(bad), bad);
    });

    it("VLAN ids 1-4094, ports 1-65535, Docker versions major.minor", () => {
        for (const ok of [1, 50, 4094]) assert.ok(isVlanId(ok), String(ok));
        for (const bad of [0, 4095, -1, 1.5, NaN, "50", null]) assert.ok(!isVlanId(bad), String(bad));
        for (const ok of [1, 22, 65535]) assert.ok(isPort(ok), String(ok));
        for (const bad of [0, 65536, 22.5, "22", undefined]) assert.ok(!isPort(bad), String(bad));
        for (const ok of ["27.0", "20.10", "28.3"]) assert.ok(isDockerVersion(ok), ok);
        for (const bad of ["27", "27.0.1", "v27.0", "027.0", ""]) assert.ok(!isDockerVersion(bad), bad);
    });

    describe("SSH host keys", () => {
        it("accepts real keys of every supported type", () => {
            for (const [kind, key] of Object.entries(KEYS)) assert.equal(sshHostKeyProblem(key), undefined, kind);
        });

        it("refuses a bad shape with the list of types", () => {
            const shape = 'is not an SSH host key "<type> <base64>" with type one of ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521';
            for (const bad of ["", "AAAA", "ssh-dss AAAA", `${KEYS.ed25519} root@vm`, `ssh-ed25519  ${KEYS.ed25519.split(" ")[1]}`, "ssh-ed25519 AAA", "ssh-ed25519 AA$A"]) {
                assert.equal(sshHostKeyProblem(bad), shape, bad);
            }
        });

        it("refuses a key whose blob carries another type than declared", () => {
            const b64 = KEYS.ed25519.split(" ")[1];
            assert.equal(sshHostKeyProblem(`ssh-rsa ${b64}`), 'declares type ssh-rsa but its key blob is of type "ssh-ed25519"');
            assert.equal(sshHostKeyProblem(`ecdsa-sha2-nistp256 ${KEYS.p384.split(" ")[1]}`), 'declares type ecdsa-sha2-nistp256 but its key blob is of type "ecdsa-sha2-nistp384"');
        });

        it("refuses blobs that are not SSH wire format or have the wrong field sizes", () => {
            assert.equal(sshHostKeyProblem("ssh-ed25519 AAAA"), "has a key blob that is not SSH wire format");
            assert.equal(sshHostKeyProblem(`ssh-ed25519 ${Buffer.from("hello world!").toString("base64")}`), "has a key blob that is not SSH wire format");
            assert.equal(sshHostKeyProblem(`ssh-ed25519 ${blob("ssh-ed25519", Buffer.alloc(31))}`), "has an ssh-ed25519 key blob without a 32-byte key");
            assert.equal(sshHostKeyProblem(`ssh-rsa ${blob("ssh-rsa", Buffer.from([1, 0, 1]))}`), "has an ssh-rsa key blob without an exponent and a modulus of at least 512 bits");
            const point = Buffer.alloc(65, 4);
            assert.equal(sshHostKeyProblem(`ecdsa-sha2-nistp256 ${blob("ecdsa-sha2-nistp256", "nistp256", point)}`), undefined);
            assert.equal(
                sshHostKeyProblem(`ecdsa-sha2-nistp256 ${blob("ecdsa-sha2-nistp256", "nistp384", point)}`),
                "has a ecdsa-sha2-nistp256 key blob without a nistp256 curve name and an uncompressed 65-byte point",
            );
            assert.ok(!isSshHostKey(`ecdsa-sha2-nistp256 ${blob("ecdsa-sha2-nistp256", "nistp256", Buffer.alloc(64, 4))}`));
        });

        it("never throws on random input, and anything accepted is exactly <type> <base64>", () => {
            fc.assert(
                fc.property(fc.oneof(fc.string(), fc.base64String().map((b) => `ssh-ed25519 ${b}`), fc.uint8Array().map((u) => `ssh-rsa ${Buffer.from(u).toString("base64")}`)), (s) => {
                    const problem = sshHostKeyProblem(s);
                    if (problem === undefined) assert.match(s, /^[a-z0-9-]+ [A-Za-z0-9+/]+=*$/);
                }),
            );
        });
    });

    it("accepted names and ids never contain shell-special characters (property)", () => {
        const preds = [isHostName, isIfName, isSshUser, isDnsName, isIpv4Literal, isDockerName, isImageRef, isEnvName, isAuxName, isMacSyntax, isDockerVersion];
        const hostile = fc.oneof(
            fc.string(),
            fc.string({ unit: "grapheme" }),
            fc.stringMatching(/^[a-z0-9.:/@_-]{0,8}[\s'"`$\\;&|<>(){}*?!#~]{1,3}[a-z0-9.]{0,8}$/),
        );
        fc.assert(
            fc.property(hostile, (s) => {
                for (const pred of preds) {
                    if (pred(s)) assert.ok(!SHELL_SPECIAL.test(s), `${pred.name} accepted ${JSON.stringify(s)}`);
                }
            }),
            { numRuns: 2000 },
        );
    });
});
