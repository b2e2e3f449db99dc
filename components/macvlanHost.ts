/**
 * MacvlanHost: prepares one Linux host for macvlan networks over SSH (promiscuous parent,
 * ip_forward, 802.1Q sub-interfaces, the optional host shim and its routes) and owns the host's
 * Docker provider. Each host setting is one `command.remote.Command`; what to register comes from
 * the pure plan (`plan/host.ts`) and the scripts from `host/`. This file holds the class, its
 * arguments and its outputs.
 */
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { featureKey, featureOwner, renderFeature } from "./host/scripts";
import { problemsOf } from "./net/problems";
import { segmentLink } from "./net/names";
import { hostKeyRequiredProblem, planHost, UNPROBED_TOKEN } from "./plan/host";

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
     * Pinned host key `<type> <base64>` (no comment), required: the remote commands accept only
     * this key (pulumi-command's `hostKey`) and the Docker provider's `ssh` does strict checking
     * against it alone (the user's known_hosts files are ignored for this host; this needs OpenSSH
     * 8.5+ on the machine that runs `pulumi up`, for `KnownHostsCommand`). Types: ssh-ed25519
     * (recommended: `ssh-keyscan -t ed25519 -p <port> <address>`) and ecdsa-sha2-nistp256/384/521;
     * ssh-rsa is refused (docs/host-keys.md). There is no unverified mode.
     */
    readonly hostKey: string;
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
    readonly routes: string[];
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
    readonly vlans?: number[];
    /** The optional host shim. Default none: the host cannot reach its own macvlan containers (kernel design). */
    readonly shim?: MacvlanHostShim;
    /** The preflight also checks that Docker is installed and answering (set when networks use this host). Default false. */
    readonly needsDocker?: boolean;
    /**
     * Drift tokens from the last probe, by `featureKey` (see `renderProbe` in `host/scripts.ts`). A feature
     * whose key is missing (or every feature, when absent) gets the token `unprobed`. A changed
     * token changes exactly that feature's command text, so preview shows drift as an update.
     */
    readonly probe?: pulumi.Input<Readonly<Record<string, string>>>;
}

/** Public facts about the shim, as plain values. */
export interface MacvlanHostShimInfo {
    /** Name of the shim link, e.g. `macvlan-shim`. */
    readonly link: string;
    /** The link the shim hangs off: the parent, or `<parent>.<vlan>`. */
    readonly lower: string;
    /** Shim address with prefix length, e.g. `198.51.100.250/32`. */
    readonly address: string;
    /** CIDRs routed through the shim. */
    readonly routes: string[];
}

/** The children of a MacvlanHost that TypeScript programs reach through its getters (resources and a connection: not in the package's schema). */
interface HostChildren {
    readonly dockerProvider: docker.Provider;
    readonly preflight: command.remote.Command;
    readonly commands: ReadonlyMap<string, command.remote.Command>;
    readonly connection: command.types.input.remote.ConnectionArgs;
}

/**
 * Kept beside each MacvlanHost, not on it: the schema of the component package lists the class's
 * properties as outputs, and these are resources (the SDK's analyzer writes a Docker provider as a
 * type that does not exist), a Map of them and an object holding a secret, which it cannot describe
 * (and should not return). The getters below give them to TypeScript.
 */
const HOST_CHILDREN = new WeakMap<MacvlanHost, HostChildren>();

