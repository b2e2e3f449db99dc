/** The example stacks of stacks/ as configs (STACKS, stackConfig, withKey, secretEnvValue, declaresSecretEnv, clone); pure: loads no mocks and no code under test. */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { fakeHostKey, TEST_PRIVATE_KEY } from "./keys";

/** The example stacks in stacks/. */
export const STACKS = ["twohosts", "compose", "modes"] as const;
export type StackName = (typeof STACKS)[number];

/** The `config:` map of `stacks/Pulumi.<name>.yaml`. */
export function stackConfig(name: StackName): Record<string, unknown> {
    const file = path.join(__dirname, "..", "..", "stacks", `Pulumi.${name}.yaml`);
    const doc = yaml.load(readFileSync(file, "utf8")) as { config: Record<string, unknown> };
    return doc.config;
}

/** The test value of env `name` of container `container`, where its `secretEnv` lists it. */
export function secretEnvValue(container: string, name: string): string {
    return `s3cret-${container}-${name}`;
}

type RawContainer = { name?: unknown; env?: Record<string, unknown>; secretEnv?: unknown };

/** The containers of a config's macvlan:networks (as far as it is a list of networks with lists of containers). */
function containersOf(config: Record<string, unknown>): RawContainer[] {
    const networks = config["macvlan:networks"];
    if (!Array.isArray(networks)) return [];
    return networks.flatMap((n: { containers?: unknown }) => (Array.isArray(n?.containers) ? (n.containers as RawContainer[]) : []));
}

/** True when a container of the config lists `secretEnv`: its values were set with `pulumi config set --secret --path`, so macvlan:networks is a secret key. */
export function declaresSecretEnv(config: Record<string, unknown>): boolean {
    return containersOf(config).some((c) => Array.isArray(c.secretEnv) && c.secretEnv.length > 0);
}

/**
 * A stack config plus the secrets a user sets with the CLI: the private key TEST_PRIVATE_KEY of
 * ./keys.ts, and `secretEnvValue` for each name a container lists in `secretEnv` (that are not set).
 * `runProgram` marks them secret (macvlan:networks when `declaresSecretEnv`).
 */
export function withKey(config: Record<string, unknown>): Record<string, unknown> {
    const out = clone({ ...config, "macvlan:sshPrivateKey": TEST_PRIVATE_KEY });
    for (const c of containersOf(out)) {
        if (!Array.isArray(c.secretEnv)) continue;
        for (const name of c.secretEnv) {
            if (typeof name !== "string" || typeof c.name !== "string") continue;
            c.env = { ...(c.env ?? {}) };
            if (!Object.prototype.hasOwnProperty.call(c.env, name)) c.env[name] = secretEnvValue(c.name, name);
        }
    }
    return out;
}

/** A deep copy, to edit a config without touching the original. */
export function clone<T>(v: T): T {
    return JSON.parse(JSON.stringify(v)) as T;
}

/**
 * stacks/Pulumi.modes.yaml (with the test key) plus a third host `node3` given by DNS name
 * (`node3.example.net`, parent eth0, VLAN 70, pinned to `fakeHostKey("node3")`), on no network
 * of its own but priv_net (which spans every host, node3 with slice 198.51.100.160/27): for the
 * checks of several hosts' probes.
 */
export function threeHostsConfig(): Record<string, unknown> {
    const config = withKey(stackConfig("modes"));
    (config["macvlan:hosts"] as unknown[]).push({ name: "node3", address: "node3.example.net", hostKey: fakeHostKey("node3"), parent: "eth0", vlans: [70] });
    // priv_net spans every host, so node3 gets its own slice of its ipRange.
    const privNet = (config["macvlan:networks"] as { name: string; slices: Record<string, string> }[]).find((n) => n.name === "priv_net");
    if (privNet === undefined) throw new Error("stacks/Pulumi.modes.yaml has no priv_net");
    privNet.slices["node3"] = "198.51.100.160/27";
    return config;
}
