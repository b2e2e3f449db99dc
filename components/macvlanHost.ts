/**
 * MacvlanHost: prepares one Linux host for macvlan networks over SSH (promiscuous parent,
 * ip_forward, 802.1Q sub-interfaces, the optional host shim and its routes) and owns the host's
 * Docker provider. Each host setting is one `command.remote.Command` whose scripts come from the
 * pure renderers in `hostScripts.ts`; this file only decides the resource graph.
 */
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_SHIM_LINK, DEFAULT_SSH_PORT, DEFAULT_SSH_USER } from "./config/model";
import { featureIdentity, featureKey, renderFeature, renderPreflight, type HostFeature } from "./host/scripts";
import { hostChildNames } from "./plan/names";
import { IDENTITY_FILE_RULE, isIdentityFile, isIfName, isIpv6Literal, isPort, isSshAddress, isSshUser, isVlanId, sshHostKeyProblem } from "./net/patterns";

/** Drift token of a feature the probe said nothing about (probe off, new feature, key missing). */
export const UNPROBED_TOKEN = "unprobed";
/** Default name of the shim link on the host (a bridge-mode macvlan; ≤ 15 chars). */
export { DEFAULT_SHIM_LINK } from "./config/model";
/** Default for `MacvlanHostArgs.promisc`. */
export const DEFAULT_PROMISC = true;
/** Default for `MacvlanHostArgs.ipForward`. */
export const DEFAULT_IP_FORWARD = true;
/** Pulumi type token of the component. */
export const MACVLAN_HOST_TYPE = "macvlan:index:MacvlanHost";

/** How to reach the host over SSH. */
export interface MacvlanHostConnection {
    /** SSH target: an IP literal or a DNS name. Also the Docker endpoint `ssh://user@address:port`. */
    readonly address: string;
    /** SSH port. Default 22 (`DEFAULT_SSH_PORT`). */
    readonly port?: number;
    /** SSH login user; it needs root rights for `ip`, `sysctl` and Docker. Default `root` (`DEFAULT_SSH_USER`). */
    readonly user?: string;
    /**
     * Pinned host key `<type> <base64>` (no comment). When given, the remote commands accept only
     * this key and the Docker provider's `ssh` does strict checking against it alone (the user's
     * known_hosts files are ignored for this host; this needs OpenSSH 8.5+ on the machine that runs
     * `pulumi up`, for `KnownHostsCommand`). Default: not pinned — the commands accept any key and
     * Docker's `ssh` uses the user's known_hosts.
     */
    readonly hostKey?: string;
    /**
     * Private key contents for the remote commands. Always stored as a secret (wrapped with
     * `pulumi.secret`); it never appears in command text. The Docker provider cannot take key
     * contents: it runs the `ssh` client, which uses the user's ssh agent and ssh config, or
     * `identityFile` below.
     */
    readonly privateKey: pulumi.Input<string>;
    /**
     * Private key file for the Docker provider's `ssh` (`-o IdentityFile=… -o IdentitiesOnly=yes`).
     * It is a provider input, so keep it identical on every machine that runs `pulumi up` (e.g.
     * `~/.ssh/id_macvlan`; `ssh` expands `~`): a changed provider input shows as a change of every
     * container on the host. Characters: `[A-Za-z0-9._/~+-]`, not starting with `-`
     * (`IDENTITY_FILE_RE`). Default: none (ssh agent/config).
     */
    readonly identityFile?: string;
}

/** The host shim: a bridge-mode macvlan link so the host reaches its own containers. */
export interface MacvlanHostShim {
    /** Shim address with prefix length, normally a /32 (IPv4) so it adds no subnet route, e.g. `198.51.100.250/32`. */
    readonly address: string;
    /** Name of the shim link. Default `macvlan-shim` (`DEFAULT_SHIM_LINK`). */
    readonly link?: string;
    /** VLAN whose sub-interface `<parent>.<vlan>` carries the shim; must be in `vlans`. Default: the untagged parent. */
    readonly vlan?: number;
    /** CIDRs routed through the shim (one route command each), normally the /32 of each local container on the shim's segment. */
    readonly routes: readonly string[];
}

