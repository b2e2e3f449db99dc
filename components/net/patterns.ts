/**
 * Strict patterns and tiny predicates shared by config validation and by the shell-script
 * renderers. Everything accepted here is safe to place inside a single-quoted shell word and
 * most of it (names, ifnames, ids) contains no shell metacharacter at all. Pure: no resource
 * imports. IPv4 literals are checked here; IPv6 literals are recognized (so callers can say
 * "not supported yet") but address math lives in `addr.ts`.
 */
import { isIPv6 } from "node:net";

/** Host name used in resource names: lower-case letters, digits and inner `-`, 1–32 chars. */
export const HOST_NAME_RE = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;
/** True for a valid host name (see HOST_NAME_RE). */
export function isHostName(s: string): boolean {
    return HOST_NAME_RE.test(s);
}

/** Longest Linux interface name (IFNAMSIZ 16 minus the NUL). */
export const IFNAME_MAX = 15;
/**
 * Linux interface name: 1–15 chars from `[A-Za-z0-9_.-]`, starting with a letter or digit
 * (stricter than the kernel: no `/`, `:`, spaces or shell characters, and no leading `-` that
 * `ip` or `sysctl` would read as an option even when the name is quoted).
 */
export const IFNAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
/**
 * Names the kernel accepts for a link but this product refuses: `all` and `default` are the global
 * entries of /proc/sys/net/ipv4/conf, which the host scripts address per interface.
 */
export const RESERVED_IFNAMES: readonly string[] = ["all", "default"];
/** True for a valid Linux interface name: IFNAME_RE (which already rules out `.` and `..`), not a RESERVED_IFNAMES entry. */
export function isIfName(s: string): boolean {
    return IFNAME_RE.test(s) && !RESERVED_IFNAMES.includes(s);
}

/** SSH login user: POSIX-style, starts with a letter or `_`, then `[A-Za-z0-9_.-]`, 1–32 chars. */
export const SSH_USER_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
/** True for a valid SSH user name (see SSH_USER_RE). */
export function isSshUser(s: string): boolean {
    return SSH_USER_RE.test(s);
}

/** One RFC 1123 DNS label: 1–63 alphanumerics and inner `-`. */
export const DNS_LABEL_RE = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
/** True for an RFC 1123 host name: dot-separated labels, ≤ 253 chars, last label not all digits (so it is never a mistyped IPv4). */
export function isDnsName(s: string): boolean {
    if (s.length === 0 || s.length > 253) return false;
    const labels = s.split(".");
    if (!labels.every((l) => DNS_LABEL_RE.test(l))) return false;
    return !/^[0-9]+$/.test(labels[labels.length - 1]);
}

/** Dotted-quad IPv4 literal, each octet 0–255 in canonical decimal (no leading zeros). */
export const IPV4_RE = /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;
/** True for a canonical dotted-quad IPv4 literal. */
export function isIpv4Literal(s: string): boolean {
    return IPV4_RE.test(s);
}
/** True for an IPv6 literal (no brackets, no zone id). */
export function isIpv6Literal(s: string): boolean {
    return !s.includes("%") && isIPv6(s);
}
/** True for an IPv4 or IPv6 literal. */
export function isIpLiteral(s: string): boolean {
    return isIpv4Literal(s) || isIpv6Literal(s);
}
/** True for an SSH target: an IP literal or an RFC 1123 DNS name. */
export function isSshAddress(s: string): boolean {
    return isIpLiteral(s) || isDnsName(s);
}

/**
 * A key file path for the Docker provider's `ssh -o IdentityFile=…`: `[A-Za-z0-9._/~+-]`, not
 * starting with `-` (no spaces, quotes or `%` tokens, which ssh would expand).
 */
export const IDENTITY_FILE_RE = /^[A-Za-z0-9._/~+][A-Za-z0-9._/~+-]*$/;
/** The rule of IDENTITY_FILE_RE, as problems state it. */
export const IDENTITY_FILE_RULE = "is not a usable key file path: characters of A-Z, a-z, 0-9, ., _, /, ~, + and -, not starting with -";
/** True for a usable identity file path (see IDENTITY_FILE_RE). */
export function isIdentityFile(s: string): boolean {
    return s.length <= 4096 && IDENTITY_FILE_RE.test(s);
}

/** Longest Docker network or container name accepted here. */
export const DOCKER_NAME_MAX = 64;
/** Docker network/container name: Docker's own `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, bounded to 64 chars. */
export const DOCKER_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;
/** True for a valid Docker network or container name. */
export function isDockerName(s: string): boolean {
    return DOCKER_NAME_RE.test(s);
}
/** Docker container name: Docker's `RestrictedNamePattern` `[a-zA-Z0-9][a-zA-Z0-9_.-]+` (two or more), bounded to 64 chars. */
export const DOCKER_CONTAINER_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{1,63}$/;
/** True for a valid Docker container name (see DOCKER_CONTAINER_NAME_RE). */
export function isDockerContainerName(s: string): boolean {
    return DOCKER_CONTAINER_NAME_RE.test(s);
}