function hostChildren(host: MacvlanHost): HostChildren {
    const c = HOST_CHILDREN.get(host);
    if (c === undefined) throw new Error("internal: a MacvlanHost without its children");
    return c;
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
    readonly vlans: number[];
    /** The shim, when configured. */
    readonly shim?: MacvlanHostShimInfo;
    /** The id of each host setting command (the preflight aside), by child name: `<name>-promisc`, `<name>-vlan50`, … */
    readonly commandIds: pulumi.Output<Record<string, string>>;

    /** The Docker provider that talks to this host's engine over SSH: what MacvlanNetwork takes as `hosts[].provider`. */
    get dockerProvider(): docker.Provider {
        return hostChildren(this).dockerProvider;
    }
    /** The preflight command; every other command runs after it. */
    get preflight(): command.remote.Command {
        return hostChildren(this).preflight;
    }
    /** The host setting commands by child name. */
    get commands(): ReadonlyMap<string, command.remote.Command> {
        return hostChildren(this).commands;
    }
    /** The SSH connection of this host's remote commands (pinned host key, key secret): what MacvlanSwarmNetwork's commands use on this host. */
    get connection(): command.types.input.remote.ConnectionArgs {
        return hostChildren(this).connection;
    }

    constructor(name: string, args: MacvlanHostArgs, opts?: pulumi.ComponentResourceOptions) {
        // Checked before anything is registered: these values reach ssh options and scripts, and
        // nothing is registered for a host whose key is not pinned (JavaScript callers, casts).
        const result = planHost(name, args);
        const problems = [...result.problems];
        // Who holds this host's features on the machine: project, stack and host entry.
        let owner = "";
        try {
            owner = featureOwner(pulumi.getProject(), pulumi.getStack(), name);
        } catch (e) {
            problems.push(`MacvlanHost ${name}: ${e instanceof Error ? e.message : String(e)}`);
        }
        if ((args.connection.hostKey as string | undefined) === undefined) problems.unshift(`MacvlanHost ${name}: ${hostKeyRequiredProblem(args.connection)}`);
        const plan = result.plan;
        if (plan === undefined || problems.length > 0) {
            throw problemsOf(`MacvlanHost ${name}`, problems);
        }
        super(MACVLAN_HOST_TYPE, name, {}, opts);

        this.address = args.connection.address;
        this.parent = args.parent;
        this.vlans = [...plan.vlans];

        const connection: command.types.input.remote.ConnectionArgs = {
            ...plan.ssh,
            privateKey: pulumi.secret(args.connection.privateKey),
        };
        const preflight = new command.remote.Command(
            plan.preflight.name,
            { connection, create: plan.preflight.script, update: plan.preflight.script },
            { parent: this },
        );

        const probe = pulumi.output(args.probe ?? {});
        const commands = new Map<string, command.remote.Command>();
        for (const planned of plan.features) {
            const key = featureKey(planned.feature);
            const rendered = probe.apply((tokens) => renderFeature({ host: name, owner }, planned.feature, tokens[key] ?? UNPROBED_TOKEN));
            // The plan lists every setting after the ones it follows.
            const after = planned.after.map((n) => commands.get(n) as command.remote.Command);
            commands.set(
                planned.name,
                new command.remote.Command(
                    planned.name,
                    {
                        connection,
                        create: rendered.apply((r) => r.create),
                        update: rendered.apply((r) => r.update),
                        delete: rendered.apply((r) => r.delete),
                        // The script itself (create and delete in one) goes on stdin: any size.
                        stdin: rendered.apply((r) => r.stdin),
                        triggers: [...planned.triggers],
                    },
                    // The old setting is undone (its own delete text) before the new one is made:
                    // a shim with a new address keeps its link name, so both cannot exist at once.
                    { parent: this, dependsOn: [preflight, ...after], deleteBeforeReplace: true },
                ),
            );
        }
        if (plan.shim !== undefined) this.shim = { ...plan.shim, routes: [...plan.shim.routes] };
        const commandIds = Object.fromEntries([...commands].map(([n, c]) => [n, c.id]));
        this.commandIds = pulumi.output(commandIds);

        const dockerProvider = new docker.Provider(
            plan.docker.name,
            { host: plan.docker.host, sshOpts: [...plan.docker.sshOpts] },
            { parent: this },
        );
        HOST_CHILDREN.set(this, { dockerProvider, preflight, commands, connection });

        this.registerOutputs({
            address: this.address,
            parent: this.parent,
            vlans: this.vlans,
            shim: this.shim,
            commandIds,
        });
    }

    /** The link a network on this host hangs off: the parent, or `<parent>.<vlan>`. */
    parentFor(vlan?: number): string {
        return segmentLink(this.parent, vlan);
    }
}
