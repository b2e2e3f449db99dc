/**
 * Stand-in for the Docker provider (pulumi-docker 5, which wraps kreuzwerker/terraform-provider-docker):
 * the Engine API over the provider's own SSH transport, with exactly the registered inputs.
 *
 * Transport: what the provider's Docker client does for `host: ssh://user@address:port` (Docker's
 * connhelper): run `ssh <sshOpts…> -l user -p port -- address docker system dial-stdio` and speak
 * HTTP to the far side's engine over that process's stdin/stdout. Here `ssh` also gets `-F /dev/null`
 * first, so only the registered `sshOpts` decide how the connection is made (host key pinning,
 * identity file): the machine's own ssh config is not the user's. One keep-alive connection pool per
 * provider; `close()` ends its ssh processes.
 *
 * Resource operations follow the provider's code (kreuzwerker `resource_docker_network_funcs.go`,
 * `resource_docker_container_funcs.go`, v3.x as published):
 * - Network create: `NetworkCreate` with Driver, Options, `EnableIPv6: true` when `ipv6` is true (the
 *   provider sets it only then: `d.GetOk("ipv6")`), IPAM {Driver "default", Config [{Subnet,
 *   IPRange, Gateway, AuxAddress}]} (ipam_driver defaults to "default"; an IPv6 pool is one more
 *   Config entry, as the provider sends every `ipam_config`), then inspect. Delete:
 *   `NetworkRemove`, retried while the engine says "has active endpoints" (the provider's 30 s).
 * - Container create: inspect the image (findImage); `ContainerCreate` with Config {Image, Cmd,
 *   Env}, HostConfig {NetworkMode = networkMode, RestartPolicy, Init false, LogConfig} and an EMPTY
 *   NetworkingConfig; then, because networks_advanced is set, `NetworkDisconnect("bridge")`
 *   (ignoring "is not connected to the network bridge"), then `NetworkConnect` of each
 *   networks_advanced entry, in the order given, with EndpointConfig {IPAMConfig {IPv4Address,
 *   IPv6Address}, MacAddress, Aliases, GwPriority} (an unset address is sent empty, as the
 *   provider does),
 *   then `ContainerStart`, then the read: wait (≤ 15 s) for State.Running (must_run); a container
 *   that is not running is removed and the create fails, as the provider does.
 *   Delete: `ContainerRemove` with force and volumes, then wait until it is gone.
 * Not emulated: registry pulls and auth, the provider's read-back into state and its refresh
 * diffs, timeouts' exact values, every input this program does not use (ports, mounts, …).
 */
import { spawn } from "node:child_process";
import * as http from "node:http";
import { Duplex } from "node:stream";

/** The registered inputs of a `docker.Provider` that decide the transport. */
export interface DockerProviderInputs {
    /** `ssh://user@address:port`. */
    readonly host: string;
    readonly sshOpts: readonly string[];
}

/** An Engine API error: the HTTP status and the engine's message. */
export class DockerApiError extends Error {
    constructor(
        readonly status: number,
        readonly engineMessage: string,
        what: string,
    ) {
        super(`${what}: Error response from daemon (${status}): ${engineMessage}`);
    }
}

