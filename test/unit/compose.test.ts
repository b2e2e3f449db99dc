/**
 * Compose in and out (tools/compose): compose files built from the field notes' setups
 * (test/fixtures/compose/) imported into stack config fragments, validated in their stack with
 * parseStackConfig, exported back to compose files, and imported again; every problem an import
 * or export can report, with its exact message. Pure: no mocks, no processes (compose.cli.test.ts
 * runs the npm scripts).
 */
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import type { StackModel } from "../../components/config/model";
import { MacvlanConfigError } from "../../components/net/problems";
import { exportCompose } from "../../tools/compose/exportCompose";
import { importCompose } from "../../tools/compose/importCompose";
import { exportFromStack, importToFragment, validateStack, type NamedStack } from "../../tools/compose/pipeline";
import { mergeNetworks } from "../../tools/compose/render";
import { splitShellWords } from "../../tools/compose/shellWords";
import { parseStackFile, SECRET_PLACEHOLDER, type StackFile } from "../../tools/compose/stackFile";

const REPO = path.resolve(__dirname, "../..");
const FIXTURES = path.join(REPO, "test/fixtures/compose");

function fixture(name: string): string {
    return readFileSync(path.join(FIXTURES, name), "utf8");
}

function composeDoc(name: string): unknown {
    return yaml.load(fixture(name));
}

/** A stack of stacks/ as the tools read it. */
function repoStack(name: string): NamedStack {
    const file = `stacks/Pulumi.${name}.yaml`;
    return { name, file, stack: parseStackFile(readFileSync(path.join(REPO, file), "utf8"), file) };
}

/** The error `f` throws: a MacvlanConfigError, whose message is returned. */
function problemOf(f: () => unknown): string {
    try {
        f();
    } catch (e) {
        assert.ok(e instanceof MacvlanConfigError, `expected a MacvlanConfigError, got ${String(e)}`);
        return e.message;
    }
    assert.fail("expected an error, got none");
}

interface RoundTrip {
    /** The compose file (test/fixtures/compose/<file>.yaml). */
    readonly file: string;
    readonly host: string;
    /** The stack of stacks/ whose hosts the fragment is validated with. */
    readonly stack: string;
    /** The import is given the stack (external networks, a network the stack has already); otherwise the fragment is validated with the stack's hosts alone. */
    readonly withStack: boolean;
    /** The expected compose file of the export. */
    readonly compose: string;
}

const ROUND_TRIPS: readonly RoundTrip[] = [
    { file: "notes-macvlan", host: "docker1", stack: "compose", withStack: false, compose: "notes.compose.yaml" },
    { file: "notes-external", host: "docker1", stack: "compose", withStack: true, compose: "notes.compose.yaml" },
    { file: "notes-vms", host: "centos1", stack: "twohosts", withStack: true, compose: "notes-vms.compose.yaml" },
    { file: "notes-twovlans", host: "docker1", stack: "compose", withStack: false, compose: "notes-twovlans.compose.yaml" },
];

/** The stack with the fragment in place: merged into its networks (withStack), or as its only networks. */
function stackWith(t: RoundTrip, fragment: readonly Record<string, unknown>[]): NamedStack {
    const s = repoStack(t.stack);
    const networks = t.withStack ? mergeNetworks(s.stack.networks, fragment) : [...fragment];
    return { ...s, stack: { ...s.stack, networks } };
}

