/**
 * Using a running lab's hosts: SSH (sshArgs, labExec), Docker through `ssh://` (labEnv, labDocker,
 * ensureImage) and the hairpin setting of a host's switch port (setHairpin, getHairpin).
 */
import { CLEAN_ENV, run, shq } from "./proc";
import { labHost, readLab } from "./state";
import { DOCKER, LAB_FILES, LAB_IMAGE, SWITCH_NETNS } from "./types";
import type { ExecOptions, ExecResult, Lab, LabHost } from "./types";

/** ssh arguments for a lab host, without the remote command: `ssh ${args} -- <command>`. */
export function sshArgs(host: LabHost, lab: Pick<Lab, "sshConfigPath"> = readLab()): string[] {
    return ["-F", lab.sshConfigPath, "-p", String(host.port), "-l", host.user, host.address];
}

/**
 * Run `script` on a lab host over real SSH (the lab key, the pinned host key, BatchMode), as
 * remote.Command does: the script is the command line the remote user's shell runs.
 * Resolves with the exit code (255: SSH itself failed) unless `check` is set.
 */
export async function labExec(hostName: string, script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const lab = readLab();
    const host = labHost(hostName, lab);
    const r = await run("/usr/bin/ssh", [...sshArgs(host, lab), "--", script], {
        input: opts.stdin,
        timeoutMs: opts.timeoutMs,
        allowFail: true,
    });
    if (opts.check && r.code !== 0) {
        throw new Error(`${hostName}: exit ${r.code} from ${JSON.stringify(script.slice(0, 200))}\n${r.stderr || r.stdout}`);
    }
    return r;
}

/** The environment for running `docker -H ssh://…` (or anything using `ssh`) against the lab. */
export function labEnv(lab: Pick<Lab, "binDir"> = readLab()): Record<string, string> {
    return { ...CLEAN_ENV, PATH: `${lab.binDir}:${CLEAN_ENV.PATH}` };
}

/** Run Debian's docker client (the engine's version) against a lab host through `ssh://`. */
export async function labDocker(hostName: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const lab = readLab();
    const host = labHost(hostName, lab);
    const r = await run(DOCKER, ["-H", host.dockerHost, ...args], {
        env: labEnv(lab),
        input: opts.stdin,
        timeoutMs: opts.timeoutMs,
        allowFail: true,
    });
    if (opts.check && r.code !== 0) throw new Error(`${hostName}: docker ${args.join(" ")}: exit ${r.code}\n${r.stderr}`);
    return r;
}

/**
 * Make `ref` (default `local/busybox:1`) exist in a host's engine: `docker import` of the lab's
 * busybox rootfs (busybox-static plus applet links: sh, ping, ip, ifconfig, nc, wget, httpd,
 * udhcpc, …; `/www/index.html` for httpd), run on the host over SSH. Any `ref` gets that same
 * content: there is no registry in the lab, so a stack's image names resolve to busybox.
 * Returns the image id. Idempotent.
 */
export async function ensureImage(host: string | LabHost, ref: string = LAB_IMAGE): Promise<string> {
    const name = typeof host === "string" ? host : host.name;
    if (!/^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$/.test(ref)) {
        throw new Error(`ensureImage: not an image reference: ${JSON.stringify(ref)}`);
    }
    const script =
        `docker image inspect ${shq(ref)} >/dev/null 2>&1 || ` +
        `docker import -c ${shq('CMD ["/bin/sh"]')} -m 'pulumi-macvlan lab busybox' ${shq(LAB_FILES.tarball)} ${shq(ref)} >/dev/null && ` +
        `docker image inspect --format '{{.Id}}' ${shq(ref)}`;
    const r = await labExec(name, script, { check: true, timeoutMs: 180_000 });
    return r.stdout.trim();
}

/** Switch hairpin (reflective relay, what VEPA mode needs) on or off on a host's switch port. */
export async function setHairpin(host: string | LabHost, on: boolean): Promise<void> {
    const h = typeof host === "string" ? labHost(host) : host;
    await run("/usr/sbin/bridge", ["-n", SWITCH_NETNS, "link", "set", "dev", h.bridgePort, "hairpin", on ? "on" : "off"]);
}

/** Whether a host's switch port hairpins. */
export async function getHairpin(host: string | LabHost): Promise<boolean> {
    const h = typeof host === "string" ? labHost(host) : host;
    const r = await run("/usr/sbin/ip", ["-n", SWITCH_NETNS, "-j", "-d", "link", "show", "dev", h.bridgePort]);
    const info = (JSON.parse(r.stdout) as { linkinfo?: { info_slave_data?: { hairpin?: boolean } } }[])[0];
    const v = info?.linkinfo?.info_slave_data?.hairpin;
    if (typeof v !== "boolean") throw new Error(`cannot read hairpin of ${h.bridgePort}: ${r.stdout}`);
    return v;
}
