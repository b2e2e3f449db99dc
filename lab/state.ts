/**
 * The recorded lab: the state file `lab.json` under the lab dir (read, written, turned into the
 * `Lab` callers get), the stack file `stacks/Pulumi.lab.yaml`, and the lookups built on them
 * (readLab, labHost).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { renderLabStack, secretsKeyLines } from "./stack";
import { LAB_STACK_PATH, STATE_FILE } from "./types";
import type { Lab, LabHost, LabState } from "./types";

export function readState(): LabState | undefined {
    try {
        const st = JSON.parse(fs.readFileSync(STATE_FILE, "utf8")) as LabState;
        return st.version === 1 ? st : undefined;
    } catch {
        return undefined;
    }
}

export function writeState(st: LabState): void {
    const tmp = `${STATE_FILE}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(st, null, 2) + "\n", { mode: 0o600 });
    fs.renameSync(tmp, STATE_FILE);
}

export function withKey(st: LabState): Lab {
    const lab: Record<string, unknown> = { ...st, privateKey: fs.readFileSync(st.privateKeyPath, "utf8") };
    delete lab.runNetnsPreexisting;
    delete lab.codeHash;
    return lab as unknown as Lab;
}

export function writeStack(st: LabState): void {
    fs.mkdirSync(path.dirname(LAB_STACK_PATH), { recursive: true });
    const old = fs.existsSync(LAB_STACK_PATH) ? fs.readFileSync(LAB_STACK_PATH, "utf8") : "";
    fs.writeFileSync(LAB_STACK_PATH, renderLabStack({ ...st, privateKey: "" }, secretsKeyLines(old)));
}

/** The running lab (throws when there is none). */
export function readLab(): Lab {
    const st = readState();
    if (!st) throw new Error(`no lab is running (no ${STATE_FILE}): run \`npm run lab:up\` as root`);
    return withKey(st);
}

/** A lab host by name (throws for an unknown name). */
export function labHost(name: string, lab: Lab = readLab()): LabHost {
    const h = lab.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no lab host ${JSON.stringify(name)}; the lab has ${lab.hosts.map((x) => x.name).join(", ")}`);
    return h;
}
