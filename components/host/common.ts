/**
 * The shared shell of the host scripts, read from lib/*.sh (see shellFiles.ts for their format):
 * the prologue, finding iproute2's `ip`, messages and preflight checks, reading links, state
 * files, the host lock, the boot runner and unit; plus the few lines built from values here (the
 * variable assignments and the fixed paths). Text only; pure apart from reading the files once.
 *
 * Rules for all of it: POSIX sh only; no backslash anywhere (wrapSh refuses it, for fish); a value
 * reaches the text only through `shq` after a strict check; helpers used in `if`/`&&` context
 * never rely on `set -e` (it is off there), helpers called as plain commands fail loudly under it.
 */
import { HOST_PATHS, type ShellVars } from "./feature";
import { shq } from "./shell";
import { readHostFile, readShellParts, readShellText } from "./shellFiles";

/** `NAME='value'` lines; the only place values enter a script. */
export function assigns(vars: ShellVars): string {
    return vars.map(([k, v]) => `${k}=${shq(v)}`).join("\n");
}

/** Fixed paths (constants of this module, not config values: plain double quotes suffice). */
export const PATH_VARS = [
    `STATE_ROOT="${HOST_PATHS.stateRoot}"`,
    `BOOT_ROOT="${HOST_PATHS.bootRoot}"`,
    `RUNNER="${HOST_PATHS.runner}"`,
    `UNIT="${HOST_PATHS.unit}"`,
    `WANTS="${HOST_PATHS.wantsDir}"`,
    `WANTS_LINK="${HOST_PATHS.wantsLink}"`,
    `LOCK="${HOST_PATHS.lock}"`,
].join("\n");

/** The start of every create, delete and preflight script. */
export const PROLOGUE = readShellText("lib/prologue.sh");
/** Finds iproute2's `ip` (not busybox's) and defines the function `ip` calling it. */
export const LIB_IP = readShellText("lib/ip.sh");
/** Messages, preflight checks. Needs H, pm_who and LIB_IP. */
export const LIB_CORE = readShellText("lib/core.sh");
/** Reading links: pm_flags, pm_has, pm_same. */
export const LIB_LINK = readShellText("lib/link.sh");
/** State, atomic files, the lock, boot config. Needs PATH_VARS, K, D, FRAGMENT, LIB_LINK, pm_measure, pm_fragment. */
export const LIB_STATE = readShellText("lib/state.sh");
/** What a boot fragment waiting for links has after LIB_IP: refuse without iproute2, pm_wait_link. */
export const LIB_FRAGMENT = readShellText("lib/fragment.sh");
/** What a feature script runs for create and delete, and the body of its undo script. */
export const MAIN = readShellParts("lib/main.sh", ["create", "delete", "undo"]);
/** The host preflight's checks (renderPreflight). */
export const PREFLIGHT = readShellParts("lib/preflight.sh", ["checks", "vlan", "docker", "done"]);
/** The drift probe's prologue and library (renderProbe). */
export const PROBE = readShellParts("lib/probe.sh", ["prologue", "lib", "facts"]);

/** The exact text of the runner and the unit the scripts install (for tests and docs). */
export const BOOT_RUNNER_TEXT = readHostFile("lib/runner.sh");
export const BOOT_UNIT_TEXT = readHostFile("lib/pulumi-macvlan.service");

/** A shell function named `name` that prints `text` exactly (text ends with a newline). */
export function printer(name: string, text: string): string {
    return `${name}() {\n    cat <<"PM_EOF"\n${text}PM_EOF\n}`;
}

/** The runner and the unit, as shell functions printing their exact text. */
export const LIB_BOOT_TEXT = `${printer("pm_runner", BOOT_RUNNER_TEXT)}\n${printer("pm_unit", BOOT_UNIT_TEXT)}`;