/** The parts of `ssh://user@address:port` (IPv6 literals in brackets). */
export function parseSshHost(host: string): { user: string; address: string; port: string } {
    const m = /^ssh:\/\/(?:([^@/]+)@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(host);
    if (m === null) throw new Error(`docker provider host ${JSON.stringify(host)} is not ssh://user@address:port`);
    return { user: m[1] ?? "root", address: m[2].replace(/^\[|\]$/g, ""), port: m[3] ?? "22" };
}

/** The argv of the ssh process Docker's connection helper runs for a provider. */
export function dialArgv(p: DockerProviderInputs): string[] {
    const { user, address, port } = parseSshHost(p.host);
    return ["-F", "/dev/null", ...p.sshOpts, "-l", user, "-p", port, "--", address, "docker", "system", "dial-stdio"];
}

/** A socket-like Duplex over `ssh … docker system dial-stdio`. */
function dial(p: DockerProviderInputs, env: NodeJS.ProcessEnv, onClose: (stderr: string) => void): Duplex {
    const child = spawn("ssh", dialArgv(p), { stdio: ["pipe", "pipe", "pipe"], env });
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const socket = new Duplex({
        read() {
            /* data is pushed from the child's stdout */
        },
        write(chunk: Buffer, _enc, cb) {
            child.stdin.write(chunk, cb);
        },
        final(cb) {
            child.stdin.end();
            cb();
        },
        destroy(err, cb) {
            child.kill();
            cb(err);
        },
    });
    child.stdout.on("data", (b: Buffer) => socket.push(b));
    child.stdout.on("end", () => socket.push(null));
    child.stdin.on("error", () => undefined);
    child.on("error", (e) => socket.destroy(e));
    child.on("close", () => onClose(stderr));
    // What http.Agent calls on a net.Socket.
    const noop = (): Duplex => socket;
    Object.assign(socket, { setKeepAlive: noop, setNoDelay: noop, setTimeout: noop, ref: noop, unref: noop });
    return socket;
}

/** One provider's connection to its engine. */
export class DockerApi {
    private readonly agent: http.Agent;
    private version: string | undefined;
    private lastSshError = "";

    constructor(
        readonly provider: DockerProviderInputs,
        env: NodeJS.ProcessEnv = process.env,
    ) {
        this.agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
        (this.agent as unknown as { createConnection: () => Duplex }).createConnection = () =>
            dial(provider, env, (stderr) => {
                if (stderr.trim() !== "") this.lastSshError = stderr.trim();
            });
    }

    /** Ends the ssh processes. */
    close(): void {
        this.agent.destroy();
    }

    private raw(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
        const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
        return new Promise((resolve, reject) => {
            const req = http.request(
                {
                    agent: this.agent,
                    method,
                    path,
                    host: "docker",
                    headers: payload === undefined ? {} : { "Content-Type": "application/json", "Content-Length": payload.length },
                },
                (res) => {
                    const chunks: Buffer[] = [];
                    res.on("data", (c: Buffer) => chunks.push(c));
                    res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
                    res.on("error", reject);
                },
            );
            req.setTimeout(180_000, () => req.destroy(new Error(`${method} ${path}: no answer within 180 s`)));
            req.on("error", (e) => {
                // ssh's own complaint (host key, auth) arrives when its process ends: give it a moment.
                setTimeout(
                    () => reject(new Error(`${method} ${path} over ${this.provider.host}: ${e.message}${this.lastSshError ? ` (ssh: ${this.lastSshError})` : ""}`)),
                    500,
                );
            });
            req.end(payload);
        });
    }

    /** The API version both sides speak (the client negotiates it down to the engine's). */
    private async apiVersion(): Promise<string> {
        if (this.version === undefined) {
            const r = await this.raw("GET", "/version");
            if (r.status !== 200) throw new DockerApiError(r.status, r.text, "GET /version");
            this.version = (JSON.parse(r.text) as { ApiVersion: string }).ApiVersion;
        }
        return this.version;
    }

    /** One Engine API call; resolves with the decoded JSON body (undefined when empty); rejects on a non-2xx status. */
    async call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
        const r = await this.raw(method, `/v${await this.apiVersion()}${path}`, body);
        if (r.status < 200 || r.status >= 300) {
            let message = r.text.trim();
            try {
                message = (JSON.parse(r.text) as { message?: string }).message ?? message;
            } catch {
                /* not JSON */
            }
            throw new DockerApiError(r.status, message, `${method} ${path}`);
        }
        return (r.text.trim() === "" ? undefined : JSON.parse(r.text)) as T;
    }

    /** Like `call`, but a 404 resolves with undefined. */
    async find<T = unknown>(path: string): Promise<T | undefined> {
        try {
            return await this.call<T>("GET", path);
        } catch (e) {
            if (e instanceof DockerApiError && e.status === 404) return undefined;
            throw e;
        }
    }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// docker.Network

interface NetworkIpamInput {
    readonly subnet?: string;
    readonly gateway?: string;
    readonly ipRange?: string;
    readonly auxAddress?: Readonly<Record<string, string>>;
}

/** Creates a network from a `docker:index/network:Network` registration; resolves with its id. */
export async function createNetwork(api: DockerApi, inputs: Record<string, unknown>): Promise<string> {
    const name = String(inputs["name"]);
    const pools = (inputs["ipamConfigs"] as NetworkIpamInput[] | undefined) ?? [];
    const body: Record<string, unknown> = {
        Name: name,
        ...(inputs["checkDuplicate"] === undefined ? {} : { CheckDuplicate: inputs["checkDuplicate"] }),
        ...(inputs["driver"] === undefined ? {} : { Driver: inputs["driver"] }),
        ...(inputs["options"] === undefined ? {} : { Options: inputs["options"] }),
        ...(inputs["ipv6"] === true ? { EnableIPv6: true } : {}),
        IPAM: {
            Driver: (inputs["ipamDriver"] as string | undefined) ?? "default",
            Config: pools.map((p) => ({
                Subnet: p.subnet ?? "",
                IPRange: p.ipRange ?? "",
                Gateway: p.gateway ?? "",
                AuxiliaryAddresses: { ...(p.auxAddress ?? {}) },
            })),
        },
    };
    const created = await api.call<{ Id: string }>("POST", "/networks/create", body);
    await api.call("GET", `/networks/${created.Id}`);
    return created.Id;
}

/** Removes a network (absent: done); retries while it still has endpoints, for up to 30 s. */
export async function deleteNetwork(api: DockerApi, id: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
        if ((await api.find(`/networks/${id}`)) === undefined) return;
        try {
            await api.call("DELETE", `/networks/${id}`);
            return;
        } catch (e) {
            if (!(e instanceof DockerApiError && /has active endpoints/.test(e.engineMessage)) || Date.now() > deadline) throw e;
        }
        await sleep(1000);
    }
}