describe("compose in and out: round trips of the field notes' compose files", () => {
    for (const t of ROUND_TRIPS) {
        describe(`${t.file}.yaml on host ${t.host} (stack ${t.stack}${t.withStack ? ", given to the import" : ", hosts only"})`, () => {
            const doc = composeDoc(`${t.file}.yaml`);
            const stack = t.withStack ? repoStack(t.stack) : undefined;

            it("imports to the expected fragment (exact text)", () => {
                assert.equal(importToFragment(doc, `${t.file}.yaml`, t.host, stack).text, fixture(`${t.file}.fragment.yaml`));
            });

            it("the fragment as written in its file is valid in the stack (parseStackConfig), and exports to the expected compose file (exact text)", () => {
                // Read back from the expected fragment's text, as a user pastes it.
                const written = (yaml.load(fixture(`${t.file}.fragment.yaml`)) as Record<string, Record<string, unknown>[]>)["macvlan:networks"];
                const withIt = stackWith(t, written);
                const model = validateStack(withIt.stack);
                const names = model.networks.flatMap((n) => n.containers.filter((c) => c.host === t.host).map((c) => c.name));
                assert.ok(names.length > 0, "the stack has containers on the host");
                assert.equal(exportFromStack(withIt, t.host), fixture(t.compose));
            });

            it("the exported compose file imports back to the same stack model", () => {
                const first = stackWith(t, importToFragment(doc, `${t.file}.yaml`, t.host, stack).result.networks);
                const model: StackModel = validateStack(first.stack);
                // Its networks are external: their definitions come from the stack it was exported from.
                const again = importToFragment(yaml.load(exportFromStack(first, t.host)), t.compose, t.host, first);
                assert.deepEqual(again.model, model);
            });
        });
    }

    it("the notes' compose file gives the same stack containers with external networks (--stack) as with networks declared in it", () => {
        const a = importToFragment(composeDoc("notes-external.yaml"), "notes-external.yaml", "docker1", repoStack("compose")).model;
        const b = importToFragment(composeDoc("notes-macvlan.yaml"), "notes-macvlan.yaml", "docker1", repoStack("compose")).model;
        assert.ok(a !== undefined && b !== undefined);
        assert.deepEqual(
            a.networks.map((n) => n.containers),
            b.networks.map((n) => n.containers),
        );
    });

    it("keeps the stack's containers of other hosts on a network it already has, and replaces the host's", () => {
        const out = importToFragment(composeDoc("notes-vms.yaml"), "notes-vms.yaml", "centos1", repoStack("twohosts"));
        const containers = (out.result.networks[0]?.containers ?? []) as { name: string; host: string }[];
        assert.deepEqual(
            containers.map((c) => `${c.host}/${c.name}`),
            ["centos2/test2", "centos1/test1"],
        );
    });

    it("several pools (dual stack) become ipam with ip6; external: true with name finds the stack's network; macvlan_mode becomes mode", () => {
        const doc = yaml.load(`
services:
  web:
    image: nginx:1.27
    command: ["nginx", "-g", "daemon off;"]
    networks:
      dual: { ipv4_address: 10.60.0.12, ipv6_address: "2001:db8::12" }
      lan: { ipv4_address: 198.51.100.30 }
networks:
  dual:
    driver: macvlan
    enable_ipv6: true
    driver_opts: { parent: eth0.60, macvlan_mode: private }
    ipam:
      config:
        - { subnet: 10.60.0.0/24, gateway: 10.60.0.1 }
        - { subnet: "2001:db8::/64", gateway: "2001:db8::1" }
  lan: { external: true, name: pub_net }
`);
        // A second network on eth0.60 beside pub_net_mid: the Docker 27 rule waits for the probe, as in pulumi up.
        const out = importToFragment(doc, "dual.yaml", "docker1", repoStack("compose"));
        assert.deepEqual(out.result.networks.find((n) => n.name === "dual"), {
            name: "dual",
            vlan: 60,
            mode: "private",
            ipam: [
                { subnet: "10.60.0.0/24", gateway: "10.60.0.1" },
                { subnet: "2001:db8::/64", gateway: "2001:db8::1" },
            ],
            hosts: ["docker1"],
            containers: [{ name: "web", host: "docker1", image: "nginx:1.27", ip: "10.60.0.12", ip6: "2001:db8::12", networks: [{ network: "pub_net", ip: "198.51.100.30" }], command: ["nginx", "-g", "daemon off;"] }],
        });
        const web = out.model?.networks.find((n) => n.name === "dual")?.containers[0];
        assert.deepEqual(web?.attachments, [
            { network: "dual", ipv4Address: "10.60.0.12", ipv6Address: "2001:db8::12", mac: "02:42:0a:3c:00:0c" },
            { network: "pub_net", ipv4Address: "198.51.100.30", mac: "02:42:c6:33:64:1e" },
        ]);
    });

    it("a clear-text password becomes a secretEnv name, its value left out, with the command that sets it", () => {
        const out = importToFragment(composeDoc("notes-macvlan.yaml"), "notes-macvlan.yaml", "docker1");
        assert.ok(!out.text.includes("roottoor"));
        const mysql = ((out.result.networks[0]?.containers ?? []) as Record<string, unknown>[])[1];
        assert.deepEqual(mysql?.env, { TZ: "Asia/Shanghai" });
        assert.deepEqual(mysql?.secretEnv, ["MYSQL_ROOT_PASSWORD"]);
        assert.match(out.text, /^# {3}pulumi config set --secret --path 'macvlan:networks\[0\]\.containers\[1\]\.env\.MYSQL_ROOT_PASSWORD'$/m);
    });
});

describe("compose in and out: what a fragment cannot express, each named", () => {
    it("the notes' compose file as they wrote it (ports, volumes, …): every problem in one error, without a stack", () => {
        assert.equal(
            problemOf(() => importToFragment(composeDoc("notes-ports.yaml"), "notes-ports.yaml", "docker1")),
            [
                "compose file notes-ports.yaml has 14 problems:",
                "  volumes is not supported: the stack holds containers on macvlan networks (services and networks)",
                "  networks.backend is external (pub_net): its subnet, gateway and parent are not in the compose file; pass --stack <env> whose macvlan:networks declares pub_net, or declare it here with driver: macvlan, driver_opts.parent and ipam.config",
                "  networks.exp_mid has no subnet: give ipam.config with its subnet and gateway (the stack pins addresses in the LAN's subnet)",
                "  networks.default.driver bridge is not macvlan: only macvlan networks can be imported",
                "  networks.exp_mid.driver_opts.parent eth0.60 is not on eth1, as networks.exp_low.driver_opts.parent eth1.50 is: the stack gives a host one parent NIC, and its networks are on it or on its VLANs (<parent>.<vlan>)",
                "  services.nginx.ports is not supported: macvlan ignores published ports (the container is on the LAN at its own address); remove it",
                "  services.mysql.ports is not supported: macvlan ignores published ports (the container is on the LAN at its own address); remove it",
                "  services.mysql.volumes is not supported",
                "  services.mysql.restart on-failure:3 is not supported: the stack's restart is one of no, always, on-failure, unless-stopped (no retry count)",
                "  services.kodexplorer.networks.exp_low.ipv4_address is required: a container of the stack is pinned at its address",
                "  services.web.build is not supported: the stack runs an image; build and push it, and give image",
                "  services.web.image is required: the stack runs a container from an image",
                "  services.web.networks must be a map of network → ipv4_address (a list gives no pinned address)",
                "  services.mongodb.mac_address is given beside services.mongodb.networks.exp_mid.mac_address: give one",
            ].join("\n"),
        );
    });

    it("with the stack: the external network is found there, and a parent that is not the host's is named", () => {
        const message = problemOf(() => importToFragment(composeDoc("notes-ports.yaml"), "notes-ports.yaml", "docker1", repoStack("compose")));
        const lines = message.split("\n");
        assert.equal(lines[0], "compose file notes-ports.yaml has 13 problems:");
        assert.ok(!message.includes("networks.backend"));
        assert.ok(
            lines.includes(
                "  networks.exp_low.driver_opts.parent eth1.50 is not on eth0, the parent of host docker1 in stacks/Pulumi.compose.yaml: a host's networks are on its parent or on its VLANs (eth0.<vlan>)",
            ),
        );
    });

    it("driver options, IPAM, network keys, an ambiguous MAC, interpolation, quoting, a service without networks; no env value shown", () => {
        const doc = yaml.load(`
services:
  web:
    image: nginx:1.27
    mac_address: "02:00:00:00:00:01"
    environment: { URL: "http://\${HOST}/s3cret", PORT: [1] }
    command: "sh -c 'echo hi"
    networks:
      a: { ipv4_address: 192.0.2.5 }
      b: { ipv4_address: 198.51.100.5, aliases: [w] }
      c: {}
  db:
    image: mysql:5.7
    restart: unless-stopped
networks:
  a: { driver: macvlan, driver_opts: { parent: eth0.50, ipvlan_mode: l2 }, ipam: { config: [{ subnet: 192.0.2.0/24 }] } }
  b: { driver: macvlan, driver_opts: { parent: eth0 }, ipam: { driver: dhcp, config: [{ subnet: 198.51.100.0/24, gateway: 198.51.100.1 }] }, internal: true }
  c: {}
`);
        const message = problemOf(() => importCompose(doc, { file: "small.yaml", host: "docker1" }));
        assert.equal(
            message,
            [
                "compose file small.yaml has 12 problems:",
                "  networks.a.driver_opts.ipvlan_mode is not supported",
                "  networks.a.ipam.config[0].gateway is required: the LAN's real router (Docker before 29 invents one, and 29+ gives the containers no default route)",
                "  networks.b.internal is not supported",
                "  networks.b.ipam.driver dhcp is not supported: the stack's networks use Docker's default IPAM",
                "  networks.c has no driver (Docker's default is bridge): only macvlan networks can be imported; give driver: macvlan, or external: true for a network made by hand",
                "  services.web.mac_address is ambiguous with several networks (a, b, c): give each networks.<name>.mac_address",
                "  services.web.networks.b.aliases is not supported",
                "  services.web.networks.c.ipv4_address is required: a container of the stack is pinned at its address",
                `  services.web.command "sh -c 'echo hi" has a quote that is not closed`,
                "  services.web.environment.URL interpolates a variable inside its value, which the stack cannot express: write the value, or the whole value as ${NAME} (a secret)",
                "  services.web.environment.PORT must be a string, a number or a boolean",
                "  services.db joins no network: a container of the stack is on a macvlan network at a pinned address (networks.<name>.ipv4_address)",
            ].join("\n"),
        );
        assert.ok(!message.includes("s3cret"));
    });

    it("a network the stack declares differently is refused; one that breaks a stack rule is named at its stack path", () => {
        const other = yaml.load(`
services:
  nginx: { image: "nginx:latest", networks: { pub: { ipv4_address: 198.51.100.12 } } }
networks:
  pub: { name: pub_net, driver: macvlan, driver_opts: { parent: eth0 }, ipam: { config: [{ subnet: 198.51.0.0/16, gateway: 198.51.100.1 }] } }
`);
        assert.equal(
            problemOf(() => importToFragment(other, "other.yaml", "docker1", repoStack("compose"))),
            "compose file other.yaml has 1 problem:\n  networks.pub (pub_net) is not the network stacks/Pulumi.compose.yaml declares under that name: its subnet differs; the stack's entry spans its hosts, so make them agree, or give the compose network another name",
        );
        const bad = yaml.load(`
services:
  nginx: { image: "nginx:latest", networks: { pub: { ipv4_address: 198.51.100.300 } } }
networks:
  pub: { external: true, name: pub_net }
`);
        assert.equal(
            problemOf(() => importToFragment(bad, "bad.yaml", "docker1", repoStack("compose"))),
            "stacks/Pulumi.compose.yaml with the fragment of bad.yaml has 1 problem:\n  networks[0].containers[0].ip 198.51.100.300 is not an IPv4 or IPv6 address",
        );
    });

    it("a document that is not a compose file", () => {
        assert.equal(problemOf(() => importCompose("x", { file: "x.yaml", host: "docker1" })), "compose file x.yaml has 1 problem:\n  the file is not a compose file (a map with services and networks), but a string");
        assert.equal(problemOf(() => importCompose(undefined, { file: "x.yaml", host: "docker1" })), "compose file x.yaml has 1 problem:\n  the file is not a compose file (a map with services and networks), but empty");
    });
});

describe("compose in and out: export", () => {
    it("a host the stack does not have", () => {
        assert.equal(
            problemOf(() => exportFromStack(repoStack("compose"), "docker9")),
            "export-compose has 1 problem:\n  --host docker9 is not a host of the stack (docker1)",
        );
    });

    it("validates the stack first: an invalid stack file gives parseStackConfig's problems", () => {
        const s = repoStack("twohosts");
        const broken: StackFile = { ...s.stack, hosts: [{ name: "centos1", address: "198.51.100.145", parent: "ens33", hostKey: "ssh-ed25519 AAAA" }] };
        assert.match(problemOf(() => exportFromStack({ ...s, stack: broken }, "centos1")), /^macvlan stack config has \d+ problems?:\n {2}hosts\[0\]\.hostKey /);
    });

    it("a secret env value (secure: or secretEnv) is written ${NAME}, and a $ in a plain value or a command $$", () => {
        const model = validateStack({
            hosts: repoStack("compose").stack.hosts,
            networks: [
                {
                    name: "pub_net",
                    subnet: "198.51.100.0/24",
                    gateway: "198.51.100.1",
                    containers: [{ name: "app", host: "docker1", image: "nginx:1.27", ip: "198.51.100.12", command: ["echo", "$HOME"], env: { PRICE: "$5", TOKEN: SECRET_PLACEHOLDER } }],
                },
            ],
            trustOnFirstUse: false,
            probe: false,
        });
        const doc = exportCompose(model, "docker1", new Map([["pub_net/app", ["TOKEN"]]]));
        assert.deepEqual(doc.services["app"]?.environment, { PRICE: "$$5", TOKEN: "${TOKEN}" });
        assert.deepEqual(doc.services["app"]?.command, ["echo", "$$HOME"]);
        const secure = repoStack("compose");
        const networks = structuredClone(secure.stack.networks) as { containers: { env?: Record<string, unknown>; secretEnv?: string[] }[] }[];
        const mysql = networks[0]?.containers[1];
        assert.ok(mysql !== undefined);
        mysql.env = { ...mysql.env, MYSQL_ROOT_PASSWORD: { secure: "v1:abc" } };
        delete mysql.secretEnv;
        assert.match(exportFromStack({ ...secure, stack: { ...secure.stack, networks } }, "docker1"), /^ {6}MYSQL_ROOT_PASSWORD: \$\{MYSQL_ROOT_PASSWORD\}$/m);
    });
});

describe("compose in and out: a command string split as Compose splits it", () => {
    const cases: [string, string[] | undefined][] = [
        ["sleep infinity", ["sleep", "infinity"]],
        ["  mysqld   --character-set-server=utf8 ", ["mysqld", "--character-set-server=utf8"]],
        [`sh -c 'echo "a b"; exit 1'`, ["sh", "-c", 'echo "a b"; exit 1']],
        [`echo "say \\"hi\\"" a\\ b`, ["echo", 'say "hi"', "a b"]],
        [`x''y ""`, ["xy", ""]],
        [`echo 'open`, undefined],
        [`echo "open`, undefined],
        ["echo \\", undefined],
    ];
    for (const [s, words] of cases) {
        it(`${JSON.stringify(s)} → ${JSON.stringify(words)}`, () => {
            assert.deepEqual(splitShellWords(s), words);
        });
    }
});