/** Arguments of MacvlanHost. Everything that shapes the resource graph is plain; only secrets and probe tokens are Inputs. */
export interface MacvlanHostArgs {
    /** SSH connection to the host. */
    readonly connection: MacvlanHostConnection;
    /** The NIC that carries the LAN (validated Linux interface name), e.g. `ens33`. */
    readonly parent: string;
    /** Put `parent` in promiscuous mode (needed on VMware and most hypervisors). Default true (`DEFAULT_PROMISC`); false: no command. */
    readonly promisc?: boolean;
    /** Ensure `net.ipv4.ip_forward=1`. Default true (`DEFAULT_IP_FORWARD`); false: no command. */
    readonly ipForward?: boolean;
    /** 802.1Q VLAN ids 1–4094; each gets a sub-interface `<parent>.<id>`. Default none. Order and duplicates do not matter. */
    readonly vlans?: readonly number[];
    /** The optional host shim. Default none: the host cannot reach its own macvlan containers (kernel design). */
    readonly shim?: MacvlanHostShim;
    /** The preflight also checks that Docker is installed and answering (set when networks use this host). Default false. */
    readonly needsDocker?: boolean;
    /**
     * Drift tokens from the last probe, by `featureKey` (see `hostScripts.renderProbe`). A feature
     * whose key is missing (or every feature, when absent) gets the token `unprobed`. A changed
     * token changes exactly that feature's command text, so preview shows drift as an update.
     */
    readonly probe?: pulumi.Input<Readonly<Record<string, string>>>;
}

/** One host setting as planned: its child name, its feature and the features it must follow. */
export interface PlannedFeature {
    /** Child resource name (from `hostChildNames`). */
    readonly name: string;
    readonly feature: HostFeature;
    /** Child names of the features this one depends on (besides the preflight). */
    readonly after: readonly string[];
}

/** Problems with the arguments that would reach a shell or an ssh option; empty when usable. */
export function macvlanHostArgsProblems(name: string, args: MacvlanHostArgs): string[] {
    const problems: string[] = [];
    const c = args.connection;
    if (!isSshAddress(c.address)) problems.push(`connection.address ${JSON.stringify(c.address)} is not an IP address or DNS name`);
    if (c.port !== undefined && !isPort(c.port)) problems.push(`connection.port ${String(c.port)} is not a TCP port 1-65535`);
    if (c.user !== undefined && !isSshUser(c.user)) problems.push(`connection.user ${JSON.stringify(c.user)} is not a valid user name`);
    if (c.hostKey !== undefined) {
        const p = sshHostKeyProblem(c.hostKey);
        if (p !== undefined) problems.push(`connection.hostKey ${p}`);
    }
    if (c.identityFile !== undefined && !isIdentityFile(c.identityFile)) {
        problems.push(`connection.identityFile ${JSON.stringify(c.identityFile)} ${IDENTITY_FILE_RULE}`);
    }
    if (!isIfName(args.parent)) problems.push(`parent ${JSON.stringify(args.parent)} is not a valid Linux interface name`);
    for (const id of args.vlans ?? []) {
        if (!isVlanId(id)) problems.push(`vlans ${String(id)} is not a VLAN id 1-4094`);
    }
    if (args.shim !== undefined) {
        const link = args.shim.link ?? DEFAULT_SHIM_LINK;
        if (!isIfName(link)) problems.push(`shim.link ${JSON.stringify(link)} is not a valid Linux interface name`);
        if (args.shim.vlan !== undefined && !(args.vlans ?? []).includes(args.shim.vlan)) {
            problems.push(`shim.vlan ${args.shim.vlan} is not one of the host's vlans`);
        }
    }
    return problems.map((p) => `MacvlanHost ${name}: ${p}`);
}

/**
 * Every problem that would stop a MacvlanHost of these arguments (pure): the argument checks
 * above, then each planned script rendered once, so that a renderer's refusal (say, a component
 * name that is not a host name) is reported now, not as a failed Output later. Empty when usable.
 * Callers that build several hosts check them all first, so that nothing is registered at all.
 */
export function macvlanHostProblems(name: string, args: MacvlanHostArgs): string[] {
    const problems = macvlanHostArgsProblems(name, args);
    if (problems.length > 0) return problems;
    for (const planned of planHostFeatures(name, args)) {
        try {
            renderFeature(name, planned.feature, UNPROBED_TOKEN);
        } catch (e) {
            problems.push(`MacvlanHost ${name}: ${planned.name}: ${e instanceof Error ? e.message : String(e)}`);
        }
    }
    return problems;
}