// ---------------------------------------------------------------------------------------------
// docker.Container

interface NetworksAdvancedInput {
    readonly name: string;
    readonly ipv4Address?: string;
    readonly ipv6Address?: string;
    readonly macAddress?: string;
    readonly aliases?: readonly string[];
    /** Docker 28+ `gw-priority` (API 1.48 `EndpointSettings.GwPriority`); an older engine ignores the field. */
    readonly gwPriority?: number;
}

interface ContainerInspect {
    readonly Id: string;
    readonly State: { readonly Running: boolean; readonly Status: string; readonly ExitCode: number; readonly Error: string };
}

/** Creates and starts a container from a `docker:index/container:Container` registration; resolves with its id. */
export async function createContainer(api: DockerApi, inputs: Record<string, unknown>): Promise<string> {
    const image = String(inputs["image"]);
    await api.call("GET", `/images/${encodeURIComponent(image)}/json`); // findImage: present locally
    const name = typeof inputs["name"] === "string" ? inputs["name"] : "";
    const command = inputs["command"] as string[] | undefined;
    const envs = inputs["envs"] as string[] | undefined;
    if (command?.some((c) => c === "")) throw new Error("values for command may not be empty");
    const body = {
        Image: image,
        Hostname: "",
        Domainname: "",
        Tty: false,
        OpenStdin: false,
        ...(envs === undefined || envs.length === 0 ? {} : { Env: envs }),
        ...(command === undefined || command.length === 0 ? {} : { Cmd: command }),
        HostConfig: {
            Privileged: false,
            PublishAllPorts: false,
            RestartPolicy: { Name: (inputs["restart"] as string | undefined) ?? "no", MaximumRetryCount: 0 },
            AutoRemove: false,
            ReadonlyRootfs: false,
            LogConfig: { Type: (inputs["logDriver"] as string | undefined) ?? "" },
            Init: false,
            ...(inputs["networkMode"] === undefined ? {} : { NetworkMode: inputs["networkMode"] }),
        },
        NetworkingConfig: {},
    };
    const created = await api.call<{ Id: string }>("POST", `/containers/create?name=${encodeURIComponent(name)}`, body);
    const id = created.Id;
    const networks = (inputs["networksAdvanced"] as NetworksAdvancedInput[] | undefined) ?? [];
    if (networks.length > 0) {
        try {
            await api.call("POST", "/networks/bridge/disconnect", { Container: id, Force: false });
        } catch (e) {
            if (!(e instanceof Error && /is not connected to the network bridge/.test(e.message))) {
                throw new Error(`Unable to disconnect the default network: ${e instanceof Error ? e.message : String(e)}`);
            }
        }
        for (const n of networks) {
            const endpoint = {
                ...(n.aliases === undefined ? {} : { Aliases: n.aliases }),
                IPAMConfig: { IPv4Address: n.ipv4Address ?? "", IPv6Address: n.ipv6Address ?? "" },
                ...(n.macAddress === undefined ? {} : { MacAddress: n.macAddress }),
                ...(n.gwPriority === undefined ? {} : { GwPriority: n.gwPriority }),
            };
            try {
                await api.call("POST", `/networks/${encodeURIComponent(n.name)}/connect`, { Container: id, EndpointConfig: endpoint });
            } catch (e) {
                throw new Error(`Unable to connect to network '${n.name}': ${e instanceof Error ? e.message : String(e)}`);
            }
        }
    }
    try {
        await api.call("POST", `/containers/${id}/start`);
    } catch (e) {
        throw new Error(`Unable to start container: ${e instanceof Error ? e.message : String(e)}`);
    }
    // The read after create: wait for it to run (must_run defaults to true).
    const deadline = Date.now() + 15_000;
    for (;;) {
        const c = await api.call<ContainerInspect>("GET", `/containers/${id}/json`);
        if (c.State.Running) return id;
        if (c.State.Status === "exited" || c.State.Status === "dead" || Date.now() > deadline) {
            await deleteContainer(api, id);
            throw new Error(`container ${name} failed to be in running state (${c.State.Status}, exit ${c.State.ExitCode}${c.State.Error ? `: ${c.State.Error}` : ""})`);
        }
        await sleep(100);
    }
}

/** Removes a container (force, with its anonymous volumes) and waits until it is gone. */
export async function deleteContainer(api: DockerApi, id: string): Promise<void> {
    try {
        await api.call("DELETE", `/containers/${id}?v=1&force=1`);
    } catch (e) {
        if (!(e instanceof DockerApiError && e.status === 404)) throw e;
    }
    const deadline = Date.now() + 30_000;
    while ((await api.find(`/containers/${id}/json`)) !== undefined) {
        if (Date.now() > deadline) throw new Error(`container ${id} still exists 30 s after removal`);
        await sleep(200);
    }
}
