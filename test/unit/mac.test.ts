import * as assert from "node:assert/strict";
import fc from "fast-check";
import { Address, parseAddress } from "../../components/net/addr";
import { defaultMac, isLocallyAdministeredMac, isMulticastMac, isUnicastMac, macFromIpv4, normalizeMac, parseMac } from "../../components/net/mac";

function v4(s: string): Address {
    const r = parseAddress(s);
    if (!r.ok) throw new Error(r.problem);
    return r.value;
}

describe("mac", () => {
    it("parses and lower-cases unicast MACs", () => {
        assert.deepEqual(parseMac("02:42:C6:33:64:0C"), { ok: true, value: "02:42:c6:33:64:0c" });
        assert.equal(normalizeMac("AA:BB:CC:DD:EE:FF"), "aa:bb:cc:dd:ee:ff");
    });

    it("says what is wrong", () => {
        const cases: [string, string][] = [
            ["02-42-c6-33-64-0c", "is not a MAC address xx:xx:xx:xx:xx:xx (hex)"],
            ["02:42:c6:33:64", "is not a MAC address xx:xx:xx:xx:xx:xx (hex)"],
            ["", "is not a MAC address xx:xx:xx:xx:xx:xx (hex)"],
            ["01:00:5e:00:00:01", "is a multicast MAC (lowest bit of the first byte set); use a unicast MAC such as 02:..."],
            ["ff:ff:ff:ff:ff:ff", "is a multicast MAC (lowest bit of the first byte set); use a unicast MAC such as 02:..."],
            ["00:00:00:00:00:00", "is the all-zero MAC"],
        ];
        for (const [input, problem] of cases) assert.deepEqual(parseMac(input), { ok: false, problem }, input);
    });

    it("classifies multicast, locally administered and unicast", () => {
        assert.ok(isMulticastMac("33:33:00:00:00:01"));
        assert.ok(!isMulticastMac("02:42:00:00:00:01"));
        assert.ok(isLocallyAdministeredMac("02:42:00:00:00:01"));
        assert.ok(!isLocallyAdministeredMac("00:0c:29:f1:38:bf"));
        assert.ok(isUnicastMac("00:0c:29:f1:38:bf"));
        assert.ok(!isUnicastMac("00:00:00:00:00:00"));
        assert.ok(!isUnicastMac("not-a-mac"));
    });

    it("derives Docker's legacy MAC from an IPv4 address", () => {
        // The field notes' `docker network inspect` shows exactly these pairs.
        assert.equal(macFromIpv4(v4("192.168.128.233")), "02:42:c0:a8:80:e9");
        assert.equal(macFromIpv4(v4("192.168.128.222")), "02:42:c0:a8:80:de");
        assert.equal(macFromIpv4(v4("198.51.100.12")), "02:42:c6:33:64:0c");
        assert.equal(defaultMac(v4("203.0.113.1")), "02:42:cb:00:71:01");
        assert.equal(defaultMac(Address.fromValue("ipv6", 1n)), undefined);
        assert.throws(() => macFromIpv4(Address.fromValue("ipv6", 1n)), /needs an IPv4 address/);
    });

    it("derived MACs are valid, unicast, locally administered and distinct for distinct addresses (property)", () => {
        fc.assert(
            fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), (a, b) => {
                const ma = macFromIpv4(Address.fromValue("ipv4", BigInt(a)));
                const mb = macFromIpv4(Address.fromValue("ipv4", BigInt(b)));
                for (const m of [ma, mb]) {
                    assert.deepEqual(parseMac(m), { ok: true, value: m });
                    assert.ok(isUnicastMac(m) && isLocallyAdministeredMac(m));
                }
                assert.equal(ma === mb, a === b);
                assert.equal(parseInt(ma.slice(6).replace(/:/g, ""), 16), a);
            }),
        );
    });
});
