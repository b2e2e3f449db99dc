/**
 * The plan of one host (pure, no resource imports): from the plain part of MacvlanHost's
 * arguments to everything MacvlanHost registers — the preflight, one feature per host setting in
 * registration order with its child name, the settings it must follow and its `triggers`, and the
 * Docker provider's endpoint and ssh options. The drift probe plans from the same function, so the
 * probe reads exactly the features the component registers.
 */
import { DEFAULT_IP_FORWARD, DEFAULT_PROMISC, DEFAULT_SHIM_LINK, DEFAULT_SSH_PORT, DEFAULT_SSH_USER } from "../config/model";
import { checkFeature, identityOf, renderPreflight, type HostFeature } from "../host/scripts";
import {
    IDENTITY_FILE_RULE,
    ifNameProblem,
    isIdentityFile,
    isIpv6Literal,
    isPort,
    isSshAddress,
    isSshUser,
    isVlanId,
    PORT_RULE,
    SSH_USER_RULE,
    sshHostKeyProblem,
    sshHostKeyType,
    sshKeyscanCommand,
    sshKnownHostsPattern,
    sshRsaPinRule,
    VLAN_ID_RULE,
} from "../net/patterns";
import { hostChildNames, segmentLink } from "../net/names";

/** Drift token of a feature the probe said nothing about (probe off, new feature, key missing). */
export const UNPROBED_TOKEN = "unprobed";

/** How to reach a host, as far as the plan needs it (no key material). */
export interface HostConnectionSpec {
    readonly address: string;
    readonly port?: number;
    readonly user?: string;
    /**
     * Pinned host key `<type> <base64>`. A plan can be made without it (the drift probe plans
     * before it learns a key on first use), but MacvlanHost registers nothing without one.
     */
    readonly hostKey?: string;
    readonly identityFile?: string;
}

/** What the plan reads of a host: the plain part of MacvlanHostArgs (see there for each field). */
export interface HostSpec {
    readonly connection: HostConnectionSpec;
    readonly parent: string;
    readonly promisc?: boolean;
    readonly ipForward?: boolean;
    readonly vlans?: readonly number[];
    readonly shim?: { readonly address: string; readonly link?: string; readonly vlan?: number; readonly routes: readonly string[] };
    readonly needsDocker?: boolean;
}

/** One host setting as planned. */
export interface PlannedFeature {
    /** Child resource name (from `hostChildNames`). */
    readonly name: string;
    readonly feature: HostFeature;
    /** Child names of the settings this one follows (besides the preflight). */
    readonly after: readonly string[];
    /**
     * The command's `triggers`: its own `featureIdentity`, then those of the settings it follows,
     * transitively. `update` only repairs drift of the same setting; a changed identity (another
     * parent, a VLAN on another NIC, a shim with a new address or lower link) must undo the old
     * setting with its own delete text and make the new one, which a trigger change does
     * (pulumi-command replaces the command). A route follows its shim: when the shim is replaced
     * its link goes and the kernel drops the routes through it, so the routes are replaced too.
     */
    readonly triggers: readonly string[];
}

/** Public facts about the shim, as plain values. */
export interface ShimInfo {
    readonly link: string;
    readonly lower: string;
    readonly address: string;
    readonly routes: readonly string[];
}

/** Everything MacvlanHost registers for one host, as plain values. */
export interface HostPlan {
    /** VLAN ids with a sub-interface, sorted and unique. */
    readonly vlans: readonly number[];
    readonly preflight: { readonly name: string; readonly script: string };
    /** The host settings in registration order. */
    readonly features: readonly PlannedFeature[];
    readonly shim?: ShimInfo;
    /** The remote commands' connection, without the key. */
    readonly ssh: { readonly host: string; readonly port: number; readonly user: string; readonly hostKey?: string };
    /** The host's Docker provider. */
    readonly docker: { readonly name: string; readonly host: string; readonly sshOpts: readonly string[] };
}

/** Either every problem with a host's arguments (each `MacvlanHost <name>: …`), or its plan. */
export type HostPlanResult = { readonly problems: readonly string[]; readonly plan?: undefined } | { readonly problems: readonly []; readonly plan: HostPlan };