/** Longest image name (without tag and digest), as Docker's reference grammar limits it. */
export const IMAGE_NAME_MAX = 255;
const IMAGE_DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const IMAGE_DOMAIN = `(?:${IMAGE_DOMAIN_COMPONENT}(?:\\.${IMAGE_DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]{1,5})?`;
const IMAGE_PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const IMAGE_NAME = `(?:${IMAGE_DOMAIN}/)?${IMAGE_PATH_COMPONENT}(?:/${IMAGE_PATH_COMPONENT})*`;
/**
 * Docker image reference (distribution/reference grammar): `[registry[:port]/]path[:tag][@sha256:<64 hex>]`,
 * e.g. `nginx:1.27`, `1.1.1.3:5000/hp_kodexplorer_a1223`. Groups: 1 name, 2 tag, 3 digest.
 */
export const IMAGE_REF_RE = new RegExp(`^(${IMAGE_NAME})(?::([\\w][\\w.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$`);
/** True for a valid Docker image reference (IMAGE_REF_RE, name ≤ 255 chars, registry port 1–65535). */
export function isImageRef(s: string): boolean {
    const m = IMAGE_REF_RE.exec(s);
    if (m === null || m[1].length > IMAGE_NAME_MAX) return false;
    const slash = m[1].indexOf("/");
    if (slash > 0) {
        const port = /:([0-9]{1,5})$/.exec(m[1].slice(0, slash));
        if (port !== null && !isPort(Number(port[1]))) return false;
    }
    return true;
}

/** Environment variable name: `[A-Za-z_][A-Za-z0-9_]*`. */
export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** True for a valid environment variable name. */
export function isEnvName(s: string): boolean {
    return ENV_NAME_RE.test(s);
}

/** Name of a reserved (aux) address in a Docker IPAM config: same shape as a Docker name, 1–64 chars. */
export const AUX_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;
/** True for a valid aux-address name. */
export function isAuxName(s: string): boolean {
    return AUX_NAME_RE.test(s);
}

/** MAC address, six colon-separated hex pairs, either case. */
export const MAC_RE = /^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$/;
/** True for a syntactically valid MAC (see MAC_RE; unicast is checked in `mac.ts`). */
export function isMacSyntax(s: string): boolean {
    return MAC_RE.test(s);
}

