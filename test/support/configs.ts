/**
 * Fixtures of stack configs for the validation specs, and how a spec reads the problems of a
 * config that must fail. Pure: loads no mocks.
 */
import * as assert from "node:assert/strict";
import { parseStackConfig, type RawStackConfig } from "../../components/config/parse";
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
export function cfg(hosts: unknown[], networks: unknown[] = []): RawStackConfig {
    return { hosts, networks };
}

/** One network with the given containers on node1 and node2. */
export function withContainers(containers: unknown[], net: Raw = {}, hosts: unknown[] = [node1(), node2()]): RawStackConfig {
    return cfg(hosts, [pubNet({ containers, ...net })]);
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
