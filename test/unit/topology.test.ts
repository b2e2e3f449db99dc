/**
 * The topology picture (components/plan/topology.ts): the exact text of a small stack, every host,
 * parent, VLAN link, network, container (addresses and MAC) and shim of each example stack named,
 * ids made only of letters, digits and `_` and never shared by two names, labels escaped, and the
 * same text for the same config. Pure: loads no mocks.
 */
import * as assert from "node:assert/strict";
import * as fc from "fast-check";
import type { StackModel } from "../../components/config/model";
import { parseStackConfig, type RawStackConfig } from "../../components/config/parse";
import { segmentLink } from "../../components/net/names";
import { hostSpec } from "../../components/plan/stack";
import { mermaidId, mermaidIdPart, mermaidText, renderTopology, TOPOLOGY_HEADER } from "../../components/plan/topology";
import { clone, STACKS, stackConfig, withKey } from "../support/stacks";
import { topologyFixture } from "../support/topology";

/** The model of an example stack (with its secrets set, as the program would read it). */
function stackModel(name: (typeof STACKS)[number]): StackModel {
    const c = withKey(stackConfig(name));
    return parseStackConfig({ hosts: c["macvlan:hosts"], networks: c["macvlan:networks"], networksSecret: true }, {}, { deferred: true });
}

const FIXTURE_TEXT = `
%% pulumi-macvlan topology: generated from the stack config (npm run topology); do not edit
flowchart LR
    subgraph host__edge_2d1["host edge-1<br/>198.51.100.40"]
        link__edge_2d1__eth0["eth0<br/>parent NIC, promisc on, ip_forward on"]
        link__edge_2d1__eth0_2e50["eth0.50<br/>VLAN 50"]
        link__edge_2d1__eth0 --- link__edge_2d1__eth0_2e50
        link__edge_2d1__eth0_2e60["eth0.60<br/>VLAN 60"]
        link__edge_2d1__eth0 --- link__edge_2d1__eth0_2e60
        shim__edge_2d1[/"macvlan-shim<br/>192.0.2.250/32<br/>routes 192.0.2.10/32"/]
        link__edge_2d1__eth0_2e50 --- shim__edge_2d1
        on__edge_2d1__lan["lan on edge-1<br/>pools 198.51.100.128/26 (slice), 2001:db8::/64"]
        link__edge_2d1__eth0 --- on__edge_2d1__lan
        on__edge_2d1__lan_5fv50["lan_v50 on edge-1<br/>pool 192.0.2.0/24"]
        link__edge_2d1__eth0_2e50 --- on__edge_2d1__lan_5fv50
        on__edge_2d1__svc["config-only svc-config<br/>pool 203.0.113.128/26 (slice)"]
        link__edge_2d1__eth0_2e60 --- on__edge_2d1__svc
        ctr__edge_2d1__app("app<br/>lan_v50: 192.0.2.10, 02:00:00:00:00:0a<br/>lan: 198.51.100.10, 2001:db8::10, 02:42:c6:33:64:0a<br/>default route via lan")
        on__edge_2d1__lan_5fv50 --- ctr__edge_2d1__app
        on__edge_2d1__lan -.-|"joins"| ctr__edge_2d1__app
    end
    subgraph host__edge_2d2["host edge-2<br/>198.51.100.41"]
        link__edge_2d2__eth1["eth1<br/>parent NIC, promisc off, ip_forward on"]
        link__edge_2d2__eth1_2e60["eth1.60<br/>VLAN 60"]
        link__edge_2d2__eth1 --- link__edge_2d2__eth1_2e60
        on__edge_2d2__lan["lan on edge-2<br/>pools 198.51.100.192/26 (slice), 2001:db8::/64"]
        link__edge_2d2__eth1 --- on__edge_2d2__lan
        on__edge_2d2__svc["config-only svc-config<br/>pool 203.0.113.192/26 (slice)"]
        link__edge_2d2__eth1_2e60 --- on__edge_2d2__svc
        ctr__edge_2d2__web_2e1("web.1<br/>198.51.100.12<br/>2001:db8::12<br/>mac 02:42:c6:33:64:0c")
        on__edge_2d2__lan --- ctr__edge_2d2__web_2e1
    end
    net__lan{{"lan<br/>network, macvlan bridge, untagged<br/>198.51.100.0/24 gw 198.51.100.1 range 198.51.100.128/25<br/>2001:db8::/64 gw 2001:db8::1"}}
    on__edge_2d1__lan -.- net__lan
    on__edge_2d2__lan -.- net__lan
    net__lan_5fv50{{"lan_v50<br/>network, macvlan vepa, VLAN 50<br/>192.0.2.0/24 gw 192.0.2.1<br/>aux edge-1-shim 192.0.2.250"}}
    on__edge_2d1__lan_5fv50 -.- net__lan_5fv50
    net__svc[["svc<br/>swarm network, macvlan bridge, VLAN 60<br/>203.0.113.0/24 gw 203.0.113.1 range 203.0.113.128/25<br/>manager edge-1, config-only svc-config per host"]]
    on__edge_2d1__svc -.- net__svc
    on__edge_2d2__svc -.- net__svc
`.slice(1);

