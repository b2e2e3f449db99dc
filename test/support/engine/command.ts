/**
 * Stand-in for `command:remote:Command` (pulumi-command 1.x): runs one of the registered scripts
 * over SSH with the registered `connection`, with the `ssh2` package (pulumi-command uses Go's
 * x/crypto/ssh the same way: one session, the script as the exec command, which the login shell
 * runs). A pinned `hostKey` must match the server's key byte for byte; without one the server key
 * is not checked (as the provider does). A non-zero exit fails with the exit status, stdout and
 * stderr (the provider's "Process exited with status N"). `stdin` is written to the session's stdin. Not emulated here: `environment`,
 * `logging`, proxies/agents/passwords, the PULUMI_COMMAND_STDOUT/STDERR variables.
 */
import { Client, type ConnectConfig } from "ssh2";
import { unwrapSecrets } from "../records";

/** The registered `connection` of a remote.Command (secrets already unwrapped). */
export interface CommandConnection {
    readonly host: string;
    readonly port?: number;
    readonly user?: string;
    readonly privateKey?: string;
    readonly hostKey?: string;
}

/** What a command printed. */
export interface CommandResult {
    readonly stdout: string;
    readonly stderr: string;
}

/** The connection of a registration's inputs, secrets unwrapped. */
export function connectionOf(inputs: Record<string, unknown>): CommandConnection {
    return unwrapSecrets(inputs["connection"]) as CommandConnection;
}

/**
 * Runs the command text `script` on the connection's host, with `stdin` (when given) written to its
 * stdin and then closed, as pulumi-command does with its `stdin` input; without it the command's
 * stdin is closed at once. Rejects on a non-zero exit (or any SSH failure) with stdout and stderr.
 */
export function runRemote(conn: CommandConnection, script: string, label: string, timeoutMs = 300_000, stdin?: string): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
        const client = new Client();
        let settled = false;
        const finish = (err: Error | undefined, result?: CommandResult): void => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            client.end();
            if (err) reject(err);
            else resolve(result as CommandResult);
        };
        const timer = setTimeout(() => finish(new Error(`${label}: no exit within ${timeoutMs} ms`)), timeoutMs);
        const config: ConnectConfig = {
            host: conn.host,
            port: conn.port ?? 22,
            username: conn.user ?? "root",
            readyTimeout: 30_000,
            ...(conn.privateKey === undefined ? {} : { privateKey: conn.privateKey }),
        };
        if (conn.hostKey !== undefined) {
            const pinned = Buffer.from(conn.hostKey.split(" ")[1] ?? "", "base64");
            config.hostVerifier = (key: Buffer): boolean => key.equals(pinned);
        }
        client.on("error", (e: Error) => finish(new Error(`${label}: ssh ${conn.user ?? "root"}@${conn.host}:${conn.port ?? 22}: ${e.message}`)));
        client.on("ready", () => {
            client.exec(script, (err, stream) => {
                if (err) return finish(new Error(`${label}: ${err.message}`));
                const out: Buffer[] = [];
                const errOut: Buffer[] = [];
                if (stdin !== undefined && stdin !== "") stream.write(stdin);
                stream.end();
                stream.on("data", (d: Buffer) => out.push(d));
                stream.stderr.on("data", (d: Buffer) => errOut.push(d));
                stream.on("close", (code: number | null, signal?: string) => {
                    const result = { stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(errOut).toString("utf8") };
                    if (code === 0) return finish(undefined, result);
                    const how = code === null ? `was killed${signal ? ` by ${signal}` : ""}` : `exited with status ${code}`;
                    finish(new Error(`${label}: Process ${how}\nstdout: ${result.stdout.trim()}\nstderr: ${result.stderr.trim()}`));
                });
            });
        });
        client.connect(config);
    });
}
