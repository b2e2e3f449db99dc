import * as assert from "node:assert/strict";
import fc from "fast-check";
import * as pulumi from "@pulumi/pulumi";
import type { StackModel } from "../../components/config/model";
import { engineRuleProblems, parseStackConfig, type RawStackConfig } from "../../components/config/parse";
import { childPath, showValue } from "../../components/config/problems";
import { suggestKey } from "../../components/config/read";
import { allowsSharedParent } from "../../components/config/rules";
import { allowsPerNetworkMac, declaredVersionProblem, effectiveEngine } from "../../components/config/engine";
import { MacvlanConfigError } from "../../components/net/problems";
import { cfg, ED25519, expectProblems, node1, node2, problemsOf, pubNet, web, withContainers } from "../support/configs";


const HOST_KEYS = "name, address, port, user, hostKey, parent, promisc, ipForward, vlans, shim, dockerVersion";
const NETWORK_KEYS = "name, vlan, mode, subnet, gateway, ipRange, ipam, sliceSize, slices, auxAddresses, hosts, containers, swarm";
const CONTAINER_KEYS = "name, host, image, ip, ip6, mac, networks, defaultRoute, command, env, secretEnv, restart";

describe("validate", () => {
    describe("MacvlanConfigError", () => {
        it("has a header line and one problem per line", () => {
            const e = new MacvlanConfigError(["a 1 is bad", "b 2 is worse"]);
            assert.equal(e.name, "MacvlanConfigError");
            assert.deepEqual(e.problems, ["a 1 is bad", "b 2 is worse"]);
            assert.equal(e.message, "macvlan stack config has 2 problems:\n  a 1 is bad\n  b 2 is worse");
            assert.equal(new MacvlanConfigError(["x"]).message, "macvlan stack config has 1 problem:\n  x");
            assert.ok(e instanceof Error);
        });
    });

    describe("helpers", () => {
        it("shows printable values bare and everything else as JSON, cut at 80", () => {
            assert.equal(showValue("198.51.100.1"), "198.51.100.1");
            assert.equal(showValue("eth 0"), '"eth 0"');
            assert.equal(showValue(""), '""');
            assert.equal(showValue(22), "22");
            assert.equal(showValue([1, 2]), "[1,2]");
            assert.equal(showValue("x".repeat(100)), `"${"x".repeat(78)}…`);
            assert.equal(showValue(10n), "10n");
        });

        it("builds paths, quoting keys that are not identifiers", () => {
            assert.equal(childPath("hosts", 0), "hosts[0]");
            assert.equal(childPath("networks[0].auxAddresses", "printer"), "networks[0].auxAddresses.printer");
            assert.equal(childPath("networks[0].auxAddresses", "node1-shim"), "networks[0].auxAddresses.node1-shim");
            assert.equal(childPath("x.env", "MY VAR"), 'x.env["MY VAR"]');
        });

        it("suggests the key a typo meant", () => {
            assert.equal(suggestKey("parnet", ["name", "parent"]), "parent");
            assert.equal(suggestKey("ip_range", ["subnet", "ipRange"]), "ipRange");
            assert.equal(suggestKey("IPFORWARD", ["ipForward"]), "ipForward");
            assert.equal(suggestKey("zzzzzz", ["name", "parent"]), undefined);
        });

        it("reads Docker 27 and later as allowing several networks on one parent", () => {
            assert.equal(allowsSharedParent(undefined), false);
            assert.equal(allowsSharedParent("26.1"), false);
            assert.equal(allowsSharedParent("27.0"), true);
            assert.equal(allowsSharedParent("28.3"), true);
            assert.equal(allowsSharedParent("bogus"), false);
        });
    });

    describe("a valid config", () => {
        it("normalizes with every default", () => {
            // (The one thing written beyond the minimum: each host's slice, which a network on two hosts needs.)
            const model = parseStackConfig(cfg([node1(), node2()], [pubNet({ containers: [web()], slices: { node1: "198.51.100.192/27", node2: "198.51.100.224/27" } })]));
            const expected: StackModel = {
                hosts: [
                    { name: "node1", address: "198.51.100.145", port: 22, user: "root", hostKey: ED25519, parent: "ens33", promisc: true, ipForward: true, vlans: [] },
                    { name: "node2", address: "198.51.100.146", port: 22, user: "root", hostKey: ED25519, parent: "ens33", promisc: true, ipForward: true, vlans: [] },
                ],
                networks: [
                    {
                        name: "pub_net",
                        mode: "bridge",
                        ipam: [{ subnet: "198.51.100.0/24", gateway: "198.51.100.1" }],
                        auxAddresses: {},
                        hosts: ["node1", "node2"],
                        slices: { node1: "198.51.100.192/27", node2: "198.51.100.224/27" },
                        containers: [
                            {
                                name: "web",
                                host: "node1",
                                image: "nginx:1.27",
                                attachments: [{ network: "pub_net", ipv4Address: "198.51.100.12", mac: "02:42:c6:33:64:0c" }],
                                restart: "unless-stopped",
                            },
                        ],
                    },
                ],
            };
            assert.deepEqual(model, expected);
        });

        it("normalizes the field notes' compose setup: pub_net plus two VLAN networks, with shim, keys and options", () => {
            const raw = cfg(
                [
                    node1({ port: 2222, user: "deploy", hostKey: ED25519, vlans: [60, 50], promisc: false, ipForward: false, dockerVersion: "27.3", shim: { address: "198.51.100.250" } }),
                    node2({ address: "node2.example.com", vlans: [50, 60], shim: { address: "203.0.113.250", vlan: 50 } }),
                ],
                [
                    pubNet({
                        ipRange: "198.51.100.0/25",
                        auxAddresses: { printer: "198.51.100.5" },
                        containers: [
                            web({ name: "nginx", image: "nginx:latest" }),
                            {
                                name: "mysql",
                                host: "node2",
                                image: "mysql:5.7",
                                ip: "198.51.100.8",
                                mac: "02:AA:BB:CC:DD:EE",
                                command: ["mysqld", "--character-set-server=utf8"],
                                env: { TZ: "Asia/Shanghai", MYSQL_ROOT_PASSWORD: "roottoor" },
                                restart: "always",
                            },
                        ],
                    }),
                    {
                        name: "pub_net_low",
                        vlan: 50,
                        subnet: "203.0.113.0/24",
                        gateway: "203.0.113.1",
                        auxAddresses: { "node2-shim": "203.0.113.250" },
                        containers: [
                            { name: "kodexplorer", host: "node1", image: "192.0.2.3:5000/hp_kodexplorer_a1223", ip: "203.0.113.15" },
                            { name: "kodexplorer_bak", host: "node2", image: "192.0.2.3:5000/hp_kodexplorer_a1223", ip: "203.0.113.16" },
                        ],
                    },
                    {
                        name: "pub_net_mid",
                        vlan: 60,
                        mode: "vepa",
                        subnet: "198.18.4.0/24",
                        gateway: "198.18.4.1",
                        hosts: ["node2"],
                        containers: [
                            { name: "mongodb", host: "node2", image: "mongo:latest", ip: "198.18.4.20" },
                            { name: "mongodb_bak", host: "node2", image: "mongo:latest", ip: "198.18.4.21", restart: "no" },
                        ],
                    },
                ],
            );
            const model = parseStackConfig(raw);
            assert.deepEqual(model.hosts, [
                {
                    name: "node1",
                    address: "198.51.100.145",
                    port: 2222,
                    user: "deploy",
                    hostKey: ED25519,
                    parent: "ens33",
                    promisc: false,
                    ipForward: false,
                    vlans: [50, 60],
                    shim: { address: "198.51.100.250" },
                    dockerVersion: "27.3",
                },
                {
                    name: "node2",
                    address: "node2.example.com",
                    port: 22,
                    user: "root",
                    hostKey: ED25519,
                    parent: "ens33",
                    promisc: true,
                    ipForward: true,
                    vlans: [50, 60],
                    shim: { address: "203.0.113.250", vlan: 50 },
                },
            ]);
            const [pub, low, mid] = model.networks;
            assert.deepEqual(pub.ipam, [{ subnet: "198.51.100.0/24", gateway: "198.51.100.1", ipRange: "198.51.100.0/25" }]);
            assert.deepEqual(pub.auxAddresses, { printer: "198.51.100.5" });
            assert.deepEqual(pub.containers[1], {
                name: "mysql",
                host: "node2",
                image: "mysql:5.7",
                attachments: [{ network: "pub_net", ipv4Address: "198.51.100.8", mac: "02:aa:bb:cc:dd:ee" }],
                command: ["mysqld", "--character-set-server=utf8"],
                env: { TZ: "Asia/Shanghai", MYSQL_ROOT_PASSWORD: "roottoor" },
                restart: "always",
            });
            assert.equal(low.vlan, 50);
            assert.deepEqual(low.hosts, ["node1", "node2"]);
            assert.deepEqual(
                low.containers.map((c) => c.attachments[0].mac),
                ["02:42:cb:00:71:0f", "02:42:cb:00:71:10"],
            );
            assert.equal(mid.mode, "vepa");
            assert.deepEqual(mid.hosts, ["node2"]);
            assert.deepEqual(
                mid.containers.map((c) => [c.name, c.restart]),
                [
                    ["mongodb", "unless-stopped"],
                    ["mongodb_bak", "no"],
                ],
            );
        });

        it("treats null optional values (empty YAML values) as absent", () => {
            const model = parseStackConfig(cfg([node1({ port: null, hostKey: null, vlans: null, shim: null })], [pubNet({ ipRange: null, containers: [web({ mac: null })] })]), {
                trustOnFirstUse: true,
            });
            assert.equal(model.hosts[0].port, 22);
            assert.equal("hostKey" in model.hosts[0], false);
            assert.equal("ipRange" in model.networks[0].ipam[0], false);
            assert.equal(model.networks[0].containers[0].attachments[0].mac, "02:42:c6:33:64:0c");
        });

        it("accepts a config with hosts and no networks", () => {
            assert.deepEqual(parseStackConfig({ hosts: [node1()], networks: undefined }).networks, []);
        });

        it("is deterministic and leaves its input untouched", () => {
            const raw = cfg([node1({ vlans: [60, 50] }), node2()], [pubNet({ containers: [web()] })]);
            const before = JSON.stringify(raw);
            const a = JSON.stringify(parseStackConfig(raw));
            const b = JSON.stringify(parseStackConfig(raw));
            assert.equal(a, b);
            assert.equal(JSON.stringify(raw), before);
        });

        it("allows the same ip on two VLAN segments and the same container name on two hosts", () => {
            // On two hosts: one host cannot carry one subnet on two parents (Docker's one address space).
            const raw = cfg(
                [node1(), node2({ vlans: [50] })],
                [
                    pubNet({ hosts: ["node1"], containers: [web()] }),
                    { name: "low", vlan: 50, subnet: "198.51.100.0/24", gateway: "198.51.100.1", hosts: ["node2"], containers: [web({ host: "node2" })] },
                ],
            );
            const model = parseStackConfig(raw);
            assert.deepEqual(
                model.networks.map((n) => n.containers[0].attachments[0].mac),
                ["02:42:c6:33:64:0c", "02:42:c6:33:64:0c"],
            );
        });

        it("allows one passthru container per host, and networks on one parent name of different hosts", () => {
            const raw = cfg(
                [node1({ vlans: [50] }), node2({ vlans: [50] })],
                [
                    pubNet({ mode: "passthru", vlan: 50, hosts: ["node1"], ipRange: "198.51.100.128/26", containers: [web()] }),
                    { name: "other", vlan: 50, subnet: "198.51.100.0/24", gateway: "198.51.100.1", ipRange: "198.51.100.192/26", hosts: ["node2"], containers: [web({ name: "bb", host: "node2", ip: "198.51.100.13" })] },
                ],
            );
            assert.equal(parseStackConfig(raw).networks[0].mode, "passthru");
        });
    });

    describe("top level", () => {
        it("requires hosts", () => {
            expectProblems({ hosts: undefined, networks: [] }, ["hosts is required (config key macvlan:hosts)"]);
        });
        it("requires at least one host", () => {
            expectProblems(cfg([]), ["hosts [] must list at least one host"]);
        });
        it("requires lists", () => {
            expectProblems({ hosts: { node1: {} }, networks: "pub_net" }, ['hosts {"node1":{}} must be a list, not a map', 'networks must be a list, not a string']);
        });
        it("requires a map for the config itself", () => {
            expectProblems(null as unknown as RawStackConfig, ["config must be a map {hosts, networks}, not null", "hosts is required (config key macvlan:hosts)"]);
        });
        it("requires each entry to be a map", () => {
            expectProblems(cfg(["node1", node2()], [["pub_net"]]), ['hosts[0] "node1" must be a map, not a string', 'networks[0] must be a map, not a list']);
        });
    });

    describe("unknown keys", () => {
        it("lists the known keys and suggests the likely one", () => {
            expectProblems(cfg([node1({ parnet: "ens33", shim: { adress: "198.51.100.250" } })], [pubNet({ ip_range: "198.51.100.0/25", containers: [web({ imgae: "x", zzzzzz: 1 })] })]), [
                `hosts[0].parnet is not a known key of a host; did you mean parent? known keys: ${HOST_KEYS}`,
                "hosts[0].shim.adress is not a known key of a shim; did you mean address? known keys: address, vlan",
                "hosts[0].shim.address is required",
                `networks[0].ip_range is not a known key of a network; did you mean ipRange? known keys: ${NETWORK_KEYS}`,
                `networks[0].containers[0].imgae is not a known key of a container; did you mean image? known keys: ${CONTAINER_KEYS}`,
                `networks[0].containers[0].zzzzzz is not a known key of a container; known keys: ${CONTAINER_KEYS}`,
            ]);
        });
        it("quotes keys that are not identifiers", () => {
            expectProblems(cfg([node1({ "my key": 1 })]), [`hosts[0]["my key"] is not a known key of a host; known keys: ${HOST_KEYS}`]);
        });
    });

    describe("hosts", () => {
        it("requires name, address, hostKey and parent", () => {
            expectProblems(cfg([{}]), [
                "hosts[0].name is required",
                "hosts[0].address is required",
                'hosts[0].hostKey is required: the SSH host key of <address> port 22 is not pinned, and without it whatever answers at that address would be sent the host scripts; run `ssh-keyscan -t ed25519 -p 22 <address>` from a network you trust and set hostKey to the "ssh-ed25519 AAAA…" part of the line it prints (or set macvlan:trustOnFirstUse: true to learn it on first contact)',
                "hosts[0].parent is required",
            ]);
        });
        it("requires a pinned hostKey, naming the ssh-keyscan line for the host's address and port", () => {
            const problem = (address: string, port: number, why: string, tail = ""): string =>
                `hosts[0].hostKey is required: the SSH host key of ${address} port ${port} is not pinned, and ${why}; run \`ssh-keyscan -t ed25519 -p ${port} ${address}\` from a network you trust and set hostKey to the "ssh-ed25519 AAAA…" part of the line it prints${tail}`;
            const bare = node1({ hostKey: undefined, port: 2222 });
            delete bare["hostKey"];
            const noTofu = "without it whatever answers at that address would be sent the host scripts";
            expectProblems(cfg([bare]), [problem("198.51.100.145", 2222, noTofu, " (or set macvlan:trustOnFirstUse: true to learn it on first contact)")]);
            assert.throws(() => parseStackConfig(cfg([bare]), { trustOnFirstUse: false, probe: true }), /hostKey is required/);
            assert.doesNotThrow(() => parseStackConfig(cfg([bare]), { trustOnFirstUse: true }), "learned on first contact by the probe");
            try {
                parseStackConfig(cfg([bare]), { trustOnFirstUse: true, probe: false });
                assert.fail("accepted an unpinned host with the probe off");
            } catch (e) {
                assert.deepEqual((e as MacvlanConfigError).problems, [
                    problem("198.51.100.145", 2222, "macvlan:probe is false, so there is no probe to learn it on first contact (macvlan:trustOnFirstUse learns keys through the probe)"),
                ]);
            }
        });
        it("refuses an ssh-rsa hostKey (SHA-1 only through pulumi-command), pointing at ed25519", () => {
            const rsa = `ssh-rsa ${Buffer.concat([Buffer.from([0, 0, 0, 7]), Buffer.from("ssh-rsa"), Buffer.from([0, 0, 0, 3, 1, 0, 1, 0, 0, 0, 65, 0]), Buffer.alloc(64, 0xcd)]).toString("base64")}`;
            const problems = problemsOf(cfg([node1({ hostKey: rsa })]));
            assert.deepEqual(problems, [
                `hosts[0].hostKey ${showValue(rsa)} is an ssh-rsa key: the remote commands could only check it with SHA-1 "ssh-rsa" signatures, which OpenSSH 8.8 and later refuse; pin the host's ed25519 key instead (\`ssh-keyscan -t ed25519 -p 22 198.51.100.145\`, see docs/host-keys.md)`,
            ]);
        });
        it("checks the host name", () => {
            expectProblems(cfg([node1({ name: "Node_1" })]), [
                "hosts[0].name Node_1 is not a valid host name: 1-32 characters of a-z, 0-9 and -, starting and ending with a letter or digit",
            ]);
        });
        it("refuses two entries for one SSH target (they would undo each other's settings)", () => {
            expectProblems(cfg([node1(), node2({ address: "198.51.100.145" })]), [
                "hosts[1].address 198.51.100.145 with port 22 is already hosts[0]'s SSH target; describe each machine once",
            ]);
            expectProblems(cfg([node1({ address: "Node1.example.com" }), node2({ address: "node1.example.com" })]), [
                "hosts[1].address node1.example.com with port 22 is already hosts[0]'s SSH target; describe each machine once",
            ]);
            assert.doesNotThrow(() => parseStackConfig(cfg([node1(), node2({ address: "198.51.100.145", port: 2222 })])), "another port is another machine (a NAT'd VM)");
        });
        it("refuses a shim on a parent named like the shim link", () => {
            const raw = withContainers([], {}, [node1({ parent: "macvlan-shim", shim: { address: "198.51.100.250" } }), node2()]);
            const problems = problemsOf(raw);
            assert.ok(problems.includes("hosts[0].shim needs a link named macvlan-shim, which is hosts[0].parent; the parent NIC cannot carry its own shim under that name"), problems.join("\n"));
        });
        it("refuses duplicate host names", () => {
            expectProblems(cfg([node1(), node2({ name: "node1" })]), ["hosts[1].name node1 is already used by hosts[0]"]);
        });
        it("checks the SSH address", () => {
            expectProblems(cfg([node1({ address: "198.51.100.300" }), node2({ address: "2001:db8::2" })]), [
                "hosts[0].address 198.51.100.300 is not an IPv4 address or DNS name",
                "hosts[1].address 2001:db8::2 is an IPv6 address; IPv6 is not supported yet",
            ]);
        });
        it("checks the port", () => {
            const ports: [unknown, string][] = [
                [0, "hosts[0].port 0 is not a port: an integer 1-65535"],
                [65536, "hosts[0].port 65536 is not a port: an integer 1-65535"],
                [22.5, "hosts[0].port 22.5 is not a port: an integer 1-65535"],
                ["22", 'hosts[0].port "22" must be an integer 1-65535, not a string'],
            ];
            for (const [port, message] of ports) expectProblems(cfg([node1({ port })]), [message]);
        });
        it("checks the user", () => {
            expectProblems(cfg([node1({ user: "root;id" })]), [
                "hosts[0].user root;id is not a valid SSH user: 1-32 characters of A-Z, a-z, 0-9, _, . and -, not starting with a digit, . or -",
            ]);
        });
        it("checks the host key", () => {
            expectProblems(cfg([node1({ hostKey: "ssh-ed25519" }), node2({ hostKey: `ssh-rsa ${ED25519.split(" ")[1]}` })]), [
                'hosts[0].hostKey ssh-ed25519 is not an SSH host key "<type> <base64>" with type one of ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521',
                'hosts[1].hostKey "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIObw31n2MGR/TVqGBf3Iqzs7FZSsUzRRJ7PHEeSUyNr4" declares type ssh-rsa but its key blob is of type "ssh-ed25519"',
            ]);
        });
        it("checks the parent interface name", () => {
            const rule = "is not a valid Linux interface name: 1-15 characters of A-Z, a-z, 0-9, _, . and -, starting with a letter or digit";
            expectProblems(cfg([node1({ parent: "eth0;reboot" }), node2({ parent: "a-very-long-nic0" })]), [`hosts[0].parent eth0;reboot ${rule}`, `hosts[1].parent a-very-long-nic0 ${rule}`]);
            expectProblems(cfg([node1({ parent: ".." })]), [`hosts[0].parent .. ${rule}`]);
            expectProblems(cfg([node1({ parent: "eth 0" })]), [`hosts[0].parent "eth 0" ${rule}`]);
            // `ip link set -all ...` would read a leading dash as an option, quoted or not.
            expectProblems(cfg([node1({ parent: "-all" })]), [`hosts[0].parent -all ${rule}`]);
            // Valid link names to the kernel, but the global entries of /proc/sys/net/ipv4/conf.
            const reserved = "is reserved: all and default name the global entries of /proc/sys/net/ipv4/conf, not a link";
            expectProblems(cfg([node1({ parent: "all" }), node2({ parent: "default" })]), [`hosts[0].parent all ${reserved}`, `hosts[1].parent default ${reserved}`]);
        });
        it("checks promisc and ipForward are booleans", () => {
            expectProblems(cfg([node1({ promisc: "yes", ipForward: 1 })]), ['hosts[0].promisc "yes" must be true or false, not a string', "hosts[0].ipForward 1 must be true or false, not a number"]);
        });
        it("checks the vlans", () => {
            expectProblems(cfg([node1({ vlans: [0, 4095, "50", 60, 60, null] })]), [
                "hosts[0].vlans[0] 0 is not a VLAN id: an integer 1-4094",
                "hosts[0].vlans[1] 4095 is not a VLAN id: an integer 1-4094",
                'hosts[0].vlans[2] "50" must be a VLAN id 1-4094, not a string',
                "hosts[0].vlans[4] 60 is listed twice",
                "hosts[0].vlans[5] is empty; expected a VLAN id 1-4094",
            ]);
            expectProblems(cfg([node1({ vlans: 50 })]), ["hosts[0].vlans 50 must be a list of VLAN ids, not a number"]);
        });
        it("checks that <parent>.<vlan> is a valid interface name", () => {
            expectProblems(cfg([node1({ parent: "enp0s31f6abcd", vlans: [5, 50] })]), ["hosts[0].vlans[1] 50 makes the sub-interface name enp0s31f6abcd.50, longer than the 15 characters Linux allows"]);
        });
        it("checks the shim's shape and vlan", () => {
            expectProblems(cfg([node1({ shim: "198.51.100.250" })]), ['hosts[0].shim "198.51.100.250" must be a map {address, vlan}, not a string']);
            expectProblems(cfg([node1({ shim: { address: "198.51.100.250/24", vlan: 0 } })]), [
                "hosts[0].shim.address 198.51.100.250/24 must be an address without a prefix length; did you mean 198.51.100.250?",
                "hosts[0].shim.vlan 0 is not a VLAN id: an integer 1-4094",
            ]);
            expectProblems(cfg([node1({ vlans: [50, 60], shim: { address: "198.51.100.250", vlan: 70 } })]), ["hosts[0].shim.vlan 70 is not in hosts[0].vlans [50, 60]; add it there"]);
        });
        it("checks dockerVersion", () => {
            expectProblems(cfg([node1({ dockerVersion: 27.3 }), node2({ dockerVersion: "27" })]), [
                'hosts[0].dockerVersion 27.3 must be a string "major.minor" (quote it in YAML), not a number',
                'hosts[1].dockerVersion 27 is not a Docker version "major.minor" like "27.3"',
            ]);
        });
    });

    describe("networks", () => {
        it("requires name, subnet and gateway", () => {
            expectProblems(cfg([node1()], [{}]), [
                "networks[0].name is required",
                "networks[0].subnet is required (or networks[0].ipam, a list of pools {subnet, gateway, ipRange})",
                "networks[0].gateway is required: the LAN's real router (Docker before 29 invents one when it is missing, and 29+ gives the containers no default route)",
            ]);
        });
        it("checks the network name, predefined names and duplicates", () => {
            expectProblems(cfg([node1({ dockerVersion: "27.0" })], [pubNet({ name: "pub net" }), pubNet({ name: "host", subnet: "203.0.113.0/24", gateway: "203.0.113.1" })]), [
                'networks[0].name "pub net" is not a valid Docker network name: 1-64 characters of A-Z, a-z, 0-9, _, . and -, starting with a letter or digit',
                "networks[1].name host is a predefined Docker network (bridge, host, none); choose another name",
            ]);
            const dup = problemsOf(cfg([node1({ dockerVersion: "27.0" })], [pubNet(), pubNet({ subnet: "203.0.113.0/24", gateway: "203.0.113.1" })]));
            assert.deepEqual(dup, ["networks[1].name pub_net is already used by networks[0]"]);
        });
        it("checks vlan and mode", () => {
            expectProblems(cfg([node1()], [pubNet({ vlan: 4095, mode: "macvtap" })]), [
                "networks[0].vlan 4095 is not a VLAN id: an integer 1-4094",
                "networks[0].mode macvtap is not a macvlan mode: bridge, vepa, private, passthru",
            ]);
            expectProblems(cfg([node1()], [pubNet({ mode: "veth" })]), [
                "networks[0].mode veth is not a macvlan mode: bridge, vepa, private, passthru; for same-host traffic through the switch (what some notes call veth), use vepa",
            ]);
            expectProblems(cfg([node1()], [pubNet({ mode: "Private" })]), ["networks[0].mode Private is not a macvlan mode: bridge, vepa, private, passthru; did you mean private?"]);
        });
        it("says what a subnet with host bits should be", () => {
            expectProblems(cfg([node1()], [pubNet({ subnet: "198.51.100.1/24", gateway: "198.51.100.2" })]), ["networks[0].subnet 198.51.100.1/24 has host bits set; did you mean 198.51.100.0/24?"]);
        });
        it("refuses malformed subnets", () => {
            const cases: [string, string][] = [
                ["198.51.100.0", "networks[0].subnet 198.51.100.0 has no prefix length; write it as <address>/<prefix length>, like 198.51.100.0/24"],
                ["198.51.100.0/33", "networks[0].subnet 198.51.100.0/33 has a prefix length outside 0-32"],
                ["lan", "networks[0].subnet lan is not an IPv4 or IPv6 CIDR like 198.51.100.0/24"],
            ];
            for (const [subnet, message] of cases) expectProblems(cfg([node1()], [pubNet({ subnet })]), [message]);
        });
        it("checks the gateway against the subnet", () => {
            const cases: [string, string][] = [
                ["10.9.9.9", "networks[0].gateway 10.9.9.9 does not belong to subnet 198.51.100.0/24"],
                ["198.51.100.0", "networks[0].gateway 198.51.100.0 is the network address of subnet 198.51.100.0/24"],
                ["198.51.100.255", "networks[0].gateway 198.51.100.255 is the broadcast address of subnet 198.51.100.0/24"],
                ["198.51.100.1/24", "networks[0].gateway 198.51.100.1/24 must be an address without a prefix length; did you mean 198.51.100.1?"],
                ["2001:db8::1", "networks[0].gateway 2001:db8::1 does not belong to subnet 198.51.100.0/24"],
            ];
            for (const [gateway, message] of cases) expectProblems(cfg([node1()], [pubNet({ gateway })]), [message]);
        });
        it("checks ipRange against the subnet", () => {
            expectProblems(cfg([node1()], [pubNet({ ipRange: "198.51.101.0/25" })]), ["networks[0].ipRange 198.51.101.0/25 does not belong to subnet 198.51.100.0/24"]);
            expectProblems(cfg([node1()], [pubNet({ ipRange: "198.51.100.0/23" })]), ["networks[0].ipRange 198.51.100.0/23 does not belong to subnet 198.51.100.0/24"]);
            expectProblems(cfg([node1()], [pubNet({ ipRange: "198.51.100.129/25" })]), ["networks[0].ipRange 198.51.100.129/25 has host bits set; did you mean 198.51.100.128/25?"]);
        });
        it("checks auxAddresses", () => {
            expectProblems(cfg([node1()], [pubNet({ auxAddresses: { printer: "10.9.9.9", "bad name": "198.51.100.5", nas: 5, router: "x" } })]), [
                "networks[0].auxAddresses.printer 10.9.9.9 does not belong to subnet 198.51.100.0/24",
                'networks[0].auxAddresses "bad name" is not a valid aux address name: 1-64 characters of A-Z, a-z, 0-9, _, . and -, starting with a letter or digit',
                "networks[0].auxAddresses.nas 5 must be a string, not a number",
                "networks[0].auxAddresses.router x is not an IPv4 or IPv6 address",
            ]);
            expectProblems(cfg([node1()], [pubNet({ auxAddresses: ["198.51.100.5"] })]), ['networks[0].auxAddresses ["198.51.100.5"] must be a map of name to address, not a list']);
        });
        it("checks the hosts it spans", () => {
            expectProblems(cfg([node1(), node2()], [pubNet({ hosts: ["node1", "node3", "node1", 7] })]), [
                "networks[0].hosts[1] node3 is not a host in hosts (node1, node2)",
                "networks[0].hosts[2] node1 is listed twice",
                "networks[0].hosts[3] 7 must be a host name, not a number",
            ]);
            expectProblems(cfg([node1()], [pubNet({ hosts: [] })]), ["networks[0].hosts [] must list at least one host; omit it to span every host"]);
            expectProblems(cfg([node1()], [pubNet({ hosts: "node1" })]), ['networks[0].hosts "node1" must be a list of host names, not a string']);
        });
        it("requires the network's vlan on every host it spans", () => {
            expectProblems(cfg([node1({ vlans: [50] }), node2({ vlans: [60] })], [pubNet({ vlan: 50 })]), [
                "networks[0].vlan 50 is not in hosts[1].vlans of host node2; add it there or remove node2 from networks[0].hosts",
            ]);
        });
    });

    describe("containers", () => {
        it("requires name, host, image and ip", () => {
            expectProblems(withContainers([{}]), [
                "networks[0].containers[0].name is required",
                "networks[0].containers[0].host is required",
                "networks[0].containers[0].image is required",
                "networks[0].containers[0].ip is required",
            ]);
        });
        it("checks the container name", () => {
            const rule = "is not a valid Docker container name: 2-64 characters of A-Z, a-z, 0-9, _, . and -, starting with a letter or digit";
            expectProblems(withContainers([web({ name: "-web" })]), [`networks[0].containers[0].name -web ${rule}`]);
            // Docker's own pattern needs two characters at least: `docker run --name w` fails at apply time.
            expectProblems(withContainers([web({ name: "w" })]), [`networks[0].containers[0].name w ${rule}`]);
            assert.doesNotThrow(() => parseStackConfig(withContainers([web({ name: "w1" })])));
        });
        it("refuses two containers of one name on one host across networks", () => {
            const raw = cfg([node1({ vlans: [50] })], [pubNet({ containers: [web()] }), { name: "low", vlan: 50, subnet: "203.0.113.0/24", gateway: "203.0.113.1", containers: [web({ ip: "203.0.113.12" })] }]);
            expectProblems(raw, ["networks[1].containers[0].name web is already used on host node1 by networks[0].containers[0]"]);
        });
        it("requires the host to be one of the network's hosts", () => {
            expectProblems(withContainers([web({ host: "node3" })]), ["networks[0].containers[0].host node3 is not a host in hosts (node1, node2)"]);
            expectProblems(withContainers([web({ host: "node2" })], { hosts: ["node1"] }), ["networks[0].containers[0].host node2 is not one of networks[0].hosts (node1)"]);
        });
        it("checks the image reference", () => {
            expectProblems(withContainers([web({ image: "Nginx:latest" })]), [
                "networks[0].containers[0].image Nginx:latest is not a valid image reference: [registry[:port]/]name[:tag][@sha256:<64 hex>], name in lower case",
            ]);
        });
        it("refuses an ip outside the subnet, in Docker's words", () => {
            expectProblems(withContainers([web(), web({ name: "db", ip: "10.9.9.9" })]), ["networks[0].containers[1].ip 10.9.9.9 does not belong to subnet 198.51.100.0/24"]);
        });
        it("refuses an ip that is the network or broadcast address", () => {
            expectProblems(withContainers([web({ ip: "198.51.100.0" }), web({ name: "bb", ip: "198.51.100.255" })]), [
                "networks[0].containers[0].ip 198.51.100.0 is the network address of subnet 198.51.100.0/24",
                "networks[0].containers[1].ip 198.51.100.255 is the broadcast address of subnet 198.51.100.0/24",
            ]);
        });
        it("refuses an ip that is the gateway or an aux address", () => {
            expectProblems(withContainers([web({ ip: "198.51.100.1" }), web({ name: "bb", ip: "198.51.100.5" })], { auxAddresses: { printer: "198.51.100.5" } }), [
                "networks[0].containers[0].ip 198.51.100.1 is the gateway networks[0].gateway",
                "networks[0].containers[1].ip 198.51.100.5 is reserved as networks[0].auxAddresses.printer",
            ]);
        });
        it("refuses an ip that is a host's shim address or SSH address", () => {
            const raw = withContainers([web({ ip: "198.51.100.250" }), web({ name: "bb", ip: "198.51.100.146" })], { ipRange: "198.51.100.0/25" }, [node1(), node2({ shim: { address: "198.51.100.250" } })]);
            expectProblems(raw, [
                "networks[0].containers[0].ip 198.51.100.250 is the shim address hosts[1].shim.address of host node2",
                "networks[0].containers[1].ip 198.51.100.146 is the SSH address of host node2 (hosts[1].address)",
            ]);
        });
        it("refuses an ip that is the gateway or aux address of another network on the segment", () => {
            const raw = cfg(
                [node1({ vlans: [50] }), node2({ vlans: [50] })],
                [
                    { name: "a", vlan: 50, subnet: "203.0.113.0/24", gateway: "203.0.113.1", ipRange: "203.0.113.128/26", auxAddresses: { nas: "203.0.113.7" }, hosts: ["node1"] },
                    { name: "b", vlan: 50, subnet: "203.0.113.0/24", gateway: "203.0.113.254", ipRange: "203.0.113.64/26", hosts: ["node2"], containers: [web({ host: "node2", ip: "203.0.113.1" }), web({ name: "bb", host: "node2", ip: "203.0.113.7" })] },
                ],
            );
            expectProblems(raw, [
                "networks[1].containers[0].ip 203.0.113.1 is the gateway networks[0].gateway",
                "networks[1].containers[1].ip 203.0.113.7 is reserved as networks[0].auxAddresses.nas",
            ]);
        });
        it("refuses an ip that is an IPv6 address (it goes in ip6)", () => {
            expectProblems(withContainers([web({ ip: "2001:db8::12" })]), ["networks[0].containers[0].ip 2001:db8::12 is an IPv6 address; a container's IPv6 address goes in networks[0].containers[0].ip6"]);
        });
        it("refuses duplicate ips on one segment across hosts and networks", () => {
            const raw = cfg(
                [node1(), node2({ dockerVersion: "27.0" })],
                [pubNet({ hosts: ["node1"], ipRange: "198.51.100.128/26", containers: [web()] }), { name: "other", subnet: "198.51.100.0/24", gateway: "198.51.100.1", ipRange: "198.51.100.192/26", hosts: ["node2"], containers: [web({ name: "bb", host: "node2" })] }],
            );
            expectProblems(raw, ["networks[1].containers[0].ip 198.51.100.12 is already used by networks[0].containers[0].ip on the untagged LAN segment"]);
            const vlan = cfg([node1({ vlans: [50] })], [{ name: "low", vlan: 50, subnet: "203.0.113.0/24", gateway: "203.0.113.1", containers: [web({ ip: "203.0.113.9" }), web({ name: "bb", ip: "203.0.113.9" })] }]);
            expectProblems(vlan, ["networks[0].containers[1].ip 203.0.113.9 is already used by networks[0].containers[0].ip on LAN segment vlan 50"]);
        });
        it("checks the MAC", () => {
            expectProblems(withContainers([web({ mac: "02-42-c6-33-64-0c" }), web({ name: "bb", ip: "198.51.100.13", mac: "01:00:5e:00:00:01" }), web({ name: "cc", ip: "198.51.100.14", mac: "00:00:00:00:00:00" })]), [
                "networks[0].containers[0].mac 02-42-c6-33-64-0c is not a MAC address xx:xx:xx:xx:xx:xx (hex)",
                "networks[0].containers[1].mac 01:00:5e:00:00:01 is a multicast MAC (lowest bit of the first byte set); use a unicast MAC such as 02:...",
                "networks[0].containers[2].mac 00:00:00:00:00:00 is the all-zero MAC",
            ]);
        });
        it("refuses duplicate MACs on one segment, configured or derived", () => {
            expectProblems(withContainers([web(), web({ name: "bb", host: "node2", ip: "198.51.100.13", mac: "02:42:C6:33:64:0C" })]), [
                "networks[0].containers[1].mac 02:42:c6:33:64:0c is already used by networks[0].containers[0].mac (derived from its ip) on the untagged LAN segment",
            ]);
            expectProblems(withContainers([web({ mac: "02:00:00:00:00:01" }), web({ name: "bb", ip: "198.51.100.13", mac: "02:00:00:00:00:01" })]), [
                "networks[0].containers[1].mac 02:00:00:00:00:01 is already used by networks[0].containers[0].mac on the untagged LAN segment",
            ]);
            expectProblems(withContainers([web({ mac: "02:42:c6:33:64:0d" }), web({ name: "bb", ip: "198.51.100.13" })]), [
                "networks[0].containers[1].mac 02:42:c6:33:64:0d (derived from its ip) is already used by networks[0].containers[0].mac on the untagged LAN segment",
            ]);
        });
        it("reports two derived MACs of one duplicated ip once, as the ip", () => {
            expectProblems(withContainers([web(), web({ name: "bb", host: "node2" })]), ["networks[0].containers[1].ip 198.51.100.12 is already used by networks[0].containers[0].ip on the untagged LAN segment"]);
        });
        it("checks command, env and restart", () => {
            expectProblems(withContainers([web({ command: "nginx -g 'daemon off;'", env: ["TZ=UTC"], restart: "sometimes" })]), [
                `networks[0].containers[0].command "nginx -g 'daemon off;'" must be a list of strings, not a string`,
                'networks[0].containers[0].env must be a map of name to string, not a list',
                "networks[0].containers[0].restart sometimes is not a restart policy: no, on-failure, always, unless-stopped",
            ]);
            expectProblems(withContainers([web({ command: [], env: { "MY-VAR": "x", PORT: 3306, TZ: "Asia/Shanghai" } })]), [
                "networks[0].containers[0].command [] must list at least one word; omit it to run the image's default command",
                'networks[0].containers[0].env "MY-VAR" is not a valid environment variable name: A-Z, a-z, 0-9 and _, not starting with a digit',
                "networks[0].containers[0].env.PORT must be a string (quote it in YAML), not a number",
            ]);
            expectProblems(withContainers([web({ command: ["nginx", 5, "a\0b"] })]), [
                "networks[0].containers[0].command[1] 5 must be a string, not a number",
                'networks[0].containers[0].command[2] "a\\u0000b" contains a NUL character',
            ]);
        });
    });

    describe("secret env", () => {
        // Env values can be secrets: no problem may show one, whatever its shape or wherever it sits.
        const S = "s3cret-hunter2";
        const N = 987654;
        const SET = (at: string) => `set it with \`pulumi config set --secret --path 'macvlan:${at}'\` (it prompts for the value)`;

        /** The problems of `raw`, asserting that none shows S or N. */
        function problemsHiding(raw: unknown): string[] {
            const problems = problemsOf(raw as RawStackConfig);
            for (const p of problems) assert.ok(!p.includes(S) && !p.includes(String(N)), `a problem shows an env value: ${p}`);
            return problems;
        }

        it("names the key and the rule of an env value, never the value", () => {
            assert.deepEqual(problemsHiding(withContainers([web({ env: { A: N, B: true, C: [S], D: { x: S }, E: `${S}\0`, F: null } })])), [
                "networks[0].containers[0].env.A must be a string (quote it in YAML), not a number",
                "networks[0].containers[0].env.B must be a string (quote it in YAML), not a boolean",
                "networks[0].containers[0].env.C must be a string (quote it in YAML), not a list",
                "networks[0].containers[0].env.D must be a string (quote it in YAML), not a map",
                "networks[0].containers[0].env.E contains a NUL character",
                "networks[0].containers[0].env.F must be a string (quote it in YAML), not null",
            ]);
            assert.deepEqual(problemsHiding(withContainers([web({ env: { "MY VAR": S } })])), [
                'networks[0].containers[0].env "MY VAR" is not a valid environment variable name: A-Z, a-z, 0-9 and _, not starting with a digit',
            ]);
        });

        it("never shows a value that holds env: an env, a container, the containers, a network, the networks, the config", () => {
            const c = web({ env: { PASSWORD: S, PIN: N } });
            const cases: Array<[unknown, string[]]> = [
                // An env written as compose writes it: a list, a string.
                [withContainers([web({ env: [`PASSWORD=${S}`] })]), ["networks[0].containers[0].env must be a map of name to string, not a list"]],
                [withContainers([web({ env: `PASSWORD=${S}` })]), ["networks[0].containers[0].env must be a map of name to string, not a string"]],
                // A compose list item in a YAML flow map, `{ PASSWORD=s3cret }`: a key up to its `=`.
                [withContainers([web({ env: { [`PASSWORD=${S}`]: null } })]), ['networks[0].containers[0].env "PASSWORD=…" is not a valid environment variable name; write NAME: value, not NAME=value']],
                [withContainers([[c]]), ["networks[0].containers[0] must be a map, not a list"]],
                [withContainers({ db: c } as unknown as unknown[]), ["networks[0].containers must be a list, not a map"]],
                [cfg([node1()], [[pubNet({ containers: [c] })]]), ["networks[0] must be a map, not a list"]],
                [{ hosts: [node1()], networks: { pub_net: pubNet({ containers: [c] }) } }, ["networks must be a list, not a map"]],
                [[pubNet({ containers: [c] })], ["config must be a map {hosts, networks}, not a list", "hosts is required (config key macvlan:hosts)"]],
            ];
            for (const [raw, expected] of cases) assert.deepEqual(problemsHiding(raw), expected);
        });

        it("never shows a valid env value beside the other problems of its container, here or across entries", () => {
            const problems = problemsHiding(
                withContainers([web({ env: { PASSWORD: S }, ip: "10.9.9.9", restart: "sometimes", imgae: S }), web({ env: { PASSWORD: S } }), web({ name: "bb", env: { PASSWORD: S }, secretEnv: ["PASSWORD", "TOKEN"] })]),
            );
            assert.ok(problems.length >= 5, problems.join("\n"));
        });

        it("never shows an env value, whatever the value and wherever it sits (property)", () => {
            // Keys of the junk: env names, unknown keys, or the fields that hold env (env, containers).
            // Not the other known fields: a secret typed into `name` is not an env value (it is shown).
            const junk = fc.anything({
                values: [fc.constant(S), fc.constant(N), fc.constant(`PASSWORD=${S}`)],
                maxDepth: 3,
                key: fc.constantFrom("PASSWORD", "x", "env", "containers"),
            });
            const secretish = fc.oneof(junk, fc.constant(S), fc.constant(N));
            fc.assert(
                fc.property(
                    fc.constantFrom("value", "env", "container", "containers", "network", "networks"),
                    secretish,
                    fc.boolean(),
                    (where, v, networksSecret) => {
                        const raw =
                            where === "value"
                                ? withContainers([web({ env: { PASSWORD: v } })])
                                : where === "env"
                                  ? withContainers([web({ env: v })])
                                  : where === "container"
                                    ? withContainers([v])
                                    : where === "containers"
                                      ? withContainers(v as unknown[])
                                      : where === "network"
                                        ? cfg([node1()], [v])
                                        : { hosts: [node1()], networks: v };
                        try {
                            parseStackConfig({ ...raw, networksSecret });
                        } catch (e) {
                            assert.ok(e instanceof MacvlanConfigError, String(e));
                            for (const p of e.problems) assert.ok(!p.includes(S) && !p.includes(String(N)), `a problem shows an env value: ${p}`);
                        }
                    },
                ),
                { numRuns: 600 },
            );
        });

        it("secretEnv: each name must be set in env, and macvlan:networks a secret key", () => {
            const at = "networks[0].containers[0]";
            expectProblems(withContainers([web({ env: { USER: "admin" }, secretEnv: ["PASSWORD"] })]), [
                `${at}.env.PASSWORD is required by ${at}.secretEnv: ${SET(`${at}.env.PASSWORD`)}`,
            ]);
            expectProblems({ ...withContainers([web({ secretEnv: ["PASSWORD"] })]), networksSecret: true }, [
                `${at}.env.PASSWORD is required by ${at}.secretEnv: ${SET(`${at}.env.PASSWORD`)}`,
            ]);
            // Set, but in plain text: the key macvlan:networks holds no secret.
            assert.deepEqual(problemsHiding(withContainers([web({ env: { USER: "admin", PASSWORD: S }, secretEnv: ["PASSWORD"] })])), [
                `${at}.env.PASSWORD is listed in ${at}.secretEnv but is not a secret: ${SET(`${at}.env.PASSWORD`)}`,
            ]);
            // Set with `pulumi config set --secret --path`: accepted.
            const model = parseStackConfig({ ...withContainers([web({ env: { USER: "admin", PASSWORD: S }, secretEnv: ["PASSWORD"] })]), networksSecret: true });
            assert.deepEqual(model.networks[0].containers[0].env, { USER: "admin", PASSWORD: S });
            assert.equal(model.networks[0].containers[0].envSecret, true);
        });

        it("checks secretEnv's shape and names", () => {
            const at = "networks[0].containers[0]";
            expectProblems(withContainers([web({ env: { PASSWORD: "x" }, secretEnv: "PASSWORD" })]), [`${at}.secretEnv "PASSWORD" must be a list of environment variable names, not a string`]);
            expectProblems({ ...withContainers([web({ env: { A: "x" }, secretEnv: ["MY-VAR", 5, "A", "A"] })]), networksSecret: true }, [
                `${at}.secretEnv[0] MY-VAR is not a valid environment variable name: A-Z, a-z, 0-9 and _, not starting with a digit`,
                `${at}.secretEnv[1] 5 must be a string, not a number`,
                `${at}.secretEnv[3] A is listed twice`,
            ]);
            // An env of the wrong type is reported once, not again for each name.
            expectProblems(withContainers([web({ env: ["A=x"], secretEnv: ["A"] })]), [`${at}.env must be a map of name to string, not a list`]);
        });

        it("with macvlan:networks a secret key, marks every container's env secret, and nothing else", () => {
            const raw = withContainers([web({ env: { TZ: "UTC" } }), web({ name: "bb", ip: "198.51.100.13" })]);
            const secret = parseStackConfig({ ...raw, networksSecret: true });
            assert.deepEqual(
                secret.networks[0].containers.map((c) => [c.name, c.env, c.envSecret]),
                [
                    ["web", { TZ: "UTC" }, true],
                    ["bb", undefined, undefined],
                ],
            );
            const plain = parseStackConfig(raw);
            assert.ok(plain.networks[0].containers.every((c) => !("envSecret" in c)));
            // Apart from envSecret, the same model.
            const strip = (m: StackModel) => JSON.stringify(m, (k, v: unknown) => (k === "envSecret" ? undefined : v));
            assert.equal(strip(secret), strip(plain));
        });
    });

    describe("derived resource names", () => {
        it("refuses network and host names that run together into one resource name", () => {
            // `<network>-<host>`: network a-b on host c and network a on host b-c are both a-b-c.
            const hosts = [node1({ name: "c", vlans: [50] }), node2({ name: "b-c", vlans: [50] })];
            const nets = [
                pubNet({ name: "a-b", hosts: ["c"], containers: [web({ name: "web", host: "c" })] }),
                { name: "a", vlan: 50, subnet: "203.0.113.0/24", gateway: "203.0.113.1", hosts: ["b-c"], containers: [web({ name: "web", host: "b-c", ip: "203.0.113.12" })] },
            ];
            expectProblems(cfg(hosts, nets), [
                "networks[1].name a on host b-c gives the resource name a-b-c, which networks[0] (a-b) on host c gives too; rename one of them",
                "networks[1].containers[0].name web gives the resource name a-b-c-web, which networks[0].containers[0] gives too; rename one of them",
            ]);
        });
        it("refuses host and container names that run together within one network", () => {
            // Host b with container c-web and host b-c with container web: both n-b-c-web.
            const hosts = [node1({ name: "b" }), node2({ name: "b-c" })];
            const nets = [pubNet({ name: "n", containers: [web({ name: "c-web", host: "b" }), web({ name: "web", host: "b-c", ip: "198.51.100.13" })] })];
            expectProblems(cfg(hosts, nets), ["networks[0].containers[1].name web gives the resource name n-b-c-web, which networks[0].containers[0] gives too; rename one of them"]);
        });
        it("accepts the same names when they do not run together", () => {
            const hosts = [node1({ name: "c", vlans: [50] }), node2({ name: "b-c", vlans: [50] })];
            const nets = [pubNet({ name: "a-b", hosts: ["c"] }), { name: "a_b", vlan: 50, subnet: "203.0.113.0/24", gateway: "203.0.113.1", hosts: ["b-c"] }];
            assert.doesNotThrow(() => parseStackConfig(cfg(hosts, nets)));
        });
    });

    describe("networks sharing a parent", () => {
        it("allows one macvlan network per parent before Docker 27, and says how to fix it", () => {
            expectProblems(cfg([node1(), node2()], [pubNet(), { name: "mgmt", subnet: "203.0.113.0/24", gateway: "203.0.113.1" }]), [
                'networks[1].name mgmt shares its parent with networks[0] (pub_net) on hosts node1 (parent ens33), node2 (parent ens33); Docker before 27 allows one macvlan network per parent: give one of them a vlan, or set hosts[0].dockerVersion, hosts[1].dockerVersion ("27.0" or later) if those hosts run Docker 27 or later',
            ]);
            expectProblems(cfg([node1({ vlans: [50] }), node2({ dockerVersion: "27.1", vlans: [50] })], [{ name: "a", vlan: 50, subnet: "203.0.113.0/25", gateway: "203.0.113.1" }, { name: "b", vlan: 50, subnet: "203.0.113.128/25", gateway: "203.0.113.129" }]), [
                'networks[1].name b shares its parent with networks[0] (a) on host node1 (parent ens33.50); Docker before 27 allows one macvlan network per parent: give one of them a vlan, or set hosts[0].dockerVersion ("27.0" or later) if that host runs Docker 27 or later',
            ]);
        });
        it("with the version rules deferred (the program, probe on) the shared parent waits for the probe; engineRuleProblems then runs them on the probed engines, which win over the declared ones", () => {
            const raw = cfg([node1(), node2({ dockerVersion: "27.0" })], [pubNet(), { name: "mgmt", subnet: "203.0.113.0/24", gateway: "203.0.113.1" }]);
            assert.doesNotThrow(() => parseStackConfig(raw, {}, { deferred: true }));
            assert.deepEqual(engineRuleProblems(raw, {}, new Map([["node1", { version: "27.0.3", apiVersion: "1.46" }]])), []);
            assert.deepEqual(engineRuleProblems(raw, {}, new Map([["node1", { version: "27.0.3", apiVersion: "1.46" }], ["node2", { version: "26.1.4", apiVersion: "1.45" }]])), [
                "networks[1].name mgmt shares its parent with networks[0] (pub_net) on host node2 (parent ens33); Docker before 27 allows one macvlan network per parent, and host node2 runs Docker 26.1.4 (API 1.45, found by the probe): give one of them a vlan, or upgrade that engine to Docker 27 or later",
            ]);
            assert.equal(engineRuleProblems(raw, {}, new Map()).length, 1, "no probed engine on node1: its (missing) declared version counts");
        });
        it("effective engine: probed first, then declared; per-network MAC by API when probed, by major when declared", () => {
            assert.deepEqual(effectiveEngine("26.1", { version: "27.3.1", apiVersion: "1.47" }), { major: 27, minor: 3, text: "27.3.1", api: { major: 1, minor: 47 }, source: "probed" });
            assert.deepEqual(effectiveEngine("26.1", undefined), { major: 26, minor: 1, text: "26.1", source: "declared" });
            assert.equal(effectiveEngine(undefined, undefined), undefined);
            const probedMac = (api: string) => allowsPerNetworkMac(effectiveEngine(undefined, { version: "25.0.0", apiVersion: api }) ?? assert.fail());
            assert.equal(probedMac("1.44"), true);
            assert.equal(probedMac("1.43"), false);
            assert.equal(probedMac("2.0"), true);
            assert.equal(allowsPerNetworkMac(effectiveEngine("25.0", undefined) ?? assert.fail()), true);
            assert.equal(allowsPerNetworkMac(effectiveEngine("24.0", undefined) ?? assert.fail()), false);
            assert.equal(declaredVersionProblem("n", "27.3", { version: "27.3.0-rc.1", apiVersion: "1.47" }), undefined);
            assert.equal(declaredVersionProblem("n", undefined, { version: "26.0.0", apiVersion: "1.45" }), undefined);
            assert.equal(declaredVersionProblem("n", "27.3", undefined), undefined);
            assert.match(declaredVersionProblem("n", "27.3", { version: "27.4.0", apiVersion: "1.47" }) ?? "", /^27\.3 disagrees with the Docker Engine the probe found on host n: 27\.4\.0 \(API 1\.47\)/);
        });
        it("allows several networks per parent on Docker 27 and later", () => {
            const model = parseStackConfig(cfg([node1({ dockerVersion: "27.0" })], [pubNet(), { name: "mgmt", subnet: "203.0.113.0/24", gateway: "203.0.113.1" }]));
            assert.deepEqual(
                model.networks.map((n) => n.name),
                ["pub_net", "mgmt"],
            );
        });
        it("refuses overlapping subnets on one parent of a host", () => {
            expectProblems(cfg([node1({ dockerVersion: "27.0" })], [pubNet(), { name: "mgmt", subnet: "198.51.100.128/25", gateway: "198.51.100.129" }]), [
                "networks[1].subnet 198.51.100.128/25 overlaps networks[0].subnet 198.51.100.0/24 on host node1 (parent ens33)",
            ]);
        });
        it("lets a passthru network share its parent with no other, whatever the Docker version", () => {
            expectProblems(cfg([node1({ dockerVersion: "28.0", vlans: [50] })], [pubNet({ mode: "passthru", vlan: 50 }), { name: "mgmt", vlan: 50, subnet: "203.0.113.0/24", gateway: "203.0.113.1" }]), [
                "networks[0].mode passthru cannot share its parent with networks[1] (mgmt) on host node1 (parent ens33.50): a passthru network takes the whole parent; give one of them another vlan",
            ]);
        });
        it("allows at most one container per host on a passthru network", () => {
            const hosts = [node1({ vlans: [50] }), node2({ vlans: [50] })];
            expectProblems(withContainers([web(), web({ name: "bb", ip: "198.51.100.13" }), web({ name: "cc", host: "node2", ip: "198.51.100.14" })], { mode: "passthru", vlan: 50 }, hosts), [
                'networks[0].containers[1].host node1 already has networks[0].containers[0] on passthru network networks[0] (pub_net); passthru has a single port per parent (Docker: "failed to create the macvlan port: invalid argument")',
            ]);
        });
    });

    describe("shims", () => {
        it("is accepted when reserved in auxAddresses or outside the ipRange", () => {
            const aux = parseStackConfig(withContainers([web()], { auxAddresses: { "node1-shim": "198.51.100.250" } }, [node1({ shim: { address: "198.51.100.250" } })]));
            assert.deepEqual(aux.hosts[0].shim, { address: "198.51.100.250" });
            const outside = parseStackConfig(withContainers([web()], { ipRange: "198.51.100.0/25" }, [node1({ shim: { address: "198.51.100.250" } })]));
            assert.deepEqual(outside.hosts[0].shim, { address: "198.51.100.250" });
        });
        it("must be reserved from Docker's dynamic allocation", () => {
            expectProblems(withContainers([], {}, [node1({ shim: { address: "198.51.100.250" } })]), [
                "hosts[0].shim.address 198.51.100.250 may be handed out by Docker on networks[0] (pub_net), which has no ipRange: list it in networks[0].auxAddresses (e.g. node1-shim: 198.51.100.250) or set networks[0].ipRange to a range that excludes it",
            ]);
            expectProblems(withContainers([], { ipRange: "198.51.100.128/25" }, [node1({ shim: { address: "198.51.100.250" } })]), [
                "hosts[0].shim.address 198.51.100.250 is inside networks[0].ipRange 198.51.100.128/25, so Docker may hand it out: list it in networks[0].auxAddresses (e.g. node1-shim: 198.51.100.250) or choose an address outside the ipRange",
            ]);
        });
        it("must belong to the subnet of a network on its segment that spans the host", () => {
            expectProblems(withContainers([], { ipRange: "198.51.100.0/25" }, [node1({ shim: { address: "203.0.113.250" } })]), [
                "hosts[0].shim.address 203.0.113.250 does not belong to the subnet of any network on the untagged LAN segment that spans host node1 (198.51.100.0/24)",
            ]);
            expectProblems(withContainers([], { ipRange: "198.51.100.0/25" }, [node1({ vlans: [50], shim: { address: "198.51.100.250", vlan: 50 } })]), [
                "hosts[0].shim.address 198.51.100.250 does not belong to the subnet of any network on LAN segment vlan 50 that spans host node1: no network on LAN segment vlan 50 spans host node1",
            ]);
            expectProblems(cfg([node1({ shim: { address: "198.51.100.250" } }), node2()], [pubNet({ hosts: ["node2"], ipRange: "198.51.100.0/25" })]), [
                "hosts[0].shim.address 198.51.100.250 does not belong to the subnet of any network on the untagged LAN segment that spans host node1: no network on the untagged LAN segment spans host node1",
            ]);
        });
        it("must not be the gateway, the network address or an SSH address", () => {
            expectProblems(withContainers([], { ipRange: "198.51.100.128/25" }, [node1({ shim: { address: "198.51.100.1" } })]), ["hosts[0].shim.address 198.51.100.1 is the gateway networks[0].gateway"]);
            expectProblems(withContainers([], { ipRange: "198.51.100.128/25" }, [node1({ shim: { address: "198.51.100.0" } })]), ["hosts[0].shim.address 198.51.100.0 is the network address of subnet 198.51.100.0/24"]);
            expectProblems(withContainers([], { ipRange: "198.51.100.0/25" }, [node1({ shim: { address: "198.51.100.146" } }), node2()]), [
                "hosts[0].shim.address 198.51.100.146 is the SSH address of host node2 (hosts[1].address)",
            ]);
        });
        it("must not repeat another host's shim on the segment", () => {
            expectProblems(withContainers([], { ipRange: "198.51.100.0/25" }, [node1({ shim: { address: "198.51.100.250" } }), node2({ shim: { address: "198.51.100.250" } })]), [
                "hosts[1].shim.address 198.51.100.250 is already used by hosts[0].shim.address on the untagged LAN segment",
            ]);
        });
        it("cannot sit on a parent a passthru network takes", () => {
            expectProblems(withContainers([], { mode: "passthru", vlan: 50, ipRange: "198.51.100.0/25" }, [node1({ vlans: [50], shim: { address: "198.51.100.250", vlan: 50 } })]), [
                "hosts[0].shim.address 198.51.100.250 would sit on parent ens33.50, which passthru network networks[0] (pub_net) takes whole on host node1; put the shim on another vlan or remove it",
            ]);
        });
    });

    describe("collecting", () => {
        it("throws every problem as data in one MacvlanConfigError; the program's edge makes it a RunError (program.test.ts)", () => {
            const problems = ["hosts[0].port 0 is not a port: an integer 1-65535", "networks[0].name is required"];
            const e = new MacvlanConfigError(problems);
            assert.deepEqual(e.problems, problems);
            assert.equal(
                e.message,
                "macvlan stack config has 2 problems:\n  hosts[0].port 0 is not a port: an integer 1-65535\n  networks[0].name is required",
            );
            assert.ok(!pulumi.RunError.isInstance(e), "a pure layer knows nothing of Pulumi's error types");
        });
        it("reports every problem of a config in one throw, in config order", () => {
            const raw = cfg(
                [node1({ port: 0, vlans: [50] }), node2({ parent: "eth0/1" })],
                [
                    pubNet({ subnet: "198.51.100.1/24", gateway: "198.51.100.2", slices: { node1: "198.51.100.192/29", node2: "198.51.100.200/29" }, containers: [web({ ip: "10.9.9.9" }), web({ name: "bb", mac: "ff:ff:ff:ff:ff:ff", ip: "198.51.100.13" })] }),
                    { name: "low", vlan: 60, subnet: "203.0.113.0/24", gateway: "203.0.113.1", mode: "passthru", containers: [web({ ip: "203.0.113.5" }), web({ name: "cc", ip: "203.0.113.6" })] },
                ],
            );
            const problems = problemsOf(raw);
            assert.deepEqual(problems, [
                "hosts[0].port 0 is not a port: an integer 1-65535",
                "hosts[1].parent eth0/1 is not a valid Linux interface name: 1-15 characters of A-Z, a-z, 0-9, _, . and -, starting with a letter or digit",
                "networks[0].subnet 198.51.100.1/24 has host bits set; did you mean 198.51.100.0/24?",
                "networks[0].containers[0].ip 10.9.9.9 does not belong to subnet 198.51.100.0/24",
                "networks[0].containers[1].mac ff:ff:ff:ff:ff:ff is a multicast MAC (lowest bit of the first byte set); use a unicast MAC such as 02:...",
                "networks[1].containers[0].name web is already used on host node1 by networks[0].containers[0]",
                "networks[1].vlan 60 is not in hosts[0].vlans of host node1; add it there or remove node1 from networks[1].hosts",
                "networks[1].vlan 60 is not in hosts[1].vlans of host node2; add it there or remove node2 from networks[1].hosts",
                'networks[1].containers[1].host node1 already has networks[1].containers[0] on passthru network networks[1] (low); passthru has a single port per parent (Docker: "failed to create the macvlan port: invalid argument")',
            ]);
            assert.throws(
                () => parseStackConfig(raw),
                (e: unknown) => {
                    assert.ok(e instanceof MacvlanConfigError);
                    const lines = e.message.split("\n");
                    assert.equal(lines[0], "macvlan stack config has 9 problems:");
                    assert.deepEqual(lines.slice(1), problems.map((p) => `  ${p}`));
                    return true;
                },
            );
        });
    });

    describe("properties", () => {
        const known = ["name", "address", "port", "user", "hostKey", "parent", "promisc", "ipForward", "vlans", "shim", "dockerVersion", "vlan", "mode", "subnet", "gateway", "ipRange", "auxAddresses", "hosts", "containers", "host", "image", "ip", "mac", "command", "env", "secretEnv", "restart", "__proto__", "constructor"];
        const leaf = fc.oneof(
            fc.anything(),
            fc.constantFrom("node1", "ens33", "198.51.100.12", "198.51.100.0/24", "passthru", "nginx:1.27", "02:42:c6:33:64:0c", 50, 22, true, null),
        );
        const entry = fc.dictionary(fc.constantFrom(...known), fc.oneof(leaf, fc.array(fc.dictionary(fc.constantFrom(...known), leaf), { maxLength: 3 })), { maxKeys: 12 });

        it("on random junk, throws nothing but MacvlanConfigError", () => {
            fc.assert(
                fc.property(fc.oneof(fc.anything(), fc.record({ hosts: fc.oneof(fc.anything(), fc.array(entry, { maxLength: 3 })), networks: fc.oneof(fc.anything(), fc.array(entry, { maxLength: 3 })) })), (raw) => {
                    try {
                        parseStackConfig(raw as RawStackConfig);
                    } catch (e) {
                        assert.ok(e instanceof MacvlanConfigError, String(e));
                        assert.ok(e.problems.length > 0);
                        for (const p of e.problems) assert.match(p, /^(config|hosts|networks)[^\n]* /);
                    }
                }),
                { numRuns: 1500 },
            );
        });

        it("pins random distinct addresses of a subnet with distinct, unicast, derived MACs", () => {
            fc.assert(
                fc.property(fc.uniqueArray(fc.integer({ min: 2, max: 253 }), { minLength: 1, maxLength: 20 }), (octets) => {
                    const containers = octets.map((o, i) => web({ name: `c${i}`, ip: `198.51.100.${o}` }));
                    const hosts = [node1({ address: "node1.example.com" }), node2({ address: "node2.example.com" })];
                    const model = parseStackConfig(withContainers(containers, { gateway: "198.51.100.254" }, hosts));
                    const macs = model.networks[0].containers.map((c) => c.attachments[0].mac);
                    assert.equal(new Set(macs).size, octets.length);
                    macs.forEach((m, i) => assert.equal(m, `02:42:c6:33:64:${octets[i].toString(16).padStart(2, "0")}`));
                }),
            );
        });

        it("reports a random ip outside the subnet with the subnet", () => {
            fc.assert(
                fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), (third, fourth) => {
                    fc.pre(third !== 100);
                    const ip = `198.51.${third}.${fourth}`;
                    expectProblems(withContainers([web({ ip })]), [`networks[0].containers[0].ip ${ip} does not belong to subnet 198.51.100.0/24`]);
                }),
            );
        });
    });
});
