/**
 * `export-compose`: the containers a validated stack pins on one host, as a compose file whose
 * services join the stack's macvlan networks as external networks (made by `pulumi up`) at their
 * pinned addresses and MACs. Pure: the model in, the compose document out.
 */
import type { StackModel } from "../../components/config/model";
import { problemsOf } from "../../components/net/problems";
import { secretKey, type SecretNames } from "./stackFile";

/** A compose service as export writes it. */
export interface ComposeService {
    readonly image: string;
    readonly container_name: string;
    readonly command?: readonly string[];
    readonly environment?: Readonly<Record<string, string>>;
    readonly restart: string;
    /** The MAC of a container on one network (on several, each network's `mac_address`). */
    readonly mac_address?: string;
    readonly networks: Readonly<Record<string, Readonly<Record<string, string | number>>>>;
}

/** The compose document: services, and the external networks they join. */
export interface ComposeDocument {
    readonly services: Readonly<Record<string, ComposeService>>;
    readonly networks: Readonly<Record<string, { readonly external: true }>>;
}

/** A value as Compose reads it literally: `$` written `$$` (Compose would interpolate it). */
function literal(s: string): string {
    return s.replace(/\$/g, "$$$$");
}

function define<T>(o: Record<string, T>, key: string, value: T): void {
    Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * The compose document of host `host`'s containers in `model`, in the order of the stack's
 * networks and containers. An env value named in `secrets` (for its container) is written
 * `${NAME}`: Compose takes it from the shell or a `.env` file, and it never lands in the file.
 * Throws a MacvlanConfigError when the stack has no such host.
 */
export function exportCompose(model: StackModel, host: string, secrets: SecretNames = new Map()): ComposeDocument {
    if (!model.hosts.some((h) => h.name === host)) {
        throw problemsOf("export-compose", [`--host ${host} is not a host of the stack (${model.hosts.map((h) => h.name).join(", ")})`]);
    }
    const services: Record<string, ComposeService> = {};
    const used = new Set<string>();
    for (const n of model.networks) {
        for (const c of n.containers) {
            if (c.host !== host) continue;
            const hidden = new Set(secrets.get(secretKey(n.name, c.name)) ?? []);
            const networks: Record<string, Record<string, string | number>> = {};
            for (const a of c.attachments) {
                used.add(a.network);
                define(networks, a.network, {
                    ipv4_address: a.ipv4Address,
                    ...(a.ipv6Address === undefined ? {} : { ipv6_address: a.ipv6Address }),
                    // One network: the service's mac_address, which every Compose version reads; several: each network's (Compose 2.23+).
                    ...(c.attachments.length > 1 ? { mac_address: a.mac } : {}),
                    // The default route: Compose gives it to the highest gw_priority (Docker 28+).
                    ...(c.defaultRoute !== undefined && c.defaultRoute === a.network && c.attachments[0]?.network !== a.network ? { gw_priority: 1 } : {}),
                });
            }
            let environment: Record<string, string> | undefined;
            if (c.env !== undefined) {
                environment = {};
                for (const [k, v] of Object.entries(c.env)) define(environment, k, hidden.has(k) ? `\${${k}}` : literal(v));
            }
            define(services, c.name, {
                image: c.image,
                container_name: c.name,
                ...(c.command === undefined ? {} : { command: c.command.map(literal) }),
                ...(environment === undefined ? {} : { environment }),
                restart: c.restart,
                ...(c.attachments.length === 1 && c.attachments[0] !== undefined ? { mac_address: c.attachments[0].mac } : {}),
                networks,
            });
        }
    }
    const networks: Record<string, { external: true }> = {};
    for (const n of model.networks) if (used.has(n.name)) define(networks, n.name, { external: true });
    return { services, networks };
}
