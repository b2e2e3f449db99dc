/**
 * The checks of one host entry on its own (`macvlan:hosts[i]`, with its shim): types, syntax and
 * defaults. Rules across entries (unique names, VLANs of networks) are in cross.ts, the rules of
 * a shim's LAN segment in segments.ts.
 */
import type { Address } from "../net/addr";
import { vlanLink } from "../net/names";
import { sshHostKeyType, sshKeyscanCommand, sshRsaPinRule } from "../net/patterns";
import { DEFAULT_IP_FORWARD, DEFAULT_PROMISC, DEFAULT_SHIM_LINK, DEFAULT_SSH_PORT, DEFAULT_SSH_USER } from "./model";
import type { Problems } from "./problems";
import { BOOLEAN, checkValue, own, readEntry, readField, readOptional, STRING, type RawMap } from "./read";
import {
    ADDRESS,
    DOCKER_VERSION,
    EMPTY_VLAN,
    HOST_KEY,
    HOST_NAME,
    LISTED_TWICE,
    PARENT,
    PORT,
    SSH_ADDRESS,
    SSH_USER,
    subInterfaceProblem,
    VLAN_ID,
    VLAN_LIST,
} from "./rules";

/** Keys a host entry may have. */
const HOST_KEYS = ["name", "address", "port", "user", "hostKey", "parent", "promisc", "ipForward", "vlans", "shim", "dockerVersion"] as const;
/** Keys a host's shim may have. */
const SHIM_KEYS = ["address", "vlan"] as const;

/** A host after its own checks; a field is undefined when it was missing or failed. */
export interface CheckedHost {
    readonly index: number;
    readonly path: string;
    /** The name as written, valid or not: a network naming it is not told the host is missing. */
    written?: string;
    name?: string;
    address?: string;
    port: number;
    user: string;
    hostKey?: string;
    parent?: string;
    promisc: boolean;
    ipForward: boolean;
    /** Valid, unique ids in config order. */
    vlans: number[];
    vlansOk: boolean;
    shim?: CheckedShim;
    dockerVersion?: string;
}

interface CheckedShim {
    readonly path: string;
    address?: Address;
    vlan?: number;
    /** False when `vlan` was given but is invalid (segment unknown). */
    vlanOk: boolean;
}

/** Checks one host entry. */
export function checkHost(p: Problems, raw: unknown, index: number, policy: HostKeyPolicy = {}): CheckedHost | undefined {
    const path = `hosts[${index}]`;
    const map = readEntry(p, raw, path, HOST_KEYS, "a host");
    if (map === undefined) return undefined;
    const written = readField(p, map, "name", path, STRING, true);
    const name = written === undefined ? undefined : checkValue(p, written, `${path}.name`, HOST_NAME);
    const address = readField(p, map, "address", path, SSH_ADDRESS, true);
    const port = readField(p, map, "port", path, PORT) ?? DEFAULT_SSH_PORT;
    const user = readField(p, map, "user", path, SSH_USER) ?? DEFAULT_SSH_USER;
    const h: CheckedHost = {
        index,
        path,
        written,
        name,
        address,
        port,
        user,
        hostKey: readHostKey(p, map, path, address, port, policy),
        parent: readField(p, map, "parent", path, PARENT, true),
        promisc: readField(p, map, "promisc", path, BOOLEAN) ?? DEFAULT_PROMISC,
        ipForward: readField(p, map, "ipForward", path, BOOLEAN) ?? DEFAULT_IP_FORWARD,
        vlans: [],
        vlansOk: true,
    };
    checkVlans(p, map, h);
    const shim = own(map, "shim");
    if (shim !== undefined) h.shim = checkShim(p, shim, `${path}.shim`, h);
    h.dockerVersion = readField(p, map, "dockerVersion", path, DOCKER_VERSION);
    return h;
}

/**
 * How a host without a pinned `hostKey` is treated. A host key is verified on every path (remote
 * commands, drift probe, Docker provider); the key is either pinned in the entry or, with
 * `trustOnFirstUse` and the probe on, learned by the probe on first contact (docs/host-keys.md).
 */
