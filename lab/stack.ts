/**
 * `stacks/Pulumi.lab.yaml`: a stack for `pulumi up -s lab` that describes the running lab in the
 * `macvlan:hosts` / `macvlan:networks` contract. Written by labUp; gitignored.
 *
 * YAML is written by hand: every scalar is a JSON string or number, which YAML reads as is.
 */
import type { Lab, LabHost } from "./types";

/** The addresses the lab stack uses (all in 198.18.0.0/15, the benchmarking range). */
export const LAB_STACK = {
    lanNetwork: "lab_lan",
    /** node1's shim address, reserved in the LAN network's aux addresses. */
    shimAddress: "198.18.0.250",
    lanIpRange: "198.18.0.128/26",
    /** The VLAN network's dynamic range, cut into one /27 per guest. */
    vlanIpRange: "198.18.50.128/25",
    vlanId: 50,
    vlanNetwork: "lab_v50",
    vlanSubnet: "198.18.50.0/24",
    vlanGateway: "198.18.50.1",
    /** Every container serves the image's /www over HTTP, so TCP reachability can be tested too. */
    command: ["httpd", "-f", "-p", "80", "-h", "/www"],
} as const;

const j = (v: unknown): string => JSON.stringify(v);

function hostYaml(h: LabHost, lab: Lab): string[] {
    const lines = [
        `    - name: ${j(h.name)}`,
        `      address: ${j(h.address)}`,
        `      port: ${h.port}`,
        `      user: ${j(h.user)}`,
        `      hostKey: ${j(h.hostKey)}`,
        `      parent: ${j(h.parent)}`,
    ];
    if (h.docker) lines.push(`      dockerVersion: ${j(h.dockerVersion)}`);
    if (h.kind === "qemu") lines.push(`      vlans: [${LAB_STACK.vlanId}, 60]`);
    if (h.name === lab.hosts[0]?.name) lines.push(`      shim:`, `        address: ${j(LAB_STACK.shimAddress)}`);
    return lines;
}

function containerYaml(name: string, host: string, ip: string, image: string): string[] {
    return [
        `        - name: ${j(name)}`,
        `          host: ${j(host)}`,
        `          image: ${j(image)}`,
        `          ip: ${j(ip)}`,
        `          command: ${j(LAB_STACK.command)}`,
    ];
}

/**
 * The top-level keys `pulumi stack init` writes into a stack file for its secrets provider (the
 * passphrase provider's salt). labUp rewrites the file for every new lab, so it carries these
 * over: the stack's state was encrypted with them.
 */
export const PULUMI_SECRETS_KEYS = ["secretsprovider", "encryptedkey", "encryptionsalt"] as const;

/** The lines of `old` (a stack file) that set one of PULUMI_SECRETS_KEYS, in their order. */
export function secretsKeyLines(old: string): string[] {
    return old.split("\n").filter((l) => PULUMI_SECRETS_KEYS.some((k) => l.startsWith(`${k}: `)));
}

export function renderLabStack(lab: Lab, kept: readonly string[] = []): string {
    const nodes = lab.hosts.filter((h) => h.kind === "netns");
    const guests = lab.hosts.filter((h) => h.kind === "qemu" && h.docker);
    const image = lab.image.ref;
    const out = [
        "# The lab stack: written by `npm run lab:up` (lab/lab.ts) for the lab running on this",
        "# machine, and rewritten by every lab:up (each new lab has new throwaway keys). Try the product",
        "# on it with `pulumi up -s lab`: the hosts are network namespaces and QEMU guests on",
        `# the lab switch (${lab.lanCidr}, router ${lab.gateway}); nothing reaches a real network.`,
        "# The SSH key is read from a file here (macvlan:sshPrivateKeyPath) because the lab cannot encrypt",
        "# a secret; a real stack sets `macvlan:sshPrivateKey` with `pulumi config set --secret`.",
        `# Images: ${image} exists in every lab engine (docker import of busybox; no registry here).`,
        ...kept,
        "config:",
        `  macvlan:sshPrivateKeyPath: ${j(lab.privateKeyPath)}`,
        "  # The same key for the Docker provider, whose ssh:// transport runs the ssh program.",
        `  macvlan:sshIdentityFile: ${j(lab.privateKeyPath)}`,
        "  macvlan:hosts:",
        ...lab.hosts.flatMap((h) => hostYaml(h, lab)),
        "  macvlan:networks:",
    ];
    const lanHosts = nodes.slice(0, 2);
    out.push(
        `    - name: ${j(LAB_STACK.lanNetwork)}`,
        `      mode: "bridge"`,
        `      subnet: ${j(lab.lanCidr)}`,
        `      gateway: ${j(lab.gateway)}`,
        `      ipRange: ${j(LAB_STACK.lanIpRange)}`,
        // Each engine hands out addresses from its own slice of the ipRange (slot k: the k-th /28).
        `      sliceSize: 28`,
        `      slices: {${lanHosts.map((h, i) => ` ${j(h.name)}: ${i}`).join(",")} }`,
        `      auxAddresses:`,
        `        ${j(`${lanHosts[0]?.name ?? "node1"}-shim`)}: ${j(LAB_STACK.shimAddress)}`,
        `      hosts: ${j(lanHosts.map((h) => h.name))}`,
        "      containers:",
        ...lanHosts.flatMap((h, i) => containerYaml(`web${i + 1}`, h.name, `198.18.0.${101 + i}`, image)),
    );
    if (guests.length >= 2) {
        const vlanHosts = guests.slice(0, 2);
        out.push(
            `    - name: ${j(LAB_STACK.vlanNetwork)}`,
            `      vlan: ${LAB_STACK.vlanId}`,
            `      mode: "bridge"`,
            `      subnet: ${j(LAB_STACK.vlanSubnet)}`,
            `      gateway: ${j(LAB_STACK.vlanGateway)}`,
            `      ipRange: ${j(LAB_STACK.vlanIpRange)}`,
            `      sliceSize: 27`,
            `      slices: {${vlanHosts.map((h, i) => ` ${j(h.name)}: ${i}`).join(",")} }`,
            `      hosts: ${j(vlanHosts.map((h) => h.name))}`,
            "      containers:",
            ...vlanHosts.flatMap((h, i) => containerYaml(`vweb${i + 1}`, h.name, `198.18.50.${101 + i}`, image)),
        );
    }
    return out.join("\n") + "\n";
}