/** The VLAN ids of the arguments, sorted and unique. */
function vlanIds(args: MacvlanHostArgs): number[] {
    return [...new Set(args.vlans ?? [])].sort((a, b) => a - b);
}

/** The link a VLAN sub-interface gets: `<parent>.<id>`. */
export function vlanLink(parent: string, id: number): string {
    return `${parent}.${id}`;
}

/**
 * The host settings of a MacvlanHost in registration order, with their child names and ordering
 * (pure). Also what the probe reads: `probeHosts` renders its script from the same list.
 */
export function planHostFeatures(name: string, args: MacvlanHostArgs): PlannedFeature[] {
    const out: PlannedFeature[] = [];
    if (args.promisc ?? DEFAULT_PROMISC) {
        out.push({ name: hostChildNames.promisc(name), feature: { kind: "promisc", parent: args.parent }, after: [] });
    }
    if (args.ipForward ?? DEFAULT_IP_FORWARD) {
        out.push({ name: hostChildNames.ipForward(name), feature: { kind: "ipforward" }, after: [] });
    }
    for (const id of vlanIds(args)) {
        out.push({ name: hostChildNames.vlan(name, id), feature: { kind: "vlan", parent: args.parent, id }, after: [] });
    }
    if (args.shim !== undefined) {
        const shim = args.shim;
        const link = shim.link ?? DEFAULT_SHIM_LINK;
        const lower = shim.vlan === undefined ? args.parent : vlanLink(args.parent, shim.vlan);
        const shimName = hostChildNames.shim(name);
        out.push({
            name: shimName,
            feature: { kind: "shim", lower, link, address: shim.address },
            after: shim.vlan === undefined ? [] : [hostChildNames.vlan(name, shim.vlan)],
        });
        for (const cidr of [...new Set(shim.routes)]) {
            out.push({ name: hostChildNames.shimRoute(name, cidr), feature: { kind: "route", link, cidr }, after: [shimName] });
        }
    }
    return out;
}

/**
 * The `triggers` of each planned command (pure): its own `featureIdentity`, then those of the
 * features it follows, transitively. `update` only repairs drift of the same setting; a changed
 * identity (another parent, a VLAN on another NIC, a shim with a new address or lower link) must
 * undo the old setting with its own delete text and make the new one, which a trigger change does
 * (pulumi-command replaces the command). A route follows its shim: when the shim is replaced its
 * link goes, and the kernel drops the routes through it, so the route commands are replaced too.
 */
export function featureTriggers(plan: readonly PlannedFeature[]): ReadonlyMap<string, readonly string[]> {
    const byName = new Map(plan.map((p) => [p.name, p]));
    const out = new Map<string, string[]>();
    const of = (p: PlannedFeature): string[] => {
        const known = out.get(p.name);
        if (known !== undefined) return known;
        const ids = [featureIdentity(p.feature)];
        for (const n of p.after) {
            const dep = byName.get(n);
            if (dep === undefined) throw new Error(`${p.name} must follow ${n}, which is not planned`);
            for (const id of of(dep)) if (!ids.includes(id)) ids.push(id);
        }
        out.set(p.name, ids);
        return ids;
    };
    for (const p of plan) of(p);
    return out;
}

