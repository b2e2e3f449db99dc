/**
 * MacvlanNetwork on its own: IPAM pools and aux addresses, container inputs (the spurious-diff
 * choices), argument checks, and the graph it registers under mocks through given providers.
 */
import * as assert from "node:assert/strict";
// The mocks first (importing them sets them), then the code under test.
import { recorded, reset } from "../support/mocks";
import { runUnderMocks } from "../support/program";
import { byName, isSecretValue, summary, unwrapSecrets } from "../support/records";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { MacvlanNetwork, containerArgs, type MacvlanNetworkArgs } from "../../components/macvlanNetwork";
import { CONTAINER_NETWORK_MODE, ipamConfigs, sortedEnvs } from "../../components/plan/network";

describe("MacvlanNetwork", () => {
    describe("ipamConfigs", () => {
        it("sends one pool per subnet, leaving out what is not set", () => {
            assert.deepEqual(ipamConfigs("n", [{ subnet: "198.51.100.0/24" }], {}), [{ subnet: "198.51.100.0/24" }]);
            assert.deepEqual(ipamConfigs("n", [{ subnet: "198.51.100.0/24", gateway: "198.51.100.1", ipRange: "198.51.100.128/25" }], {}), [
                { subnet: "198.51.100.0/24", gateway: "198.51.100.1", ipRange: "198.51.100.128/25" },
            ]);
        });

        it("puts each aux address in the pool whose subnet contains it, sorted by name", () => {
            assert.deepEqual(
                ipamConfigs("n", [{ subnet: "198.51.100.0/24" }, { subnet: "192.0.2.0/24", gateway: "192.0.2.1" }], {
                    shim: "192.0.2.250",
                    printer: "198.51.100.5",
                    backup: "192.0.2.9",
                }),
                [
                    { subnet: "198.51.100.0/24", auxAddress: { printer: "198.51.100.5" } },
                    { subnet: "192.0.2.0/24", gateway: "192.0.2.1", auxAddress: { backup: "192.0.2.9", shim: "192.0.2.250" } },
                ],
            );
        });

        it("refuses an aux address outside every pool", () => {
            assert.throws(() => ipamConfigs("n", [{ subnet: "198.51.100.0/24" }], { x: "10.0.0.1" }), /MacvlanNetwork n: aux address x 10.0.0.1 is not inside any subnet/);
        });
    });

    describe("container inputs", () => {
        it("sorts the environment by name", () => {
            assert.deepEqual(sortedEnvs({ TZ: "Asia/Shanghai", A: "1", M: "x=y" }), ["A=1", "M=x=y", "TZ=Asia/Shanghai"]);
        });

        it("are the pinned attachment, bridge network mode, the restart policy, and nothing the provider computes", () => {
            const args = containerArgs({ name: "web", host: "h", image: "nginx:1.27", ipv4Address: "198.51.100.12", mac: "02:42:c6:33:64:0c" }, "sha256:abc", "pub_net");
            assert.deepEqual(args, {
                name: "web",
                image: "sha256:abc",
                networkMode: CONTAINER_NETWORK_MODE,
                networksAdvanced: [{ name: "pub_net", ipv4Address: "198.51.100.12", macAddress: "02:42:c6:33:64:0c" }],
                restart: "unless-stopped",
            });
            assert.equal(CONTAINER_NETWORK_MODE, "bridge");
            for (const k of ["logDriver", "mustRun", "wait", "hostname", "init", "command", "envs"]) assert.ok(!(k in args), k);
        });
    });

    describe("under mocks", () => {
        function args(provider: docker.Provider, extra: Partial<MacvlanNetworkArgs> = {}): MacvlanNetworkArgs {
            return {
                mode: "vepa",
                ipam: [{ subnet: "198.51.100.0/24", gateway: "198.51.100.1" }],
                auxAddresses: { printer: "198.51.100.5" },
                hosts: [{ name: "h1", parent: "eth0.50", provider }],
                containers: [
                    {
                        name: "db",
                        host: "h1",
                        image: "mysql:5.7",
                        ipv4Address: "198.51.100.8",
                        mac: "02:42:c6:33:64:08",
                        env: { PASSWORD: pulumi.secret("hunter2"), TZ: "UTC" },
                        command: ["mysqld"],
                        restart: "always",
                    },
                ],
                ...extra,
            };
        }

        it("shares one image per host and plain reference between the containers that run it; an Output image gets its own", async () => {
            reset();
            await runUnderMocks(() => {
                const provider = new docker.Provider("p1", {});
                const c = (name: string, ip: number, image: pulumi.Input<string>) => ({ name, host: "h1", image, ipv4Address: `198.51.100.${ip}`, mac: `02:42:c6:33:64:${ip.toString(16).padStart(2, "0")}` });
                return new MacvlanNetwork("lan", {
                    ...args(provider),
                    containers: [c("a", 10, "busybox:1.36"), c("b", 11, "busybox:1.36"), c("c", 12, "nginx:1.27"), c("d", 13, pulumi.output("busybox:1.36"))],
                });
            });
            assert.deepEqual(
                summary(recorded).filter((l) => l.includes("RemoteImage")),
                [
                    "docker:index/remoteImage:RemoteImage lan-h1-d-image parent=lan provider=p1",
                    "docker:index/remoteImage:RemoteImage lan-h1-images/busybox:1.36 parent=lan provider=p1",
                    "docker:index/remoteImage:RemoteImage lan-h1-images/nginx:1.27 parent=lan provider=p1",
                ],
            );
            const shared = byName(recorded, "lan-h1-images/busybox:1.36");
            for (const name of ["lan-h1-a", "lan-h1-b"]) {
                const container = byName(recorded, name);
                assert.deepEqual(container.propertyDependencies["image"], [shared.urn], `${name} follows the shared image`);
            }
            // The container's image input is the image id, the same whichever image resource pulled it.
            assert.equal(byName(recorded, "lan-h1-a").inputs["image"], byName(recorded, "lan-h1-d").inputs["image"]);
        });

        it("registers a network per host, an image per host and reference, and a container per container, through the host's provider", async () => {
            reset();
            await runUnderMocks(() => {
                const provider = new docker.Provider("p1", {});
                return new MacvlanNetwork("lan", args(provider, { networkName: "lan_net" }));
            });
            assert.deepEqual(summary(recorded), [
                "docker:index/container:Container lan-h1-db parent=lan provider=p1",
                "docker:index/network:Network lan-h1 parent=lan provider=p1",
                "docker:index/remoteImage:RemoteImage lan-h1-images/mysql:5.7 parent=lan provider=p1",
                "macvlan:index:MacvlanNetwork lan",
                "pulumi:providers:docker p1",
            ]);
            assert.deepEqual(byName(recorded, "lan-h1").inputs, {
                name: "lan_net",
                driver: "macvlan",
                options: { parent: "eth0.50", macvlan_mode: "vepa" },
                ipamConfigs: [{ subnet: "198.51.100.0/24", gateway: "198.51.100.1", auxAddress: { printer: "198.51.100.5" } }],
            });
            const c = byName(recorded, "lan-h1-db");
            assert.ok(isSecretValue(c.inputs["envs"]), "a secret env value keeps the env secret");
            assert.deepEqual((c.inputs["envs"] as { value: unknown }).value, ["PASSWORD=hunter2", "TZ=UTC"]);
            assert.equal(c.inputs["restart"], "always");
            assert.deepEqual(c.inputs["command"], ["mysqld"]);
        });

        it("keeps an env value given as a secret secret, in envs only; a plain env stays plain", async () => {
            reset();
            await runUnderMocks(() => {
                const provider = new docker.Provider("p1", {});
                const base = args(provider);
                const db = base.containers![0];
                return new MacvlanNetwork("lan", {
                    ...base,
                    containers: [
                        // One value a secret Output, the env map itself an Output.
                        { ...db, env: pulumi.output({ TZ: "UTC", PASSWORD: pulumi.secret("hunter2") }) },
                        { ...db, name: "web", ipv4Address: "198.51.100.9", mac: "02:42:c6:33:64:09", env: { TZ: "UTC" } },
                    ],
                });
            });
            const db = byName(recorded, "lan-h1-db");
            assert.ok(isSecretValue(db.inputs["envs"]));
            assert.deepEqual(unwrapSecrets(db.inputs["envs"]), ["PASSWORD=hunter2", "TZ=UTC"]);
            for (const [k, v] of Object.entries(db.inputs)) if (k !== "envs") assert.deepEqual(v, unwrapSecrets(v), `${k} is plain`);
            assert.deepEqual(byName(recorded, "lan-h1-web").inputs["envs"], ["TZ=UTC"]);
            assert.deepEqual(byName(recorded, "lan-h1").inputs, unwrapSecrets(byName(recorded, "lan-h1").inputs), "the network is plain");
        });

        it("waits for the given dependencies on each host", async () => {
            reset();
            await runUnderMocks(() => {
                const provider = new docker.Provider("p1", {});
                const gate = new docker.Provider("gate", {});
                return new MacvlanNetwork("lan", args(provider, { hosts: [{ name: "h1", parent: "eth0", provider, dependsOn: [gate] }] }));
            });
            assert.deepEqual(byName(recorded, "lan-h1").dependencies, [byName(recorded, "gate").urn]);
        });

        it("refuses a container on a host the network does not span, registering nothing", async () => {
            reset();
            await assert.rejects(
                runUnderMocks(() => {
                    const provider = new docker.Provider("p1", {});
                    const a = args(provider);
                    return new MacvlanNetwork("lan", { ...a, containers: [{ ...a.containers![0], host: "h9" }] });
                }),
                /MacvlanNetwork lan: container db is on host h9, which the network does not span/,
            );
            assert.deepEqual(summary(recorded), ["pulumi:providers:docker p1"]);
        });
    });
});