/** Problems with the values that would reach a shell or an ssh option; empty when usable. */
function specProblems(spec: HostSpec): string[] {
    const problems: string[] = [];
    const c = spec.connection;
    if (!isSshAddress(c.address)) problems.push(`connection.address ${JSON.stringify(c.address)} is not an IP address or DNS name`);
    if (c.port !== undefined && !isPort(c.port)) problems.push(`connection.port ${String(c.port)} ${PORT_RULE}`);
    if (c.user !== undefined && !isSshUser(c.user)) problems.push(`connection.user ${JSON.stringify(c.user)} ${SSH_USER_RULE}`);
    if (c.hostKey !== undefined) {
        const p = sshHostKeyProblem(c.hostKey) ?? (sshHostKeyType(c.hostKey) === "ssh-rsa" ? sshRsaPinRule(c.address, c.port ?? DEFAULT_SSH_PORT) : undefined);
        if (p !== undefined) problems.push(`connection.hostKey ${p}`);
    }
    if (c.identityFile !== undefined && !isIdentityFile(c.identityFile)) {
        problems.push(`connection.identityFile ${JSON.stringify(c.identityFile)} ${IDENTITY_FILE_RULE}`);
    }
    const parentRule = ifNameProblem(spec.parent);
    if (parentRule !== undefined) problems.push(`parent ${JSON.stringify(spec.parent)} ${parentRule}`);
    for (const id of spec.vlans ?? []) {
        if (!isVlanId(id)) problems.push(`vlans ${String(id)} ${VLAN_ID_RULE}`);
    }
    if (spec.shim !== undefined) {
        const link = spec.shim.link ?? DEFAULT_SHIM_LINK;
        const linkRule = ifNameProblem(link);
        if (linkRule !== undefined) problems.push(`shim.link ${JSON.stringify(link)} ${linkRule}`);
        if (spec.shim.vlan !== undefined && !(spec.vlans ?? []).includes(spec.shim.vlan)) {
            problems.push(`shim.vlan ${spec.shim.vlan} is not one of the host's vlans`);
        }
    }
    return problems;
}

/**
 * The problem of a connection without a pinned host key, for the components that register (the
 * plan itself is made without one: the drift probe may still have to learn it).
 */
export function hostKeyRequiredProblem(c: Pick<HostConnectionSpec, "address" | "port">): string {
    return `connection.hostKey is required: the remote commands, the drift probe and the Docker provider accept only the pinned host key ("<type> <base64>", e.g. the ed25519 key from \`${sshKeyscanCommand(c.address, c.port ?? DEFAULT_SSH_PORT)}\`)`;
}

/** The VLAN ids of a host, sorted and unique. */
export function vlanIds(spec: Pick<HostSpec, "vlans">): number[] {
    return [...new Set(spec.vlans ?? [])].sort((a, b) => a - b);
}

/**
 * The host settings in registration order, with their child names, ordering and triggers, without
 * the checks (planHost checks; this is what the probe's fake in the tests and planHost share).
 */
export function planHostFeatures(name: string, spec: HostSpec): PlannedFeature[] {
    return withTriggers(hostSettings(name, spec));
}

type Setting = Omit<PlannedFeature, "triggers">;

/** The host settings in registration order, with their child names and what each follows. */
function hostSettings(name: string, spec: HostSpec): Setting[] {
    const out: Setting[] = [];
    if (spec.promisc ?? DEFAULT_PROMISC) {
        out.push({ name: hostChildNames.promisc(name), feature: { kind: "promisc", parent: spec.parent }, after: [] });
    }
    if (spec.ipForward ?? DEFAULT_IP_FORWARD) {
        out.push({ name: hostChildNames.ipForward(name), feature: { kind: "ipforward" }, after: [] });
    }
    for (const id of vlanIds(spec)) {
        out.push({ name: hostChildNames.vlan(name, id), feature: { kind: "vlan", parent: spec.parent, id }, after: [] });
    }
    if (spec.shim !== undefined) {
        const shim = spec.shim;
        const link = shim.link ?? DEFAULT_SHIM_LINK;
        const shimName = hostChildNames.shim(name);
        out.push({
            name: shimName,
            feature: { kind: "shim", lower: segmentLink(spec.parent, shim.vlan), link, address: shim.address },
            after: shim.vlan === undefined ? [] : [hostChildNames.vlan(name, shim.vlan)],
        });
        for (const cidr of [...new Set(shim.routes)]) {
            out.push({ name: hostChildNames.shimRoute(name, cidr), feature: { kind: "route", link, cidr }, after: [shimName] });
        }
    }
    return out;
}

/** Each setting with its triggers (see PlannedFeature). */
function withTriggers(settings: readonly Setting[]): PlannedFeature[] {
    const byName = new Map(settings.map((p) => [p.name, p]));
    const triggers = new Map<string, string[]>();
    const of = (p: Setting): string[] => {
        const known = triggers.get(p.name);
        if (known !== undefined) return known;
        const ids = [identityOf(p.feature)];
        for (const n of p.after) {
            const dep = byName.get(n);
            if (dep === undefined) throw new Error(`${p.name} must follow ${n}, which is not planned`);
            for (const id of of(dep)) if (!ids.includes(id)) ids.push(id);
        }
        triggers.set(p.name, ids);
        return ids;
    };
    return settings.map((p) => ({ ...p, triggers: of(p) }));
}

