/**
 * INTERFACE STUB (owned by the validation work): parse and validate the raw stack config.
 * The implementation replaces this file; the exported names below are the contract.
 */
import type { StackModel } from "./model";

/** The two structured config keys as read from Pulumi config (`config.getObject`), unvalidated. */
export interface RawStackConfig {
    readonly hosts: unknown;
    readonly networks: unknown;
}

/** Every problem found, each `<path> <value> <rule>`; thrown once, before anything is registered. */
export declare class MacvlanConfigError extends Error {
    readonly problems: readonly string[];
    constructor(problems: readonly string[]);
}

/** Parse, normalize (defaults, derived MACs) and validate; throws MacvlanConfigError listing all problems. */
export declare function parseStackConfig(raw: RawStackConfig): StackModel;
