/**
 * MacvlanHost under mocks: arguments it refuses (registering nothing) and the graph it registers.
 * Its plan is tested on its own in planHost.test.ts.
 */
import * as assert from "node:assert/strict";
// The mocks first (importing them sets them), then the code under test.
import { recorded, reset } from "../support/mocks";
import { runUnderMocks } from "../support/program";
import { byName, dependencyNames, isSecretValue, summary, unwrapSecrets } from "../support/records";
import { renderFeature } from "../../components/host/scripts";
import * as H from "../../components/macvlanHost";
import * as P from "../../components/plan/host";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAMKERgfJi00O0JJUFdeZWxzeoGIj5adpKuyucDHztXc";
/** A made-up RSA key blob (`ssh-rsa`, e = 65537, a 1024-bit modulus): valid shape, refused type. */
const RSA_KEY = `ssh-rsa ${Buffer.concat([
    Buffer.from([0, 0, 0, 7]),
    Buffer.from("ssh-rsa"),
    Buffer.from([0, 0, 0, 3, 1, 0, 1]),
    Buffer.from([0, 0, 0, 129, 0]),
    Buffer.alloc(128, 0xab),
]).toString("base64")}`;

describe("MacvlanHost", () => {
    const base = (extra: Partial<H.MacvlanHostArgs> = {}): H.MacvlanHostArgs => ({
        connection: { address: "198.51.100.145", hostKey: KEY, privateKey: "k" },
        parent: "ens33",
        ...extra,
    });

    describe("argument checks", () => {
        const cases: Array<[string, Partial<H.MacvlanHostArgs>, RegExp]> = [
            ["a shell in the parent", { parent: "eth0;reboot" }, /parent "eth0;reboot" is not a valid Linux interface name/],
            ["an ssh option as address", { connection: { address: "-oProxyCommand=sh", hostKey: KEY, privateKey: "k" } }, /connection.address/],
            ["a bad port", { connection: { address: "h.example", port: 70000, hostKey: KEY, privateKey: "k" } }, /connection.port 70000/],
            ["a bad user", { connection: { address: "h.example", user: "root -o x", hostKey: KEY, privateKey: "k" } }, /connection.user/],
            ["a bad host key", { connection: { address: "h.example", hostKey: "ssh-ed25519 AAAA x", privateKey: "k" } }, /connection.hostKey/],
            ["an ssh-rsa host key (SHA-1 only through pulumi-command)", { connection: { address: "h.example", hostKey: RSA_KEY, privateKey: "k" } }, /connection\.hostKey is an ssh-rsa key: .*ssh-keyscan -t ed25519 -p 22 h\.example/],
            [
                "a connection without a host key (no unverified mode)",
                { connection: { address: "h.example", privateKey: "k" } as unknown as H.MacvlanHostConnection },
                /connection\.hostKey is required: .*`ssh-keyscan -t ed25519 -p 22 h\.example`/,
            ],
            ["an identity file with a space", { connection: { address: "h.example", identityFile: "/k ey", hostKey: KEY, privateKey: "k" } }, /connection.identityFile/],
            ["a VLAN id out of range", { vlans: [4095] }, /vlans 4095/],
            ["a shim on a VLAN the host lacks", { shim: { address: "198.51.100.9/32", vlan: 9, routes: [] } }, /shim.vlan 9/],
            ["a bad shim link", { shim: { address: "198.51.100.9/32", link: "a-very-long-link-name", routes: [] } }, /shim.link/],
            ["what the script renderers refuse (a shim address that is not a /32)", { shim: { address: "198.51.100.9/24", routes: [] } }, /h-shim:/],
        ];
        for (const [what, extra, re] of cases) {
            it(`refuses ${what}, registering nothing`, async () => {
                reset();
                await assert.rejects(
                    runUnderMocks(() => new H.MacvlanHost("h", base(extra))),
                    (e: unknown) => re.test((e as Error).message) && /MacvlanHost h:/.test((e as Error).message),
                );
                assert.deepEqual(recorded, []);
            });
        }
    });

    describe("under mocks", () => {
        it("registers the preflight, one command per feature and the Docker provider, all parented, with a secret connection", async () => {
            reset();
            await runUnderMocks(
                () =>
                    new H.MacvlanHost("h", {
                        connection: { address: "198.51.100.145", hostKey: KEY, privateKey: "PRIVATE" },
                        parent: "ens33",
                        vlans: [50],
                        needsDocker: true,
                        shim: { address: "192.0.2.250/32", vlan: 50, routes: ["192.0.2.15/32"] },
                        probe: { "no-such-feature": "x" },
                    }),
            );
            assert.deepEqual(summary(recorded), [
                "command:remote:Command h-ipforward parent=h",
                "command:remote:Command h-preflight parent=h",
                "command:remote:Command h-promisc parent=h",
                "command:remote:Command h-shim parent=h",
                "command:remote:Command h-shim-route-192-0-2-15-32 parent=h",
                "command:remote:Command h-vlan50 parent=h",
                "macvlan:index:MacvlanHost h",
                "pulumi:providers:docker h-docker parent=h",
            ]);
            assert.deepEqual(dependencyNames(recorded, byName(recorded, "h-shim")), ["h-preflight", "h-vlan50"]);
            assert.deepEqual(dependencyNames(recorded, byName(recorded, "h-shim-route-192-0-2-15-32")), ["h-preflight", "h-shim"]);
            // Each feature command: exactly the rendered scripts (tokens from the probe, `unprobed`
            // for keys it did not report), replaced on a trigger change, old one deleted first.
            const args: H.MacvlanHostArgs = {
                connection: { address: "198.51.100.145", hostKey: KEY, privateKey: "PRIVATE" },
                parent: "ens33",
                vlans: [50],
                needsDocker: true,
                shim: { address: "192.0.2.250/32", vlan: 50, routes: ["192.0.2.15/32"] },
            };
            const plan = P.planHostFeatures("h", args);
            const triggers = new Map(plan.map((x) => [x.name, x.triggers]));
            for (const planned of plan) {
                const r = byName(recorded, planned.name);
                // The owner is the mocks' project and stack (test/support/mocks.ts) and the host's name.
                const rendered = renderFeature({ host: "h", owner: "macvlan/test/h" }, planned.feature, P.UNPROBED_TOKEN);
                assert.equal(r.inputs["stdin"], rendered.stdin, planned.name);
                assert.equal(r.inputs["create"], rendered.create, planned.name);
                assert.equal(r.inputs["update"], rendered.update, planned.name);
                assert.equal(r.inputs["delete"], rendered.delete, planned.name);
                assert.deepEqual(r.inputs["triggers"], triggers.get(planned.name), planned.name);
                assert.equal(r.deleteBeforeReplace, true, planned.name);
            }
            const pre = byName(recorded, "h-preflight");
            assert.equal(pre.inputs["create"], pre.inputs["update"]);
            assert.equal(pre.inputs["delete"], undefined, "the preflight changes nothing, so it has nothing to undo");
            for (const r of recorded.filter((x) => x.type === "command:remote:Command")) {
                assert.ok(isSecretValue(r.inputs["connection"]), r.name);
                const c = unwrapSecrets(r.inputs["connection"]) as Record<string, unknown>;
                assert.equal(c["hostKey"], KEY);
                assert.equal(c["privateKey"], "PRIVATE");
                for (const k of ["create", "update", "delete"]) {
                    if (r.inputs[k] !== undefined) assert.ok(!JSON.stringify(r.inputs[k]).includes("PRIVATE"), `${r.name}.${k}`);
                }
            }
        });
    });
});