/** Every Mermaid id the text declares or uses: the words before `[`, `(`, `{`, and on both sides of an edge. */
function idsIn(text: string): string[] {
    const ids = new Set<string>();
    for (const line of text.split("\n").map((l) => l.trim())) {
        if (line === "" || line.startsWith("%%") || line === "end" || line.startsWith("flowchart")) continue;
        const bare = line.replace(/"[^"]*"/g, '""');
        const m = /^(?:subgraph\s+)?(\S+?)(?:[[({].*)?$/.exec(bare.split(/\s+(?:---|-\.-)(?:\|""\|)?\s+/)[0] ?? "");
        if (m?.[1] !== undefined) ids.add(m[1]);
        const edge = /\s(?:---|-\.-)(?:\|""\|)?\s+(\S+)$/.exec(bare);
        if (edge?.[1] !== undefined) ids.add(edge[1]);
    }
    return [...ids];
}

/** The label texts of a diagram (between quotes), with `<br/>` lines split. */
function labelLines(text: string): string[] {
    return [...text.matchAll(/"([^"]*)"/g)].flatMap((m) => (m[1] ?? "").split("<br/>"));
}

describe("topology (plan/topology.ts)", () => {
    it("renders the small stack exactly: hosts, links, shim, networks on each host with their pools, containers, joins, a swarm network", () => {
        assert.equal(renderTopology(parseStackConfig(topologyFixture())), FIXTURE_TEXT);
    });

    for (const [name, model] of [...STACKS.map((s) => [`stacks/Pulumi.${s}.yaml`, () => stackModel(s)] as const), ["the small stack", () => parseStackConfig(topologyFixture())] as const]) {
        it(`${name}: names every host, parent NIC, VLAN link, network, container with its addresses and MACs, and shim with its routes`, () => {
            const m = model();
            const text = renderTopology(m);
            const lines = new Set(labelLines(text));
            const missing: string[] = [];
            const want = (line: string, what: string) => {
                if (!lines.has(line)) missing.push(`${what}: ${line}`);
            };
            for (const h of m.hosts) {
                want(`host ${h.name}`, "host");
                want(h.address, `host ${h.name} address`);
                want(h.parent, `host ${h.name} parent`);
                const spec = hostSpec(m, h);
                for (const v of spec.vlans ?? []) want(segmentLink(h.parent, v), `host ${h.name} VLAN link`);
                if (spec.shim !== undefined) {
                    want(spec.shim.address, `host ${h.name} shim`);
                    want(spec.shim.routes.length === 0 ? "no routes" : `routes ${spec.shim.routes.join(", ")}`, `host ${h.name} shim routes`);
                }
            }
            for (const n of m.networks) {
                want(n.name, "network");
                for (const h of n.hosts) want(n.swarm === true ? `config-only ${n.name}-config` : `${n.name} on ${h}`, `network ${n.name} on ${h}`);
                for (const p of n.ipam) assert.ok(text.includes(p.subnet), `${name}: subnet ${p.subnet} of ${n.name}`);
                for (const c of n.containers) {
                    want(c.name, "container");
                    for (const a of c.attachments) {
                        const all = [a.ipv4Address, a.ipv6Address, a.mac].filter((x): x is string => x !== undefined);
                        for (const x of all) assert.ok(text.includes(x), `${name}: ${c.name} on ${a.network}: ${x}`);
                    }
                }
            }
            assert.deepEqual(missing, []);
            assert.ok(m.networks.some((n) => n.containers.length > 0), "the stack has containers");
        });

        it(`${name}: every id is letters, digits and _, and each node is declared once`, () => {
            const text = renderTopology(model());
            const ids = idsIn(text);
            assert.ok(ids.length > 5, `ids found: ${ids.join(" ")}`);
            assert.deepEqual(ids.filter((id) => !/^[A-Za-z0-9_]+$/.test(id)), []);
            const declared = text.split("\n").map((l) => /^\s*(?:subgraph\s+)?([A-Za-z0-9_]+)[[({]/.exec(l)?.[1]).filter((x): x is string => x !== undefined);
            assert.deepEqual(declared.filter((d, i) => declared.indexOf(d) !== i), [], "declared twice");
            assert.deepEqual(ids.filter((id) => !declared.includes(id)), [], "used but not declared");
        });
    }

    it("ids: `-`, `.`, `:` and `_` are written as _<hex>, so names that differ only there get different ids", () => {
        assert.equal(mermaidIdPart("eth0.50"), "eth0_2e50");
        assert.equal(mermaidIdPart("edge-1"), "edge_2d1");
        assert.equal(mermaidIdPart("a:b"), "a_3ab");
        assert.equal(mermaidIdPart("pub_net"), "pub_5fnet");
        assert.equal(mermaidId("ctr", "edge-1", "web.1"), "ctr__edge_2d1__web_2e1");
        const names = ["a-b", "a.b", "a:b", "a_b", "a_2db", "ab", "a__b"];
        assert.equal(new Set(names.map(mermaidIdPart)).size, names.length);
        // Joined ids stay apart too: `__` never occurs inside a part.
        assert.notEqual(mermaidId("ctr", "a", "b_c"), mermaidId("ctr", "a_b", "c"));
    });

    it("ids: any two different names give different parts, and a part is letters, digits and _ without __ (property)", () => {
        fc.assert(
            fc.property(fc.string({ unit: "binary", maxLength: 12 }), fc.string({ unit: "binary", maxLength: 12 }), (a, b) => {
                const pa = mermaidIdPart(a);
                assert.match(pa === "" ? "x" : pa, /^[A-Za-z0-9_]+$/);
                assert.ok(!pa.includes("__"), pa);
                if (a !== b) assert.notEqual(pa, mermaidIdPart(b));
            }),
            { numRuns: 2000 },
        );
    });

    it("labels: a quote, #, < and > become Mermaid entities; names, addresses and MACs stay as they are", () => {
        assert.equal(mermaidText('say "hi" #1 <b>'), "say #quot;hi#quot; #35;1 #60;b#62;");
        assert.equal(mermaidText("web.1 2001:db8::12/64 02:42:c6:33:64:0c edge-1 (slice)"), "web.1 2001:db8::12/64 02:42:c6:33:64:0c edge-1 (slice)");
        // Every label of a rendered diagram is one quoted string: no quote inside a label.
        const text = renderTopology(parseStackConfig(topologyFixture()));
        for (const line of text.split("\n").filter((l) => l.includes('"'))) assert.match(line, /^[^"]*("[^"]*"[^"]*)+$/, line);
    });

    it("is deterministic: the same config gives the same text, from a copy too; an edit changes only its own lines", () => {
        const raw = topologyFixture();
        const a = renderTopology(parseStackConfig(raw));
        assert.equal(renderTopology(parseStackConfig(clone(raw))), a);
        assert.equal(renderTopology(parseStackConfig(raw)), a);
        assert.ok(a.startsWith(`${TOPOLOGY_HEADER}\nflowchart LR\n`));
        const edited = clone(raw) as RawStackConfig & { networks: Array<{ containers?: Array<{ ip?: string }> }> };
        const web = edited.networks[0]?.containers?.[0];
        assert.ok(web !== undefined);
        web.ip = "198.51.100.13";
        const b = renderTopology(parseStackConfig(edited));
        const changed = b.split("\n").filter((l, i) => l !== a.split("\n")[i]);
        assert.deepEqual(changed, ['        ctr__edge_2d2__web_2e1("web.1<br/>198.51.100.13<br/>2001:db8::12<br/>mac 02:42:c6:33:64:0d")']);
    });
});