/** The endpoint the Docker provider dials: `ssh://user@address:port` (IPv6 literals in brackets). */
export function dockerSshHost(connection: MacvlanHostConnection): string {
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
export function dockerSshOpts(connection: MacvlanHostConnection): string[] {
    const opts = ["-o", "BatchMode=yes"];
    if (connection.hostKey !== undefined) {
        const port = connection.port ?? DEFAULT_SSH_PORT;
        const pattern = port === DEFAULT_SSH_PORT ? connection.address : `[${connection.address}]:${port}`;
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

/** Public facts about the shim, as plain values. */
export interface MacvlanHostShimInfo {
    readonly link: string;
    readonly lower: string;
    readonly address: string;
    readonly routes: readonly string[];
}

/**
 * One Linux host prepared for macvlan networks. Children (names from `hostChildNames`):
 * `<name>-preflight`, `<name>-promisc`, `<name>-ipforward`, `<name>-vlan<id>`, `<name>-shim`,
 * `<name>-shim-route-<cidr slug>` (remote commands, every one after the preflight; the shim after
 * its VLAN, each route after the shim) and `<name>-docker` (the host's Docker provider).
 */
export class MacvlanHost extends pulumi.ComponentResource {
    /** SSH address of the host. */
    readonly address: string;
    /** The NIC that carries the LAN. */
    readonly parent: string;
    /** VLAN ids with a sub-interface on this host, sorted. */
    readonly vlans: readonly number[];
    /** The shim, when configured. */
    readonly shim?: MacvlanHostShimInfo;
    /** The Docker provider that talks to this host's engine over SSH. */
    readonly dockerProvider: docker.Provider;
    /** The preflight command; every other command runs after it. */
    readonly preflight: command.remote.Command;
    /** The host setting commands by child name. */
    readonly commands: ReadonlyMap<string, command.remote.Command>;

    constructor(name: string, args: MacvlanHostArgs, opts?: pulumi.ComponentResourceOptions) {
        // Checked before anything is registered: these values reach ssh options and scripts.
        const problems = macvlanHostProblems(name, args);
        if (problems.length > 0) throw new Error(problems.join("\n"));
        super(MACVLAN_HOST_TYPE, name, {}, opts);

        this.address = args.connection.address;
        this.parent = args.parent;
        this.vlans = vlanIds(args);

        const connection: command.types.input.remote.ConnectionArgs = {
            host: args.connection.address,
            port: args.connection.port ?? DEFAULT_SSH_PORT,
            user: args.connection.user ?? DEFAULT_SSH_USER,
            privateKey: pulumi.secret(args.connection.privateKey),
            ...(args.connection.hostKey === undefined ? {} : { hostKey: args.connection.hostKey }),
        };

        const preflightScript = renderPreflight({
            host: name,
            parent: args.parent,
            needsVlan: this.vlans.length > 0,
            needsDocker: args.needsDocker ?? false,
        });
        this.preflight = new command.remote.Command(
            hostChildNames.preflight(name),
            { connection, create: preflightScript, update: preflightScript },
            { parent: this },
        );

        const probe = pulumi.output(args.probe ?? {});
        const plan = planHostFeatures(name, args);
        const triggers = featureTriggers(plan);
        const commands = new Map<string, command.remote.Command>();
        for (const planned of plan) {
            const key = featureKey(planned.feature);
            const rendered = probe.apply((tokens) => renderFeature(name, planned.feature, tokens[key] ?? UNPROBED_TOKEN));
            const after = planned.after.map((n) => {
                const dep = commands.get(n);
                if (dep === undefined) throw new Error(`MacvlanHost ${name}: ${planned.name} must follow ${n}, which is not planned`);
                return dep;
            });
            commands.set(
                planned.name,
                new command.remote.Command(
                    planned.name,
                    {
                        connection,
                        create: rendered.apply((r) => r.create),
                        update: rendered.apply((r) => r.update),
                        delete: rendered.apply((r) => r.delete),
                        triggers: [...(triggers.get(planned.name) ?? [])],
                    },
                    // The old setting is undone (its own delete text) before the new one is made:
                    // a shim with a new address keeps its link name, so both cannot exist at once.
                    { parent: this, dependsOn: [this.preflight, ...after], deleteBeforeReplace: true },
                ),
            );
        }
        this.commands = commands;

        const shimPlan = plan.find((p) => p.feature.kind === "shim");
        if (args.shim !== undefined && shimPlan !== undefined && shimPlan.feature.kind === "shim") {
            this.shim = {
                link: shimPlan.feature.link,
                lower: shimPlan.feature.lower,
                address: shimPlan.feature.address,
                routes: [...new Set(args.shim.routes)],
            };
        }

        this.dockerProvider = new docker.Provider(
            hostChildNames.dockerProvider(name),
            { host: dockerSshHost(args.connection), sshOpts: dockerSshOpts(args.connection) },
            { parent: this },
        );

        this.registerOutputs({
            address: this.address,
            parent: this.parent,
            vlans: this.vlans,
            shim: this.shim,
            commandIds: Object.fromEntries([...commands].map(([n, c]) => [n, c.id])),
        });
    }

    /** The link a network on this host hangs off: the parent, or `<parent>.<vlan>`. */
    parentFor(vlan?: number): string {
        return vlan === undefined ? this.parent : vlanLink(this.parent, vlan);
    }
}
