import * as assert from "node:assert/strict";
import { addressSlug } from "../../components/plan/names";

describe("names", () => {
    it("slugs addresses and CIDRs of either family", () => {
        assert.equal(addressSlug("198.51.100.12/32"), "198-51-100-12-32");
        assert.equal(addressSlug("2001:db8::/64"), "2001-db8---64");
    });
});
