/**
 * The drift probe of any size, and the host's facts it reports, against a REAL OpenSSH server:
 * the lab's node1 (lab/), with the real `sshProber` (ssh2) and the host's pinned key.
 *
 * (a) a shim and 500 `/32` routes: the probe script is well over Linux's 128 KiB limit on one
 *     argument (MAX_ARG_STRLEN), which a `/bin/sh -c '<script>'` exec command hits (E2BIG); sent
 *     on the stdin of `/bin/sh -s`, it runs, and every one of the 501 keys gets a token;
 * (b) the `@machine-id=` and `@addr=` lines are the host's own: its /etc/machine-id (read over
 *     SSH, and the id the lab gave it) and the address of its eth0;
 * (c) the `@parent=` and `@docker=` lines: its eth0's MTU and state, its engine's versions (as
 *     `docker version` gives them over SSH), and `absent` for a parent it does not have.
 *
 * Read-only on the host (the probe), so the lab stays as labUp left it. Needs root and the lab
 * (its Debian packages); fails, never skips, without them. Traffic stays inside the lab
 * (198.18.0.0/15); the routes' addresses (198.18.2.1-198.18.3.250) are only probed, never set.
 */
import * as assert from "node:assert/strict";
import { featureKey, parseProbeReport, PROBE_COMMAND, renderProbe, type HostFeature } from "../../components/host/scripts";
import { shStdinCommand, stdinScript } from "../../components/host/shell";
import { sshProber, type ProbeTarget } from "../../components/stack/probe";
import { hostChanges, labUp, releaseLab, type Lab, type LabHost } from "../../lab/lab";
import { labMachineId } from "../../lab/scripts";

const log = (l: string): void => void process.stdout.write(`      probe size: ${l}\n`);

const NODE = "node1";
/** Linux's limit on one argument (MAX_ARG_STRLEN: 32 pages of 4 KiB). */
const MAX_ARG_STRLEN = 128 * 1024;
const ROUTES = 500;

describe("the drift probe of any size against a real sshd (lab node1)", function () {
    this.timeout(20 * 60_000);

    let lab: Lab;
    let node: LabHost;
    let target: ProbeTarget;

    before(async function () {
        lab = await labUp({ log: (l) => log(`lab: ${l}`) });
        const h = lab.hosts.find((x) => x.name === NODE);
        if (h === undefined) throw new Error(`the lab has no host ${NODE}`);
        node = h;
        target = { host: NODE, address: node.address, port: node.port, user: node.user, hostKey: node.hostKey, privateKey: lab.privateKey };
    });

    after(async function () {
        // Read-only: the host is as labUp left it.
        if (lab !== undefined) assert.deepEqual(await hostChanges(NODE), [], `${NODE} was changed`);
        releaseLab();
    });

    it(`(a) a shim and ${ROUTES} /32 routes: a script over 128 KiB runs on stdin, and every key gets a token`, async () => {
        const shim: HostFeature = { kind: "shim", lower: node.parent, link: "macvlan-shim", address: "198.18.0.250/32" };
        const routes: HostFeature[] = Array.from({ length: ROUTES }, (_, i) => ({ kind: "route", link: "macvlan-shim", cidr: `198.18.${2 + Math.floor(i / 250)}.${1 + (i % 250)}/32` }));
        const features = [shim, ...routes];
        const stdin = renderProbe(NODE, features, [node.parent]);
        log(`script: ${stdin.length} bytes for ${features.length} features (limit of one argument: ${MAX_ARG_STRLEN})`);
        assert.ok(stdin.length > 2 * MAX_ARG_STRLEN, `${stdin.length} bytes: well over one argument's limit`);
        assert.equal(PROBE_COMMAND, "/bin/sh -s");

        const t0 = Date.now();
        const answer = await sshProber({ totalTimeoutMs: 120_000 })(target, { command: PROBE_COMMAND, stdin });
        log(`probed in ${Date.now() - t0} ms, ${answer.stdout.length} bytes of answer`);
        assert.equal(answer.hostKey, node.hostKey);
        const report = parseProbeReport(answer.stdout);
        assert.deepEqual([...report.tokens.keys()], features.map(featureKey), "one line per feature, in order");
        assert.equal(new Set(report.tokens.keys()).size, ROUTES + 1);
        // Never applied on this host: each feature is new, with what is missing.
        assert.match(report.tokens.get(featureKey(shim)) ?? "", /^drift:new,shim-missing,boot(,unit)?@[0-9]+$/);
        for (const r of routes) assert.match(report.tokens.get(featureKey(r)) ?? "", /^drift:new,route-missing,boot(,unit)?@[0-9]+$/, featureKey(r));
    });

    it("(b) the @machine-id and @addr lines are the host's own: /etc/machine-id as read over SSH, and its eth0 address", async () => {
        const idOverSsh = await sshProber()(target, { command: shStdinCommand([]), stdin: stdinScript("cat /etc/machine-id") });
        const stdin = renderProbe(NODE, [], [node.parent, "mvt-nonexist0"]);
        const report = parseProbeReport((await sshProber()(target, { command: PROBE_COMMAND, stdin })).stdout);
        assert.equal(report.machineId, idOverSsh.stdout.trim());
        assert.equal(report.machineId, labMachineId(NODE), "the lab gave each host its own machine id");
        assert.deepEqual(report.addresses, [{ link: node.parent, address: node.address, prefix: node.prefixLength }], "the parent's address; nothing for a link that does not exist");
    });

    it("(c) the @parent and @docker lines are the host's own: its eth0's MTU and state, and its engine's versions as `docker version` gives them over SSH; a missing parent is absent", async () => {
        const read = async (script: string): Promise<string> => (await sshProber()(target, { command: shStdinCommand([]), stdin: stdinScript(script) })).stdout.trim();
        const [mtu, state] = (await read(`ip -o link show dev ${node.parent} | awk '{ for (i = 1; i < NF; i++) if ($i == "mtu" || $i == "state") print $(i + 1) }'`)).split("\n");
        const versions = await read("docker version --format '{{.Server.Version}} {{.Server.APIVersion}}'");
        const report = parseProbeReport((await sshProber()(target, { command: PROBE_COMMAND, stdin: renderProbe(NODE, [], [node.parent], node.parent) })).stdout);
        assert.deepEqual(report.parent, { link: node.parent, exists: true, mtu: Number(mtu), state });
        const [version, apiVersion] = versions.split(" ");
        assert.deepEqual(report.docker, { version, apiVersion });
        log(`${NODE}: parent ${node.parent} mtu ${mtu} ${state}, Docker ${version} (API ${apiVersion})`);
        const missing = parseProbeReport((await sshProber()(target, { command: PROBE_COMMAND, stdin: renderProbe(NODE, [], [], "mvt-nonexist0") })).stdout);
        assert.deepEqual(missing.parent, { link: "mvt-nonexist0", exists: false });
    });
});