/** SSH host key types accepted for pinning. */
export const SSH_HOST_KEY_TYPES = [
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
] as const;
export type SshHostKeyType = (typeof SSH_HOST_KEY_TYPES)[number];
/** SSH host key `<type> <base64>`: exactly one space, no comment. Groups: 1 type, 2 base64. */
export const SSH_HOST_KEY_RE = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)) ((?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)$/;

/** Reads the SSH wire-format strings (uint32 length + bytes) of a key blob; undefined when truncated. */
function sshWireStrings(blob: Buffer): Buffer[] | undefined {
    const out: Buffer[] = [];
    let at = 0;
    while (at < blob.length) {
        if (at + 4 > blob.length) return undefined;
        const len = blob.readUInt32BE(at);
        at += 4;
        if (at + len > blob.length) return undefined;
        out.push(blob.subarray(at, at + len));
        at += len;
    }
    return out;
}

/**
 * Why `s` is not a usable pinned SSH host key, or undefined when it is: the shape is
 * `<type> <base64>`, the base64 decodes, the blob's embedded type equals the declared type and
 * its fields have the sizes that type requires.
 */
export function sshHostKeyProblem(s: string): string | undefined {
    const m = SSH_HOST_KEY_RE.exec(s);
    if (m === null) {
        return `is not an SSH host key "<type> <base64>" with type one of ${SSH_HOST_KEY_TYPES.join(", ")}`;
    }
    const type = m[1] as SshHostKeyType;
    if (m[2].length === 0) return "has an empty key";
    const fields = sshWireStrings(Buffer.from(m[2], "base64"));
    if (fields === undefined || fields.length === 0) return "has a key blob that is not SSH wire format";
    const embedded = fields[0].toString("latin1");
    if (embedded !== type) return `declares type ${type} but its key blob is of type ${JSON.stringify(embedded)}`;
    if (type === "ssh-ed25519") {
        if (fields.length !== 2 || fields[1].length !== 32) return "has an ssh-ed25519 key blob without a 32-byte key";
    } else if (type === "ssh-rsa") {
        if (fields.length !== 3 || fields[1].length === 0 || fields[2].length < 64) return "has an ssh-rsa key blob without an exponent and a modulus of at least 512 bits";
    } else {
        const curve = type.slice("ecdsa-sha2-".length);
        const pointLen = { nistp256: 65, nistp384: 97, nistp521: 133 }[curve];
        if (fields.length !== 3 || fields[1].toString("latin1") !== curve || fields[2].length !== pointLen || fields[2][0] !== 4) {
            return `has a ${type} key blob without a ${curve} curve name and an uncompressed ${pointLen}-byte point`;
        }
    }
    return undefined;
}
/**
 * Why an `ssh-rsa` pin is refused (docs/host-keys.md): pulumi-command checks a pin with Go's
 * x/crypto/ssh, whose client offers exactly the host key algorithms it is given and never widens
 * `ssh-rsa` to `rsa-sha2-256/512`; `ssh-rsa` alone means SHA-1 signatures, which OpenSSH 8.8 and
 * later refuse. An ed25519 pin has one algorithm and no such trap.
 */
export function sshRsaPinRule(address: string, port: number): string {
    return `is an ssh-rsa key: the remote commands could only check it with SHA-1 "ssh-rsa" signatures, which OpenSSH 8.8 and later refuse; pin the host's ed25519 key instead (\`${sshKeyscanCommand(address, port)}\`, see docs/host-keys.md)`;
}

/** The `ssh-keyscan` command that prints a host's ed25519 key line, e.g. `ssh-keyscan -t ed25519 -p 22 198.51.100.10`. */
export function sshKeyscanCommand(address: string, port: number): string {
    return `ssh-keyscan -t ed25519 -p ${port} ${address}`;
}

/** What ssh looks a host up by in known_hosts: the address for port 22, `[address]:port` otherwise. */
export function sshKnownHostsPattern(address: string, port: number): string {
    return port === 22 ? address : `[${address}]:${port}`;
}

/** The type of a valid `<type> <base64>` host key (its first word). */
export function sshHostKeyType(s: string): string {
    return s.split(" ")[0] ?? "";
}

/** True for a valid pinned SSH host key (see sshHostKeyProblem). */
export function isSshHostKey(s: string): boolean {
    return sshHostKeyProblem(s) === undefined;
}

/** Lowest and highest usable 802.1Q VLAN id (0 and 4095 are reserved). */
export const VLAN_MIN = 1;
export const VLAN_MAX = 4094;
/** True for an integer VLAN id 1–4094. */
export function isVlanId(n: unknown): n is number {
    return typeof n === "number" && Number.isInteger(n) && n >= VLAN_MIN && n <= VLAN_MAX;
}

/** True for an integer TCP port 1–65535. */
export function isPort(n: unknown): n is number {
    return typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 65535;
}

/** Docker Engine version as declared in config: `major.minor`, e.g. `27.3`. Groups: 1 major, 2 minor. */
export const DOCKER_VERSION_RE = /^(0|[1-9][0-9]{0,3})\.(0|[1-9][0-9]{0,3})$/;
/** True for a `major.minor` Docker Engine version. */
export function isDockerVersion(s: string): boolean {
    return DOCKER_VERSION_RE.test(s);
}

// Rules as problems state them, to follow `<path> <value>`: one wording for every layer that checks
// these values.

/** The rule of HOST_NAME_RE. */
export const HOST_NAME_RULE = "is not a valid host name: 1-32 characters of a-z, 0-9 and -, starting and ending with a letter or digit";
/** The rule of IFNAME_RE. */
export const IFNAME_RULE = `is not a valid Linux interface name: 1-${IFNAME_MAX} characters of A-Z, a-z, 0-9, _, . and -, starting with a letter or digit`;
/** The rule of RESERVED_IFNAMES. */
export const RESERVED_IFNAME_RULE = `is reserved: ${RESERVED_IFNAMES.join(" and ")} name the global entries of /proc/sys/net/ipv4/conf, not a link`;
/** The rule of SSH_USER_RE. */
export const SSH_USER_RULE = "is not a valid SSH user: 1-32 characters of A-Z, a-z, 0-9, _, . and -, not starting with a digit, . or -";
/** The rule of isPort. */
export const PORT_RULE = "is not a port: an integer 1-65535";
/** The rule of isVlanId. */
export const VLAN_ID_RULE = `is not a VLAN id: an integer ${VLAN_MIN}-${VLAN_MAX}`;

/** The interface-name rule a name breaks (reserved, or not a Linux interface name), or undefined. */
export function ifNameProblem(s: string): string | undefined {
    if (RESERVED_IFNAMES.includes(s)) return RESERVED_IFNAME_RULE;
    return isIfName(s) ? undefined : IFNAME_RULE;
}
