/** Derived names (components/net/names.ts): slugs, VLAN links, and the released child names. */
import * as assert from "node:assert/strict";
import { addressSlug, hostChildNames, networkChildNames, segmentLink, vlanLink } from "../../components/net/names";

describe("names", () => {
    it("slugs addresses and CIDRs of either family", () => {
        assert.equal(addressSlug("198.51.100.12/32"), "198-51-100-12-32");
        assert.equal(addressSlug("2001:db8::/64"), "2001-db8---64");
    });

    it("names a VLAN sub-interface <parent>.<id>, and a segment's link the parent when untagged", () => {
        assert.equal(vlanLink("ens33", 50), "ens33.50");
        assert.equal(segmentLink("ens33", 50), "ens33.50");
        assert.equal(segmentLink("ens33", undefined), "ens33");
    });

    it("keeps the released child names", () => {
        const h = hostChildNames;
        assert.deepEqual(
            [h.preflight("n1"), h.promisc("n1"), h.ipForward("n1"), h.vlan("n1", 50), h.shim("n1"), h.shimRoute("n1", "192.0.2.15/32"), h.dockerProvider("n1")],
            ["n1-preflight", "n1-promisc", "n1-ipforward", "n1-vlan50", "n1-shim", "n1-shim-route-192-0-2-15-32", "n1-docker"],
        );
        const n = networkChildNames;
        assert.deepEqual([n.network("lan", "n1"), n.image("lan", "n1", "web"), n.container("lan", "n1", "web")], ["lan-n1", "lan-n1-web-image", "lan-n1-web"]);
    });
});
