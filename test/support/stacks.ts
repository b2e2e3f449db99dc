/** The example stacks of stacks/ as configs (STACKS, stackConfig, withKey, clone); pure: loads no mocks and no code under test. */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { TEST_PRIVATE_KEY } from "./keys";

/** The example stacks in stacks/. */
export const STACKS = ["twohosts", "compose", "modes"] as const;
export type StackName = (typeof STACKS)[number];

/** The `config:` map of `stacks/Pulumi.<name>.yaml`. */
export function stackConfig(name: StackName): Record<string, unknown> {
    const file = path.join(__dirname, "..", "..", "stacks", `Pulumi.${name}.yaml`);
    const doc = yaml.load(readFileSync(file, "utf8")) as { config: Record<string, unknown> };
    return doc.config;
}

/** A stack config plus the private key TEST_PRIVATE_KEY of ./keys.ts (set as a secret by `runProgram`). */
export function withKey(config: Record<string, unknown>): Record<string, unknown> {
    return { ...config, "macvlan:sshPrivateKey": TEST_PRIVATE_KEY };
}

/** A deep copy, to edit a config without touching the original. */
export function clone<T>(v: T): T {
    return JSON.parse(JSON.stringify(v)) as T;
}
