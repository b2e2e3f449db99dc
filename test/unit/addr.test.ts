import * as assert from "node:assert/strict";
import fc from "fast-check";
import { Address, Cidr, NON_LAN_IPV4, NON_LAN_IPV6, POOL_FAMILIES, SUPPORTED_FAMILIES, broadcastAddress, contains, detectFamily, networkAddress, nonHostBlockOf, nonLanBlockOverlapping, nthAddress, overlaps, parseAddress, parseCidr } from "../../components/net/addr";

function addr(s: string): Address {
    const r = parseAddress(s);
    if (!r.ok) throw new Error(`${s} ${r.problem}`);
    return r.value;
}
function cidr(s: string): Cidr {
    const r = parseCidr(s);
    if (!r.ok) throw new Error(`${s} ${r.problem}`);
    return r.value;
}
const v4 = (n: number) => Address.fromValue("ipv4", BigInt(n));
const toInt = (s: string) => s.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);

describe("addr", () => {
    it("takes IPv4 by default, and both families for IPAM pools and the addresses in them", () => {
        assert.deepEqual(SUPPORTED_FAMILIES, ["ipv4"]);
        assert.deepEqual(POOL_FAMILIES, ["ipv4", "ipv6"]);
    });

    it("detects the family of addresses and CIDRs", () => {
        assert.equal(detectFamily("198.51.100.7"), "ipv4");
        assert.equal(detectFamily("198.51.100.0/24"), "ipv4");
        assert.equal(detectFamily("2001:db8::1"), "ipv6");
        assert.equal(detectFamily("2001:db8::/64"), "ipv6");
        assert.equal(detectFamily("node1"), undefined);
        assert.equal(detectFamily("198.51.100.256"), undefined);
    });

    describe("parseAddress", () => {
        it("parses canonical IPv4", () => {
            const a = addr("203.0.113.9");
            assert.equal(a.family, "ipv4");
            assert.equal(a.toString(), "203.0.113.9");
            assert.equal(a.value, 0xcb007109n);
            assert.deepEqual(a.bytes(), [203, 0, 113, 9]);
        });

        it("says what is wrong", () => {
            const cases: [string, string][] = [
                ["198.51.100.256", "is not an IPv4 address"],
                ["198.51.100", "is not an IPv4 address"],
                ["198.051.100.1", "is not an IPv4 address"],
                ["", "is not an IPv4 address"],
                ["node1", "is not an IPv4 address"],
                ["2001:db8::1", "is an IPv6 address; IPv6 is not supported yet"],
                ["198.51.100.1/24", "must be an address without a prefix length; did you mean 198.51.100.1?"],
                ["198.51.100.1/", "must be an address without a prefix length; did you mean 198.51.100.1?"],
                ["nope/24", "is not an IPv4 address"],
            ];
            for (const [input, problem] of cases) {
                const r = parseAddress(input);
                assert.ok(!r.ok, input);
                assert.equal(r.problem, problem, input);
            }
        });

        it("accepts IPv6 when the caller allows it, in RFC 5952 text", () => {
            const r = parseAddress("2001:DB8:0:0:0:0:0:1", ["ipv4", "ipv6"]);
            assert.ok(r.ok);
            assert.equal(r.value.family, "ipv6");
            assert.equal(r.value.toString(), "2001:db8::1");
            assert.equal(r.value.bytes().length, 16);
        });
    });

    describe("parseCidr", () => {
        it("parses a block without host bits", () => {
            const c = cidr("198.51.100.0/24");
            assert.equal(c.toString(), "198.51.100.0/24");
            assert.equal(c.prefix, 24);
            assert.equal(c.size, 256n);
            assert.equal(networkAddress(c).toString(), "198.51.100.0");
            assert.equal(broadcastAddress(c)?.toString(), "198.51.100.255");
            assert.equal(cidr("0.0.0.0/0").size, 1n << 32n);
        });

        it("reports host bits with the block it should be", () => {
            const r = parseCidr("198.51.100.1/24");
            assert.ok(!r.ok);
            assert.equal(r.problem, "has host bits set; did you mean 198.51.100.0/24?");
            assert.equal(r.corrected?.toString(), "198.51.100.0/24");
            const r2 = parseCidr("198.18.7.200/15");
            assert.ok(!r2.ok);
            assert.equal(r2.problem, "has host bits set; did you mean 198.18.0.0/15?");
        });

        it("says what is wrong", () => {
            const cases: [string, string][] = [
                ["198.51.100.0", "has no prefix length; write it as <address>/<prefix length>, like 198.51.100.0/24"],
                ["198.51.100.0/33", "has a prefix length outside 0-32"],
                ["198.51.100.0/024", "is not an IPv4 CIDR like 198.51.100.0/24"],
                ["198.51.100.0/", "is not an IPv4 CIDR like 198.51.100.0/24"],
                ["198.51.100.0/24/1", "is not an IPv4 CIDR like 198.51.100.0/24"],
                ["198.51.100.300/24", "is not an IPv4 CIDR like 198.51.100.0/24"],
                ["lan", "is not an IPv4 CIDR like 198.51.100.0/24"],
                ["2001:db8::/64", "is an IPv6 subnet; IPv6 is not supported yet"],
                ["2001:db8::", "is an IPv6 address; IPv6 is not supported yet"],
            ];
            for (const [input, problem] of cases) {
                const r = parseCidr(input);
                assert.ok(!r.ok, input);
                assert.equal(r.problem, problem, input);
            }
        });

        it("handles IPv6 blocks when allowed (no broadcast)", () => {
            const r = parseCidr("2001:db8::/64", ["ipv6"]);
            assert.ok(r.ok);
            assert.equal(r.value.toString(), "2001:db8::/64");
            assert.equal(broadcastAddress(r.value), undefined);
            const bad = parseCidr("2001:db8::1/64", ["ipv6"]);
            assert.ok(!bad.ok);
            assert.equal(bad.problem, "has host bits set; did you mean 2001:db8::/64?");
        });
    });

    it("has no broadcast address for /31 and /32 (RFC 3021)", () => {
        assert.equal(broadcastAddress(cidr("192.0.2.0/31")), undefined);
        assert.equal(broadcastAddress(cidr("192.0.2.7/32")), undefined);
        assert.equal(broadcastAddress(cidr("192.0.2.4/30"))?.toString(), "192.0.2.7");
    });

    it("contains and overlaps on fixed cases", () => {
        const net = cidr("198.51.100.0/24");
        assert.ok(contains(net, addr("198.51.100.0")));
        assert.ok(contains(net, addr("198.51.100.255")));
        assert.ok(!contains(net, addr("198.51.101.0")));
        assert.ok(!contains(net, addr("10.9.9.9")));
        assert.ok(contains(net, cidr("198.51.100.128/25")));
        assert.ok(!contains(net, cidr("198.51.100.0/23")));
        assert.ok(overlaps(net, cidr("198.51.100.0/25")));
        assert.ok(overlaps(cidr("198.51.100.0/25"), net));
        assert.ok(!overlaps(cidr("198.51.100.0/25"), cidr("198.51.100.128/25")));
        const v6 = parseCidr("2001:db8::/32", ["ipv6"]);
        assert.ok(v6.ok);
        assert.ok(!overlaps(cidr("0.0.0.0/0"), v6.value));
        assert.ok(!contains(cidr("0.0.0.0/0"), Address.fromValue("ipv6", 1n)));
    });

    it("nthAddress counts from the network address", () => {
        const net = cidr("203.0.113.0/24");
        assert.equal(nthAddress(net, 0n)?.toString(), "203.0.113.0");
        assert.equal(nthAddress(net, 255n)?.toString(), "203.0.113.255");
        assert.equal(nthAddress(net, 256n), undefined);
        assert.equal(nthAddress(net, -1n), undefined);
    });

    describe("properties against integer math on random IPv4 blocks", () => {
        const block = fc.record({ base: fc.integer({ min: 0, max: 0xffffffff }), prefix: fc.integer({ min: 0, max: 32 }) }).map(({ base, prefix }) => {
            const size = 2 ** (32 - prefix);
            const first = Math.floor(base / size) * size;
            return { first, last: first + size - 1, prefix, c: Cidr.containing(v4(base), prefix) };
        });

        it("Cidr.containing clears host bits and parses back to itself", () => {
            fc.assert(
                fc.property(block, ({ first, last, prefix, c }) => {
                    assert.equal(toInt(c.first().toString()), first);
                    assert.equal(toInt(c.last().toString()), last);
                    const r = parseCidr(c.toString());
                    assert.ok(r.ok);
                    assert.equal(r.value.toString(), c.toString());
                    assert.equal(r.value.prefix, prefix);
                }),
            );
        });

        it("parseCidr with host bits suggests exactly the masked block", () => {
            fc.assert(
                fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }), (n, prefix) => {
                    const a = v4(n).toString();
                    const r = parseCidr(`${a}/${prefix}`);
                    const size = 2 ** (32 - prefix);
                    const first = Math.floor(n / size) * size;
                    if (first === n) assert.ok(r.ok);
                    else {
                        assert.ok(!r.ok);
                        assert.equal(r.problem, `has host bits set; did you mean ${v4(first).toString()}/${prefix}?`);
                    }
                }),
            );
        });

        it("contains(address) agrees with first <= n <= last", () => {
            fc.assert(
                fc.property(block, fc.integer({ min: 0, max: 0xffffffff }), ({ first, last, c }, n) => {
                    assert.equal(contains(c, v4(n)), n >= first && n <= last);
                }),
            );
        });

        it("contains(block) and overlaps(block) agree with interval math", () => {
            fc.assert(
                fc.property(block, block, (a, b) => {
                    assert.equal(contains(a.c, b.c), b.first >= a.first && b.last <= a.last);
                    assert.equal(overlaps(a.c, b.c), a.first <= b.last && b.first <= a.last);
                    assert.equal(overlaps(a.c, b.c), overlaps(b.c, a.c));
                }),
            );
        });

        it("network and broadcast addresses are the first and last addresses", () => {
            fc.assert(
                fc.property(block, ({ first, last, prefix, c }) => {
                    assert.equal(toInt(networkAddress(c).toString()), first);
                    const b = broadcastAddress(c);
                    if (prefix <= 30) assert.equal(b === undefined ? -1 : toInt(b.toString()), last);
                    else assert.equal(b, undefined);
                }),
            );
        });
    });

    describe("blocks no LAN may hold", () => {
        const name = (b: { name: string } | undefined) => b?.name;

        it("lists \"this network\", loopback, link-local, multicast and the limited broadcast", () => {
            assert.deepEqual(
                NON_LAN_IPV4.map((b) => b.block.toString()),
                ["0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "255.255.255.255/32"],
            );
        });

        it("finds the block a subnet lies in or covers", () => {
            assert.equal(name(nonLanBlockOverlapping(cidr("127.0.0.0/8"))), "loopback (127.0.0.0/8)");
            assert.equal(name(nonLanBlockOverlapping(cidr("127.1.2.0/24"))), "loopback (127.0.0.0/8)");
            assert.equal(name(nonLanBlockOverlapping(cidr("169.254.0.0/16"))), "link-local (169.254.0.0/16)");
            assert.equal(name(nonLanBlockOverlapping(cidr("169.0.0.0/8"))), "link-local (169.254.0.0/16)");
            assert.equal(name(nonLanBlockOverlapping(cidr("239.1.0.0/16"))), "multicast (224.0.0.0/4)");
            assert.equal(name(nonLanBlockOverlapping(cidr("255.255.255.255/32"))), "the limited broadcast (255.255.255.255)");
            assert.equal(name(nonLanBlockOverlapping(cidr("240.0.0.0/4"))), "the limited broadcast (255.255.255.255)");
            assert.equal(name(nonLanBlockOverlapping(cidr("0.0.0.0/0"))), '"this network" (0.0.0.0/8)');
        });

        it("finds none for the documentation, private and benchmarking ranges, or next to the blocks", () => {
            for (const c of ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "198.18.0.0/15", "1.0.0.0/8", "126.0.0.0/8", "128.0.0.0/8", "169.253.0.0/16", "223.255.255.0/24"]) {
                assert.equal(nonLanBlockOverlapping(cidr(c)), undefined, c);
            }
        });

        it("finds the block of an address no host may have (link-local and loopback are a host's)", () => {
            assert.equal(name(nonHostBlockOf(addr("0.0.0.0"))), '"this network" (0.0.0.0/8)');
            assert.equal(name(nonHostBlockOf(addr("224.0.0.1"))), "multicast (224.0.0.0/4)");
            assert.equal(name(nonHostBlockOf(addr("255.255.255.255"))), "the limited broadcast (255.255.255.255)");
            assert.equal(nonHostBlockOf(addr("169.254.1.1")), undefined);
            assert.equal(nonHostBlockOf(addr("127.0.0.1")), undefined);
            assert.equal(nonHostBlockOf(addr("198.51.100.145")), undefined);
            assert.equal(nonHostBlockOf(addr("255.255.255.254")), undefined);
        });

        it("agrees with interval math on random blocks", () => {
            fc.assert(
                fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }), (n, prefix) => {
                    const c = Cidr.containing(v4(n), prefix);
                    const first = Number(c.first().value);
                    const last = Number(c.last().value);
                    const hit = NON_LAN_IPV4.find((b) => Number(b.block.first().value) <= last && first <= Number(b.block.last().value));
                    assert.equal(nonLanBlockOverlapping(c), hit);
                }),
            );
        });
    });

    describe("IPv6 blocks no LAN may hold", () => {
        const c6 = (s: string): Cidr => {
            const r = parseCidr(s, POOL_FAMILIES);
            if (!r.ok) throw new Error(`${s} ${r.problem}`);
            return r.value;
        };
        it("lists the unspecified address, loopback, IPv4-mapped, link-local and multicast, and finds the one a subnet touches", () => {
            assert.deepEqual(NON_LAN_IPV6.map((b) => b.block.toString()), ["::/128", "::1/128", "::ffff:0:0/96", "fe80::/10", "ff00::/8"]);
            assert.equal(nonLanBlockOverlapping(c6("fe80::/64"))?.block.toString(), "fe80::/10");
            assert.equal(nonLanBlockOverlapping(c6("fe00::/7"))?.block.toString(), "fe80::/10");
            assert.equal(nonLanBlockOverlapping(c6("ff02::/16"))?.block.toString(), "ff00::/8");
            assert.equal(nonLanBlockOverlapping(c6("::/64"))?.block.toString(), "::/128");
            for (const ok of ["2001:db8::/32", "2001:db8::/64", "fd00::/8", "fc00::/7", "fec0::/10", "::2/127"]) assert.equal(nonLanBlockOverlapping(c6(ok)), undefined, ok);
            // An IPv4 block is checked against the IPv4 list only.
            assert.equal(nonLanBlockOverlapping(cidr("198.51.100.0/24")), undefined);
        });

        it("agrees with interval math on random IPv6 blocks", () => {
            fc.assert(
                fc.property(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), fc.integer({ min: 0, max: 128 }), fc.constantFrom(0n, 0xfe80n << 112n, 0xff00n << 112n, 0xffffn << 32n), (n, prefix, near) => {
                    // Half the draws land next to a listed block.
                    const value = n % 2n === 0n ? n : (near + (n >> 100n)) & ((1n << 128n) - 1n);
                    const c = Cidr.containing(Address.fromValue("ipv6", value), prefix);
                    const hit = NON_LAN_IPV6.find((b) => b.block.first().value <= c.last().value && c.first().value <= b.block.last().value);
                    assert.equal(nonLanBlockOverlapping(c), hit);
                }),
            );
        });

        it("an IPv6 block has no broadcast: its last address is an ordinary one", () => {
            assert.equal(broadcastAddress(c6("2001:db8::/64")), undefined);
            assert.equal(networkAddress(c6("2001:db8::/64")).toString(), "2001:db8::");
        });
    });
});
