/**
 * `npm run lab:up` / `npm run lab:down` (and `tsx lab/cli.ts status`): the lab from a shell.
 * Needs root.
 */
import { findLeftovers, labDown, labUp, readLab } from "./lab";

function usage(): never {
    process.stderr.write(
        "usage: tsx lab/cli.ts up [--nodes N] [--guests N] [--no-guest-docker] [--fresh]\n" +
            "       tsx lab/cli.ts down\n" +
            "       tsx lab/cli.ts status [--verbose]\n",
    );
    process.exit(2);
}

function intArg(args: string[], flag: string): number | undefined {
    const i = args.indexOf(flag);
    if (i < 0) return undefined;
    const v = Number(args[i + 1]);
    if (!Number.isInteger(v)) usage();
    return v;
}

async function main(argv: string[]): Promise<void> {
    const [cmd, ...args] = argv;
    const log = (l: string) => process.stdout.write(`lab: ${l}\n`);
    const t0 = Date.now();
    switch (cmd) {
        case "up": {
            const lab = await labUp({
                nodes: intArg(args, "--nodes"),
                guests: intArg(args, "--guests"),
                guestDocker: !args.includes("--no-guest-docker"),
                reuse: !args.includes("--fresh"),
                log,
            });
            process.stdout.write(`\nlab up (${Date.now() - t0} ms). Hosts on ${lab.lanCidr}, router ${lab.gateway}:\n`);
            for (const h of lab.hosts) {
                process.stdout.write(
                    `  ${h.name.padEnd(6)} ${h.kind.padEnd(5)} ${h.address.padEnd(12)} parent ${h.parent}  ` +
                        `${h.docker ? `docker ${h.dockerVersion}` : "no docker"}  ${h.vlanCapable ? "802.1Q" : "no 802.1Q"}\n`,
                );
            }
            const first = lab.hosts[0];
            process.stdout.write(
                `\nstack:     ${lab.stackPath}  (pulumi up -s lab)\n` +
                    `ssh:       ssh -F ${lab.sshConfigPath} ${first?.address ?? ""}\n` +
                    `docker:    PATH=${lab.binDir}:$PATH /usr/bin/docker -H ${first?.dockerHost ?? ""} ps\n` +
                    `down:      npm run lab:down\n`,
            );
            return;
        }
        case "down":
            await labDown({ log });
            process.stdout.write(`lab down (${Date.now() - t0} ms)\n`);
            return;
        case "status": {
            let running = false;
            try {
                const lab = readLab();
                running = true;
                process.stdout.write(`lab recorded as up since ${lab.createdAt}: ${lab.hosts.map((h) => h.name).join(", ")}\n`);
            } catch (e) {
                process.stdout.write(`${(e as Error).message}\n`);
            }
            const left = await findLeftovers();
            const counts = Object.entries(left).map(([k, v]) => `${(v as unknown[]).length} ${k}`);
            process.stdout.write(`on the machine: ${counts.join(", ")}\n`);
            if (args.includes("--verbose")) process.stdout.write(JSON.stringify(left, null, 2) + "\n");
            if (!running && Object.values(left).some((v) => (v as unknown[]).length > 0)) {
                process.stdout.write("leftovers of a lab that is not recorded as up: `npm run lab:down` removes them\n");
                process.exitCode = 1;
            }
            return;
        }
        default:
            usage();
    }
}

main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`lab: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
});