export interface HostKeyPolicy {
    /** `macvlan:trustOnFirstUse`: the probe learns an unpinned host's key on first contact. Default false. */
    readonly trustOnFirstUse?: boolean;
    /** `macvlan:probe`: the drift probe runs (it is what learns a key). Default true. */
    readonly probe?: boolean;
}

/** True when an unpinned host's key will be learned (trust on first use, through the probe). */
export function learnsHostKeys(policy: HostKeyPolicy): boolean {
    return (policy.trustOnFirstUse ?? false) && (policy.probe ?? true);
}

/**
 * The host's `hostKey`: a valid key that is not ssh-rsa (sshRsaPinRule); required unless the
 * policy learns unpinned keys, with the `ssh-keyscan` line that prints it.
 */
function readHostKey(p: Problems, map: RawMap, path: string, address: string | undefined, port: number, policy: HostKeyPolicy): string | undefined {
    const at = `${path}.hostKey`;
    const target = address ?? "<address>";
    const scan = `run \`${sshKeyscanCommand(target, port)}\` from a network you trust and set hostKey to the "ssh-ed25519 AAAA…" part of the line it prints`;
    let required: string | undefined;
    if (!learnsHostKeys(policy)) {
        required =
            policy.trustOnFirstUse ?? false
                ? `is required: the SSH host key of ${target} port ${port} is not pinned, and macvlan:probe is false, so there is no probe to learn it on first contact (macvlan:trustOnFirstUse learns keys through the probe); ${scan}`
                : `is required: the SSH host key of ${target} port ${port} is not pinned, and without it whatever answers at that address would be sent the host scripts; ${scan} (or set macvlan:trustOnFirstUse: true to learn it on first contact)`;
    }
    const key = readField(p, map, "hostKey", path, HOST_KEY, required);
    if (key !== undefined && sshHostKeyType(key) === "ssh-rsa") {
        p.add(at, key, sshRsaPinRule(target, port));
        return undefined;
    }
    return key;
}

/** The host's `vlans`: valid ids, each once, whose sub-interface names fit. */
function checkVlans(p: Problems, map: RawMap, h: CheckedHost): void {
    const list = readOptional(p, map, "vlans", h.path, VLAN_LIST);
    h.vlansOk = list.ok;
    list.value?.forEach((v, i) => {
        const at = `${h.path}.vlans[${i}]`;
        if (v === undefined || v === null) {
            p.addBare(at, EMPTY_VLAN);
            h.vlansOk = false;
            return;
        }
        const vlan = checkValue(p, v, at, VLAN_ID);
        if (vlan === undefined) {
            h.vlansOk = false;
            return;
        }
        if (h.vlans.includes(vlan)) {
            p.add(at, vlan, LISTED_TWICE);
            return;
        }
        h.vlans.push(vlan);
        const tooLong = h.parent === undefined ? undefined : subInterfaceProblem(vlanLink(h.parent, vlan));
        if (tooLong !== undefined) p.add(at, vlan, tooLong);
    });
}

function checkShim(p: Problems, raw: unknown, path: string, host: CheckedHost): CheckedShim | undefined {
    const map = readEntry(p, raw, path, SHIM_KEYS, "a shim", "a map {address, vlan}");
    if (map === undefined) return undefined;
    const address = readField(p, map, "address", path, ADDRESS, true);
    const vlan = readOptional(p, map, "vlan", path, VLAN_ID);
    const shim: CheckedShim = { path, address, vlan: vlan.value, vlanOk: vlan.ok };
    if (host.parent === DEFAULT_SHIM_LINK) {
        p.addBare(path, `needs a link named ${DEFAULT_SHIM_LINK}, which is ${host.path}.parent; the parent NIC cannot carry its own shim under that name`);
    }
    if (vlan.value !== undefined && host.vlansOk && !host.vlans.includes(vlan.value)) {
        p.add(`${path}.vlan`, vlan.value, `is not in ${host.path}.vlans [${host.vlans.join(", ")}]; add it there`);
        shim.vlanOk = false;
    }
    return shim;
}
