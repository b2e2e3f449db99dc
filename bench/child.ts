/**
 * One measured run, in its own process (so that its peak memory is its own): `program` evaluates
 * index.ts under the mocks with a generated fleet config and writes what it registered to a dump
 * file; `typed` and `raw` register the dump's custom resources bare (the SDK floors).
 * `noop` evaluates the config twice and counts the resources whose inputs changed.
 * `typed0` and `raw0`: the floors with `Error.stackTraceLimit = 0`, as index.ts runs the program.
 * Usage: tsx bench/child.ts <program|typed|raw|typed0|raw0|noop> <hosts>[@<first>] <dump.json> [--no-dump|--fleet=<N>]
 * (`--fleet=<N>`: program only, no dump; a group stack of an N-host fleet that reads the other groups through StackReferences.)
 * Prints one JSON line: {mode, hosts, ms, maxRssMb, heapMb, resources}.
 */
// The mocks first: importing them sets them.
import { recorded, reset } from "../test/support/mocks";
import { readFileSync, writeFileSync } from "node:fs";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { changedResources, fleetConfig } from "../test/support/fleet";
import { publishedOutputs, type FleetOutputs } from "../test/support/fleetStacks";
import { runProgram, settleRegistrations } from "../test/support/program";
import { isSecretValue, nameByUrn } from "../test/support/records";

/** A registered custom resource as the floors replay it. */
export interface DumpedResource {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, unknown>;
    /** Name of its explicit provider, when it has one. */
    readonly provider?: string;
}

/** Secret values (as the mocks record them) back into `pulumi.secret`, the rest as is. */
function revive(v: unknown): unknown {
    if (isSecretValue(v)) return pulumi.secret(revive(v.value));
    if (Array.isArray(v)) return v.map(revive);
    if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)]));
    return v;
}

/** A provider's inputs as its typed class takes them: the wire form encodes structured values as JSON strings. */
function providerArgs(inputs: Record<string, unknown>): Record<string, unknown> {
    return Object.fromEntries(
        Object.entries(inputs).map(([k, v]) => {
            if (typeof v === "string" && (v.startsWith("[") || v.startsWith("{"))) {
                try {
                    return [k, JSON.parse(v) as unknown];
                } catch {
                    return [k, v];
                }
            }
            return [k, v];
        }),
    );
}

type Ctor = new (name: string, args: never, opts?: pulumi.CustomResourceOptions) => pulumi.CustomResource;
const TYPED: Readonly<Record<string, Ctor>> = {
    "pulumi:providers:docker": docker.Provider,
    "docker:index/network:Network": docker.Network,
    "docker:index/remoteImage:RemoteImage": docker.RemoteImage,
    "docker:index/container:Container": docker.Container,
    "command:remote:Command": command.remote.Command,
};

/** The raw floor's classes: the SDK's base classes themselves, with nothing added. */
class RawProvider extends pulumi.ProviderResource {}
class RawResource extends pulumi.CustomResource {}

/** Registers the dumped resources bare: through the typed SDK classes, or as raw CustomResources. */
function registerFloor(mode: "typed" | "raw", dump: readonly DumpedResource[]): void {
    const providers = new Map<string, pulumi.ProviderResource>();
    for (const r of dump) {
        const opts: pulumi.CustomResourceOptions = r.provider === undefined ? {} : { provider: providers.get(r.provider) };
        const inputs = revive(r.inputs) as Record<string, unknown>;
        const isProvider = r.type.startsWith("pulumi:providers:");
        let res: pulumi.CustomResource;
        if (mode === "typed") {
            const ctor = TYPED[r.type];
            if (ctor === undefined) throw new Error(`bench: no typed class for ${r.type}`);
            res = new ctor(r.name, (isProvider ? providerArgs(inputs) : inputs) as never, opts);
        } else if (isProvider) {
            res = new RawProvider(r.type.slice("pulumi:providers:".length), r.name, inputs, opts);
        } else {
            res = new RawResource(r.type, r.name, inputs, opts);
        }
        if (isProvider) providers.set(r.name, res);
    }
}

