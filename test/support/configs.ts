/**
 * Fixtures of stack configs for the validation specs, and how a spec reads the problems of a
 * config that must fail. Pure: loads no mocks.
 */
import * as assert from "node:assert/strict";
import { parseStackConfig, type RawStackConfig } from "../../components/config/parse";
import { parseAddress, parseCidr, sliceAt, type Address, type Cidr } from "../../components/net/addr";
import { formatProblems, MacvlanConfigError } from "../../components/net/problems";

export type Raw = Record<string, unknown>;

/** A pinned host key for the fixtures (a made-up ed25519 key: 32 bytes of base64). */
export const ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIObw31n2MGR/TVqGBf3Iqzs7FZSsUzRRJ7PHEeSUyNr4";

/** The field notes' two VMs on one subnet, moved to documentation ranges. */
export function node1(over: Raw = {}): Raw {
    return { name: "node1", address: "198.51.100.145", hostKey: ED25519, parent: "ens33", ...over };
}
export function node2(over: Raw = {}): Raw {
    return { name: "node2", address: "198.51.100.146", hostKey: ED25519, parent: "ens33", ...over };
}
export function pubNet(over: Raw = {}): Raw {
    return { name: "pub_net", subnet: "198.51.100.0/24", gateway: "198.51.100.1", ...over };
}
export function web(over: Raw = {}): Raw {
    return { name: "web", host: "node1", image: "nginx:1.27", ip: "198.51.100.12", ...over };
}
/**
 * A stack config of these hosts and networks. A network that spans several hosts must give each
 * its own slice of the dynamic range (config/slices.ts); so that the specs of other rules need not
 * restate an address plan, `cfg` gives such a network `slices` when the spec wrote neither
 * `slices` nor `sliceSize` (`fixtureSlices`). Specs of the slice rules write theirs, or build the
 * config with `rawCfg`, which adds nothing.
 */
export function cfg(hosts: unknown[], networks: unknown[] = []): RawStackConfig {
    return { hosts, networks: fixtureSlices(hosts, networks) };
}

/** A stack config exactly as given (no fixture slices). */
export function rawCfg(hosts: unknown[], networks: unknown[] = []): RawStackConfig {
    return { hosts, networks };
}

/** One network with the given containers on node1 and node2. */
export function withContainers(containers: unknown[], net: Raw = {}, hosts: unknown[] = [node1(), node2()]): RawStackConfig {
    return cfg(hosts, [pubNet({ containers, ...net })]);
}

/** Every IPv4 address written anywhere in a raw config (in any string: addresses, CIDRs, keys' values). */
function addressesIn(v: unknown, out: Address[] = []): Address[] {
    if (typeof v === "string") {
        for (const m of v.matchAll(/\d{1,3}(?:\.\d{1,3}){3}/g)) {
            const a = parseAddress(m[0]);
            if (a.ok) out.push(a.value);
        }
    } else if (Array.isArray(v)) v.forEach((x) => addressesIn(x, out));
    else if (typeof v === "object" && v !== null) Object.values(v).forEach((x) => addressesIn(x, out));
    return out;
}

/**
 * The networks, each one that spans several hosts (its `hosts`, else every host entry with a
 * string name) and has one valid IPv4 `subnet` (and `ipRange`, when given: the shorthand, or one
 * IPv4 pool of `ipam`) but no `slices`/`sliceSize`
 * given a /29 per host: the highest blocks of its ipRange (else its subnet) that hold no address
 * the config writes anywhere and overlap no slice given before. Out of the way of every rule but
 * the slices' own; a network where that cannot be done is left as it is.
 */
function fixtureSlices(hosts: unknown[], networks: unknown[]): unknown[] {
    const named = hosts.flatMap((h) => (typeof h === "object" && h !== null && typeof (h as Raw)["name"] === "string" ? [(h as Raw)["name"] as string] : []));
    const written = addressesIn({ hosts, networks });
    const taken: Cidr[] = [];
    return networks.map((raw) => {
        if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return raw;
        const n = raw as Raw;
        if ("slices" in n || "sliceSize" in n) return n;
        const span = Array.isArray(n["hosts"]) ? (n["hosts"] as unknown[]).filter((h): h is string => typeof h === "string") : named;
        // The one-pool shorthand, or an `ipam` list with one IPv4 pool (slices divide an IPv4 pool).
        const v4 = Array.isArray(n["ipam"]) ? (n["ipam"] as Raw[]).filter((x) => typeof x?.["subnet"] === "string" && !String(x["subnet"]).includes(":")) : [n];
        if (span.length < 2 || v4.length !== 1 || typeof v4[0]["subnet"] !== "string") return n;
        const subnet = parseCidr(v4[0]["subnet"]);
        const range = typeof v4[0]["ipRange"] === "string" ? parseCidr(v4[0]["ipRange"]) : subnet;
        if (!subnet.ok || !range.ok || range.value.prefix > 29) return n;
        const slices: Record<string, string> = {};
        let k = (range.value.size >> 3n) - 1n;
        for (const h of span) {
            for (; k >= 0n; k--) {
                const block = sliceAt(range.value, 29, k);
                if (block === undefined || written.some((a) => block.contains(a)) || taken.some((t) => t.overlaps(block))) continue;
                slices[h] = block.toString();
                taken.push(block);
                k--;
                break;
            }
        }
        return Object.keys(slices).length === span.length ? { ...n, slices } : n;
    });
}

/** The problems of a config that must fail, asserting the error type and message shape. */
export function problemsOf(raw: RawStackConfig): string[] {
    try {
        parseStackConfig(raw);
    } catch (e) {
        assert.ok(e instanceof MacvlanConfigError, `expected MacvlanConfigError, got ${String(e)}`);
        assert.equal(e.message, formatProblems(e.problems));
        return [...e.problems];
    }
    assert.fail("expected a MacvlanConfigError, but the config was accepted");
}

export function expectProblems(raw: RawStackConfig, expected: string[]): void {
    assert.deepEqual(problemsOf(raw), expected);
}

/** Asserts the config is accepted (with the problems in the message when it is not). */
export function expectValid(raw: RawStackConfig): void {
    try {
        parseStackConfig(raw);
    } catch (e) {
        assert.fail(`expected the config to be accepted:\n${e instanceof Error ? e.message : String(e)}`);
    }
}