/** The endpoint the Docker provider dials: `ssh://user@address:port` (IPv6 literals in brackets). */
export function dockerSshHost(connection: HostConnectionSpec): string {
    const host = isIpv6Literal(connection.address) ? `[${connection.address}]` : connection.address;
    return `ssh://${connection.user ?? DEFAULT_SSH_USER}@${host}:${connection.port ?? DEFAULT_SSH_PORT}`;
}

/**
 * The `ssh` options of the Docker provider (each list element is one argv word for `ssh`).
 *
 * - `BatchMode=yes`: never prompt (a prompt would hang `pulumi up`).
 * - Pinned host key: `StrictHostKeyChecking=yes`, both known_hosts files `/dev/null`, and
 *   `KnownHostsCommand=/bin/echo <pattern> <type> <base64>`: OpenSSH (8.5+) runs that command
 *   directly (argv split, absolute path required, no shell) and reads its stdout as known_hosts
 *   lines, so the only trusted key is the pinned one and nothing is written to disk. `<pattern>`
 *   is what ssh looks up: the address for port 22, `[address]:port` otherwise. The address and
 *   key are strictly validated (no spaces, quotes, `%` tokens), so they cannot inject options.
 *   No machine-dependent path enters the provider's inputs (`/bin/echo` and `/dev/null` exist on
 *   every Linux and macOS), so the same stack gives the same provider inputs on every machine.
 * - `identityFile`: `IdentityFile=<path>` and `IdentitiesOnly=yes`.
 */
export function dockerSshOpts(connection: HostConnectionSpec): string[] {
    const opts = ["-o", "BatchMode=yes"];
    if (connection.hostKey !== undefined) {
        const pattern = sshKnownHostsPattern(connection.address, connection.port ?? DEFAULT_SSH_PORT);
        opts.push(
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "GlobalKnownHostsFile=/dev/null",
            "-o",
            `KnownHostsCommand=/bin/echo ${pattern} ${connection.hostKey}`,
        );
    }
    if (connection.identityFile !== undefined) {
        opts.push("-o", `IdentityFile=${connection.identityFile}`, "-o", "IdentitiesOnly=yes");
    }
    return opts;
}

/** Plans already made, by name and arguments: a host is checked once however many callers ask. */
const planned = new Map<string, HostPlanResult>();

/**
 * The plan of one host, or every problem that would stop it: the argument checks, then each
 * planned script rendered once, so that a renderer's refusal (say, a component name that is not a
 * host name) is reported now and not as a failed Output later. Pure; the result is remembered per
 * name and arguments, so the stack's up-front check, the probe and the component share one check.
 */
export function planHost(name: string, spec: HostSpec): HostPlanResult {
    // The plain arguments (no key material, no probe tokens: they do not change the plan).
    const key = JSON.stringify([name, spec], (k, v: unknown) => (k === "privateKey" || k === "probe" ? undefined : v));
    const known = planned.get(key);
    if (known !== undefined) return known;
    const result = makePlan(name, spec);
    planned.set(key, result);
    return result;
}

function makePlan(name: string, spec: HostSpec): HostPlanResult {
    const label = (p: string) => `MacvlanHost ${name}: ${p}`;
    const argProblems = specProblems(spec);
    if (argProblems.length > 0) return { problems: argProblems.map(label) };
    const problems: string[] = [];
    const vlans = vlanIds(spec);
    let preflight = "";
    try {
        preflight = renderPreflight({ host: name, parent: spec.parent, needsVlan: vlans.length > 0, needsDocker: spec.needsDocker ?? false });
    } catch (e) {
        problems.push(label(`${hostChildNames.preflight(name)}: ${e instanceof Error ? e.message : String(e)}`));
    }
    const settings = hostSettings(name, spec);
    for (const f of settings) {
        try {
            checkFeature(f.feature);
        } catch (e) {
            problems.push(label(`${f.name}: ${e instanceof Error ? e.message : String(e)}`));
        }
    }
    if (problems.length > 0) return { problems };
    const features = withTriggers(settings);
    const shimFeature = features.find((f) => f.feature.kind === "shim")?.feature;
    const c = spec.connection;
    return {
        problems: [],
        plan: {
            vlans,
            preflight: { name: hostChildNames.preflight(name), script: preflight },
            features,
            ...(spec.shim !== undefined && shimFeature?.kind === "shim"
                ? { shim: { link: shimFeature.link, lower: shimFeature.lower, address: shimFeature.address, routes: [...new Set(spec.shim.routes)] } }
                : {}),
            ssh: {
                host: c.address,
                port: c.port ?? DEFAULT_SSH_PORT,
                user: c.user ?? DEFAULT_SSH_USER,
                ...(c.hostKey === undefined ? {} : { hostKey: c.hostKey }),
            },
            docker: { name: hostChildNames.dockerProvider(name), host: dockerSshHost(c), sshOpts: dockerSshOpts(c) },
        },
    };
}