async function main(): Promise<void> {
    const [mode, hostsArg, dumpFile, flag] = process.argv.slice(2);
    // `<count>` or `<count>@<first>`: a group of a larger fleet (hosts first..first+count-1).
    const [countArg, firstArg] = (hostsArg ?? "").split("@");
    const hosts = Number(countArg);
    const first = firstArg === undefined ? 0 : Number(firstArg);
    if (mode === "noop") {
        // The same config evaluated twice: how many resources a `pulumi up` with no edits would change (goal 0).
        const config = { ...fleetConfig(hosts), "macvlan:probe": "false" };
        const first = await runProgram(config, { secretKeys: ["macvlan:sshPrivateKey"] });
        const second = await runProgram(config, { secretKeys: ["macvlan:sshPrivateKey"] });
        const changed = changedResources(first.resources, second.resources);
        for (const c of changed.slice(0, 10)) process.stderr.write(`${c}\n`);
        process.stdout.write(`${JSON.stringify({ mode, hosts, ms: 0, maxRssMb: 0, heapMb: 0, resources: second.resources.length, changed: changed.length })}\n`);
        return;
    }
    // typed0 and raw0: the floors with V8's stack traces off, as the program runs (index.ts).
    const floor = mode === "typed0" ? "typed" : mode === "raw0" ? "raw" : mode;
    if (mode === "typed0" || mode === "raw0") Error.stackTraceLimit = 0;
    if ((floor !== "program" && floor !== "typed" && floor !== "raw") || !Number.isInteger(hosts) || dumpFile === undefined) {
        throw new Error("usage: child.ts <program|typed|raw> <hosts> <dump.json> [--no-dump|--fleet=<N>]");
    }
    let ms: number;
    let resources: number;
    let dump: DumpedResource[] | undefined;
    if (mode === "program") {
        // The probe off, as a stack on a pull request previews it without SSH (and the fake
        // prober, which parses the whole config once per host, would be measured with it).
        // `--fleet=<N>`: a group stack of an N-host fleet of groups of `hosts`, which reads the
        // other groups' outputs (macvlan:fleet) through StackReferences.
        const fleetSize = flag?.startsWith("--fleet=") === true ? Number(flag.slice("--fleet=".length)) : undefined;
        const peers: Record<string, FleetOutputs> = {};
        for (let k = 0; fleetSize !== undefined && k < fleetSize; k += hosts) {
            if (k !== first) peers[`acme/macvlan/hosts-${k}`] = publishedOutputs(fleetConfig(hosts, { first: k }));
        }
        const config = {
            ...fleetConfig(hosts, { first }),
            "macvlan:probe": "false",
            ...(fleetSize === undefined ? {} : { "macvlan:fleet": Object.keys(peers) }),
        };
        const t0 = performance.now();
        const r = await runProgram(config, { secretKeys: ["macvlan:sshPrivateKey"], stackOutputs: peers });
        ms = performance.now() - t0;
        resources = r.resources.filter((x) => x.custom).length;
        if (flag === undefined) {
            const nameOf = nameByUrn(r.resources);
            dump = r.resources
                .filter((x) => x.custom)
                .map((x) => {
                    const p = x.provider === undefined ? undefined : nameOf(x.provider.slice(0, x.provider.lastIndexOf("::")));
                    return { type: x.type, name: x.name, inputs: x.inputs, ...(p === undefined ? {} : { provider: p }) };
                });
        }
    } else {
        const replay = JSON.parse(readFileSync(dumpFile, "utf8")) as DumpedResource[];
        reset();
        const t0 = performance.now();
        registerFloor(floor as "typed" | "raw", replay);
        await settleRegistrations();
        ms = performance.now() - t0;
        resources = recorded.length;
    }
    const usage = process.resourceUsage();
    const line = { mode, hosts, ms: Math.round(ms), maxRssMb: Math.round(usage.maxRSS / 1024), heapMb: Math.round(process.memoryUsage().heapUsed / 1048576), resources };
    if (dump !== undefined) writeFileSync(dumpFile, JSON.stringify(dump));
    process.stdout.write(`${JSON.stringify(line)}\n`);
}

main().then(
    () => process.exit(0),
    (e: unknown) => {
        process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
        process.exit(1);
    },
);
