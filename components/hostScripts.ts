/**
 * The pure renderers of every shell script that MacvlanHost runs on a host over SSH (no resource
 * imports). Each feature (promisc, ipforward, one VLAN, the shim, one shim route) is its own
 * remote.Command; its create/update script is an idempotent POSIX-sh "ensure", its delete script
 * puts back what the first create found. See `renderFeature` for the contract of one script and
 * `renderProbe` for drift.
 *
 * On the host (all written atomically: a temporary file, then `mv`; the shared ones under a lock):
 *   /var/lib/pulumi-macvlan/<key>/prior   the state before the first create: `name value` lines
 *   /var/lib/pulumi-macvlan/<key>/token   the drift token of the last create/update
 *   /etc/pulumi-macvlan/boot.d/NN-<key>.sh   the feature's boot-time fragment (NN orders them:
 *                                            10 promisc/ipforward < 20 vlan < 30 shim < 40 route)
 *   /etc/pulumi-macvlan/boot               the runner: runs every fragment in order
 *   /etc/systemd/system/pulumi-macvlan.service   oneshot unit running the runner before
 *                                                docker.service, enabled by a symlink in
 *                                                multi-user.target.wants
 *   /run/pulumi-macvlan.lock               flock(1) lock: Pulumi runs a host's commands in parallel
 * A directory the scripts had to create (/var/lib/pulumi-macvlan, /etc/pulumi-macvlan, even
 * multi-user.target.wants) holds a `.pulumi-macvlan-created` marker and is removed again by the
 * last delete; a directory that was already there stays. The unit, the runner and the enabling
 * symlink go away with the last fragment.
 *
 * Why a oneshot unit and not the host's network manager or sysctl.d: hosts differ (ifupdown,
 * systemd-networkd, NetworkManager, netplan), while every supported host has systemd; one unit
 * ordered After=network-online.target (the parent NIC is configured) and Before=docker.service
 * (Docker finds `<parent>.<vlan>` and the shim when it restores its macvlan networks) restores all
 * of it, and a single place is probed for drift and removed on destroy. ip_forward goes there too
 * rather than into /etc/sysctl.d: systemd-sysctl applies sysctl.d early and any later-sorting file
 * or /etc/sysctl.conf can override it, whereas the unit runs after systemd-sysctl, so its value
 * is the one that holds; and the shim's per-interface sysctls need the link to exist first anyway.
 */
import { addressSlug } from "./names";
import {
    assertHostName,
    assertIfName,
    assertIpv4Cidr,
    assertIpv4Host32,
    assertToken,
    assertVlanId,
    ShellValueError,
    shq,
    TOKEN_RE,
    wrapSh,
} from "./shell";

export { ShellValueError, TOKEN_RE } from "./shell";

/** One thing MacvlanHost ensures on a host; each becomes one remote.Command. */
export type HostFeature =
    | { readonly kind: "promisc"; readonly parent: string }
    | { readonly kind: "ipforward" }
    | { readonly kind: "vlan"; readonly parent: string; readonly id: number }
    | {
          readonly kind: "shim";
          /** The link the shim hangs off: the parent or `<parent>.<vlan>`. */
          readonly lower: string;
          /** The shim link's own name (validated Linux ifname). */
          readonly link: string;
          /** The shim's address with a /32 prefix, e.g. `198.51.100.250/32`. */
          readonly address: string;
      }
    | { readonly kind: "route"; readonly link: string; readonly cidr: string };

/** What the preflight checks on a host before anything changes. */
export interface PreflightSpec {
    /** Host name, for messages. */
    readonly host: string;
    readonly parent: string;
    /** True when VLAN sub-interfaces are asked for: 802.1Q present or loadable. */
    readonly needsVlan: boolean;
    /** True when networks will use the host: `docker` present and its engine answering. */
    readonly needsDocker: boolean;
}

export interface RenderedCommand {
    /** Ensure script, run on create; carries the drift token. */
    readonly create: string;
    /** Ensure script, run on update (same effect as create). */
    readonly update: string;
    /** Undo script: restores the prior state recorded on the host by the first create. */
    readonly delete: string;
}

/** Where the scripts keep things on a host. */
export const HOST_PATHS = {
    stateRoot: "/var/lib/pulumi-macvlan",
    bootRoot: "/etc/pulumi-macvlan",
    bootDir: "/etc/pulumi-macvlan/boot.d",
    runner: "/etc/pulumi-macvlan/boot",
    unit: "/etc/systemd/system/pulumi-macvlan.service",
    wantsDir: "/etc/systemd/system/multi-user.target.wants",
    wantsLink: "/etc/systemd/system/multi-user.target.wants/pulumi-macvlan.service",
    lock: "/run/pulumi-macvlan.lock",
    createdMarker: ".pulumi-macvlan-created",
} as const;

/** The sysctls the shim link gets: loose reverse-path filter, ARP answered and sourced only for its own address. */
export const SHIM_SYSCTLS: readonly (readonly [name: string, value: number])[] = [
    ["rp_filter", 2],
    ["arp_ignore", 1],
    ["arp_announce", 2],
];

/** Shape of a drift token printed by the probe: `drift:<code>[,<code>...]@<cksum>`. */
export const DRIFT_TOKEN_RE = /^drift:[a-z_-]+(?:,[a-z_-]+)*@[0-9]{1,10}$/;

/** Shape of a feature key (see featureKey); what parseProbeOutput accepts as a key. */
export const FEATURE_KEY_RE = /^(?:ipforward|(?:promisc|vlan|shim|route)-[A-Za-z0-9_.-]{1,40})$/;

/** The state key of a feature on the host, e.g. `promisc-eth0`, `vlan-eth0.50`. Unique per host. */
export function featureKey(f: HostFeature): string {
    const v = checkFeature(f);
    switch (v.kind) {
        case "promisc":
            return `promisc-${v.parent}`;
        case "ipforward":
            return "ipforward";
        case "vlan":
            return `vlan-${v.parent}.${v.id}`;
        case "shim":
            return `shim-${v.link}`;
        case "route":
            return `route-${addressSlug(v.cidr)}`;
    }
}

/**
 * The feature's parameters as one deterministic string. The scripts keep a feature's prior state
 * under its key and `update` only repairs drift, so a change of parameters must replace the
 * command (delete with the old text, then create): put this in the command's `triggers` and set
 * `deleteBeforeReplace`. (A shim whose lower or address changed under `update` fails in preflight,
 * saying so, rather than leave the old address behind.)
 */
export function featureIdentity(f: HostFeature): string {
    const v = checkFeature(f);
    switch (v.kind) {
        case "promisc":
            return `promisc parent=${v.parent}`;
        case "ipforward":
            return "ipforward";
        case "vlan":
            return `vlan parent=${v.parent} id=${v.id}`;
        case "shim":
            return `shim lower=${v.lower} link=${v.link} address=${v.address}`;
        case "route":
            return `route link=${v.link} cidr=${v.cidr}`;
    }
}

/** The boot fragment of a feature on the host. */
export function bootFragmentPath(f: HostFeature): string {
    const order = { promisc: "10", ipforward: "10", vlan: "20", shim: "30", route: "40" }[checkFeature(f).kind];
    return `${HOST_PATHS.bootDir}/${order}-${featureKey(f)}.sh`;
}

/** Validates every field of a feature (throws ShellValueError) and returns it. */
function checkFeature(f: HostFeature): HostFeature {
    if (typeof f !== "object" || f === null) throw new ShellValueError("feature", f, "is not an object");
    switch (f.kind) {
        case "promisc":
            assertIfName("promisc.parent", f.parent);
            return f;
        case "ipforward":
            return f;
        case "vlan":
            assertIfName("vlan.parent", f.parent);
            assertVlanId("vlan.id", f.id);
            assertIfName("vlan link", `${f.parent}.${f.id}`);
            return f;
        case "shim":
            assertIfName("shim.lower", f.lower);
            assertIfName("shim.link", f.link);
            assertIpv4Host32("shim.address", f.address);
            if (f.link === f.lower) throw new ShellValueError("shim.link", f.link, "must differ from shim.lower");
            return f;
        case "route":
            assertIfName("route.link", f.link);
            assertIpv4Cidr("route.cidr", f.cidr);
            return f;
        default:
            throw new ShellValueError("feature.kind", (f as { kind?: unknown }).kind, "must be one of promisc, ipforward, vlan, shim, route");
    }
}

// ---------------------------------------------------------------------------------------------
// Shell text. Rules for everything below: POSIX sh only; no backslash anywhere (wrapSh refuses
// it, for fish); a value reaches the text only through `shq` after a strict check; helpers used
// in `if`/`&&` context never rely on `set -e` (it is off there), helpers called as plain commands
// fail loudly under it.
// ---------------------------------------------------------------------------------------------

/** `NAME='value'` lines; the only place values enter a script. */
function assigns(vars: readonly (readonly [string, string])[]): string {
    return vars.map(([k, v]) => `${k}=${shq(v)}`).join("\n");
}

const PROLOGUE = `set -eu
umask 022
LC_ALL=C
export LC_ALL
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"`;

/** Fixed paths (constants of this module, not config values: plain double quotes suffice). */
const PATH_VARS = [
    `STATE_ROOT="${HOST_PATHS.stateRoot}"`,
    `BOOT_ROOT="${HOST_PATHS.bootRoot}"`,
    `RUNNER="${HOST_PATHS.runner}"`,
    `UNIT="${HOST_PATHS.unit}"`,
    `WANTS="${HOST_PATHS.wantsDir}"`,
    `WANTS_LINK="${HOST_PATHS.wantsLink}"`,
    `LOCK="${HOST_PATHS.lock}"`,
].join("\n");

/**
 * `ip` is iproute2's, found on PATH by asking each candidate for its version: a busybox shell may
 * run its own `ip` applet for a plain `ip` (Debian's busybox does), and busybox ip silently ignores
 * what it does not know (a macvlan comes out in vepa mode). The function `ip` then calls it.
 */
const LIB_IP = `pm_find_ip() {
    pm_ip=""
    pm_ifs=$IFS
    IFS=:
    for pm_dir in $PATH; do
        if [ -z "$pm_ip" ] && [ -f "$pm_dir/ip" ] && [ -x "$pm_dir/ip" ]; then
            case "$("$pm_dir/ip" -V 2>&1 || :)" in
                *iproute2*) pm_ip="$pm_dir/ip" ;;
            esac
        fi
    done
    IFS=$pm_ifs
}
ip() {
    "$pm_ip" "$@"
}
pm_find_ip`;

/** Messages, preflight checks. Needs H, pm_who and LIB_IP. */
const LIB_CORE = `pm_say() {
    echo "pulumi-macvlan $pm_who: $*"
}
pm_fail() {
    echo "pulumi-macvlan $pm_who: error: $*" >&2
    pm_told=1
    exit 1
}
pm_pre_fail() {
    echo "pulumi-macvlan $pm_who: preflight failed: $*; nothing was changed" >&2
    pm_told=1
    exit 2
}
pm_told=0
pm_on_exit() {
    pm_rc=$?
    if [ "$pm_rc" != 0 ] && [ "$pm_told" = 0 ]; then
        echo "pulumi-macvlan $pm_who: error: a command above failed (exit status $pm_rc); running this again finishes the job" >&2
    fi
}
trap pm_on_exit EXIT
pm_changes=""
pm_note() {
    pm_changes="\${pm_changes:+$pm_changes, }$*"
}
pm_done() {
    if [ -n "$pm_changes" ]; then
        pm_say "changed ($pm_changes)"
    else
        pm_say "unchanged"
    fi
}
pm_preflight() {
    if [ "$(id -u)" != 0 ]; then
        pm_pre_fail "must run as root (runs as uid $(id -u))"
    fi
    if [ -z "$pm_ip" ]; then
        pm_pre_fail "iproute2 is not installed (no ip command on PATH answers ip -V with iproute2)"
    fi
    pm_kv=$(uname -r)
    pm_kmaj=\${pm_kv%%.*}
    pm_kmin=\${pm_kv#*.}
    pm_kmin=\${pm_kmin%%[!0-9]*}
    case "$pm_kmaj.$pm_kmin" in
        .*|*.|*[!0-9.]*) pm_pre_fail "cannot read the kernel version from uname -r: $pm_kv" ;;
    esac
    if [ "$pm_kmaj" -lt 3 ] || { [ "$pm_kmaj" -eq 3 ] && [ "$pm_kmin" -lt 9 ]; }; then
        pm_pre_fail "Linux $pm_kv is too old: macvlan needs Linux 3.9 or newer"
    fi
}
pm_preflight_tools() {
    if ! command -v flock >/dev/null 2>&1; then
        pm_pre_fail "flock (util-linux) is not installed"
    fi
    if [ ! -d /run/systemd/system ] && [ ! -x /lib/systemd/systemd ] && [ ! -x /usr/lib/systemd/systemd ]; then
        pm_pre_fail "systemd is not installed: the boot-time config is a systemd unit"
    fi
}
pm_need_link() {
    if ! ip link show dev "$1" >/dev/null 2>&1; then
        pm_pre_fail "$2 $1 does not exist"
    fi
}
pm_need_8021q() {
    if [ ! -d /proc/net/vlan ]; then
        modprobe 8021q >/dev/null 2>&1 || :
    fi
    if [ ! -d /proc/net/vlan ]; then
        pm_pre_fail "this kernel has no 802.1Q VLAN support (no /proc/net/vlan, and modprobe 8021q failed)"
    fi
}`;

/** Reading links: pm_flags sets pm_fl to ",FLAG,FLAG," of a link (empty when it does not exist). */
const LIB_LINK = `pm_flags() {
    pm_fl=""
    if pm_line=$(ip -o link show dev "$1" 2>/dev/null); then
        pm_fl=\${pm_line#*<}
        pm_fl=",\${pm_fl%%>*},"
    fi
}
pm_has() {
    case "$pm_fl" in
        *",$1,"*) return 0 ;;
    esac
    return 1
}
pm_same() {
    [ -f "$1" ] && [ "$(cat "$1" 2>/dev/null; echo x)" = "$($2; echo x)" ]
}`;

/** State, atomic files, lock, boot config. Needs PATH_VARS, K, D, FRAGMENT, pm_measure, pm_fragment. */
const LIB_STATE = `pm_lock() {
    exec 9>>"$LOCK"
    if ! flock -w 600 9; then
        pm_fail "timed out after 600 s waiting for $LOCK"
    fi
}
pm_begin() {
    rm -rf "$STATE_ROOT.pm-new" "$STATE_ROOT.pm-old" "$BOOT_ROOT.pm-new" "$BOOT_ROOT.pm-old" "$WANTS.pm-new" "$D.pm-old"
    rm -f "$RUNNER.pm-tmp" "$UNIT.pm-tmp" "$FRAGMENT.pm-tmp" "$D/prior.pm-tmp" "$D/token.pm-tmp"
}
pm_root() {
    if [ ! -d "$1" ]; then
        rm -rf "$1.pm-new"
        mkdir -p "$1.pm-new"
        : > "$1.pm-new/${HOST_PATHS.createdMarker}"
        mv "$1.pm-new" "$1"
    fi
}
pm_only_marker() {
    [ -f "$1/${HOST_PATHS.createdMarker}" ] && [ "$(ls -A "$1")" = "${HOST_PATHS.createdMarker}" ]
}
pm_unroot() {
    if pm_only_marker "$1"; then
        mv "$1" "$1.pm-old"
        rm -rf "$1.pm-old"
    fi
}
pm_unroot_shared() {
    if pm_only_marker "$1"; then
        rm -f "$1/${HOST_PATHS.createdMarker}"
        rmdir "$1" 2>/dev/null || :
    fi
}
pm_install() {
    pm_wrote=0
    if [ ! -f "$1" ] || [ -L "$1" ] || [ "$(cat "$1"; echo x)" != "$($3; echo x)" ]; then
        $3 > "$1.pm-tmp"
        chmod "$2" "$1.pm-tmp"
        mv -f "$1.pm-tmp" "$1"
        pm_wrote=1
    fi
}
pm_get() {
    pm_v=$2
    if [ -f "$D/prior" ]; then
        while read -r pm_n pm_x; do
            if [ "$pm_n" = "$1" ]; then
                pm_v=$pm_x
            fi
        done < "$D/prior"
    fi
}
pm_record_prior() {
    pm_root "$STATE_ROOT"
    mkdir -p "$D"
    if [ ! -f "$D/prior" ]; then
        pm_measure > "$D/prior.pm-tmp"
        mv -f "$D/prior.pm-tmp" "$D/prior"
        pm_note "prior state recorded"
    fi
}
pm_store_token() {
    pm_t=""
    if [ -f "$D/token" ]; then
        read -r pm_t < "$D/token" || :
    fi
    if [ "$pm_t" != "$TOKEN" ]; then
        echo "$TOKEN" > "$D/token.pm-tmp"
        mv -f "$D/token.pm-tmp" "$D/token"
        pm_note "token $TOKEN stored"
    fi
}
pm_forget() {
    if [ -d "$D" ]; then
        mv "$D" "$D.pm-old"
    fi
    rm -rf "$D.pm-old"
    pm_unroot "$STATE_ROOT"
}
pm_daemon_reload() {
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload
    fi
}
pm_boot_install() {
    pm_root "$BOOT_ROOT"
    mkdir -p "$BOOT_ROOT/boot.d"
    pm_install "$RUNNER" 755 pm_runner
    if [ "$pm_wrote" = 1 ]; then
        pm_note "boot runner $RUNNER written"
    fi
    pm_sd=0
    pm_root "$WANTS"
    pm_install "$UNIT" 644 pm_unit
    if [ "$pm_wrote" = 1 ]; then
        pm_sd=1
        pm_note "unit $UNIT written"
    fi
    if [ ! -L "$WANTS_LINK" ]; then
        rm -f "$WANTS_LINK"
        ln -s "$UNIT" "$WANTS_LINK"
        pm_sd=1
        pm_note "unit enabled"
    fi
    if [ "$pm_sd" = 1 ]; then
        pm_daemon_reload
    fi
    pm_install "$FRAGMENT" 644 pm_fragment
    if [ "$pm_wrote" = 1 ]; then
        pm_note "boot config $FRAGMENT written"
    fi
}
pm_boot_remove() {
    rm -f "$FRAGMENT.pm-tmp"
    if [ -e "$FRAGMENT" ]; then
        rm -f "$FRAGMENT"
        pm_note "boot config $FRAGMENT removed"
    fi
    pm_more=0
    for pm_f in "$BOOT_ROOT/boot.d/"*.sh; do
        if [ -e "$pm_f" ]; then
            pm_more=1
        fi
    done
    if [ "$pm_more" = 0 ]; then
        pm_sd=0
        if [ -L "$WANTS_LINK" ]; then
            rm -f "$WANTS_LINK"
            pm_sd=1
        fi
        if [ -e "$UNIT" ]; then
            rm -f "$UNIT"
            pm_sd=1
        fi
        rm -f "$UNIT.pm-tmp"
        if [ "$pm_sd" = 1 ]; then
            pm_note "unit $UNIT removed"
            pm_daemon_reload
        fi
        pm_unroot_shared "$WANTS"
        rm -f "$RUNNER" "$RUNNER.pm-tmp"
        if [ -d "$BOOT_ROOT/boot.d" ]; then
            rmdir "$BOOT_ROOT/boot.d" 2>/dev/null || :
        fi
        pm_unroot "$BOOT_ROOT"
    fi
}`;

const FRAG_NEED_IP = `if [ -z "$pm_ip" ]; then
    echo "pulumi-macvlan boot: iproute2 is not installed" >&2
    exit 1
fi`;

/** Boot-time waiting for a link (fragments run early; a NIC or the shim may still be coming). */
const FRAG_WAIT = `pm_wait_link() {
    pm_i=0
    while ! ip link show dev "$1" >/dev/null 2>&1; do
        pm_i=$((pm_i + 1))
        if [ "$pm_i" -gt 30 ]; then
            echo "pulumi-macvlan boot: link $1 did not appear within 30 s" >&2
            return 1
        fi
        sleep 1
    done
}`;

const RUNNER_TEXT = `#!/bin/sh
# pulumi-macvlan boot runner: run by pulumi-macvlan.service before docker.service, it restores the
# host network setup by running every fragment in boot.d in order. Generated by pulumi-macvlan and
# removed with its last fragment; do not edit.
LC_ALL=C
export LC_ALL
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
rc=0
for f in /etc/pulumi-macvlan/boot.d/*.sh; do
    if [ -f "$f" ]; then
        if ! /bin/sh "$f"; then
            echo "pulumi-macvlan boot: $f failed" >&2
            rc=1
        fi
    fi
done
exit "$rc"`;

const UNIT_TEXT = `# Generated by pulumi-macvlan and removed by its last destroy; do not edit.
[Unit]
Description=pulumi-macvlan host network setup for Docker macvlan networks
Documentation=file:/etc/pulumi-macvlan/boot
Wants=network-online.target
After=network-online.target
Before=docker.service

[Service]
Type=oneshot
RemainAfterExit=yes
Environment=LC_ALL=C
ExecStart=/bin/sh /etc/pulumi-macvlan/boot

[Install]
WantedBy=multi-user.target`;

/** The runner and the unit, as shell functions printing their exact text. */
const LIB_BOOT_TEXT = `pm_runner() {
    cat <<"PM_EOF"
${RUNNER_TEXT}
PM_EOF
}
pm_unit() {
    cat <<"PM_EOF"
${UNIT_TEXT}
PM_EOF
}`;

/** The exact text of the runner and the unit the scripts install (for tests and docs). */
export const BOOT_RUNNER_TEXT = `${RUNNER_TEXT}\n`;
export const BOOT_UNIT_TEXT = `${UNIT_TEXT}\n`;

/** Per-kind shell: variables, a library (state, measure, ensure, restore, check) and the boot fragment body. */
interface KindShell {
    readonly vars: readonly (readonly [string, string])[];
    /** Functions reading the live state, used by both the scripts and the probe. */
    readonly helpers: string;
    /** Defines pm_preflight_feature, pm_measure (prints the prior state), pm_ensure and pm_restore. */
    readonly lib: string;
    /** Body of the drift check: calls `pm_add <code>` for each thing that differs from the desired state. */
    readonly check: string;
    /** Body of the boot fragment (after its header). */
    readonly fragment: string;
}

function kindShell(f: HostFeature): KindShell {
    switch (f.kind) {
        case "promisc":
            return {
                vars: [["PARENT", f.parent]],
                helpers: "",
                lib: `pm_preflight_feature() {
    pm_need_link "$PARENT" "parent NIC"
}
pm_measure() {
    pm_flags "$PARENT"
    if pm_has PROMISC; then
        echo "promisc 1"
    else
        echo "promisc 0"
    fi
}
pm_ensure() {
    pm_flags "$PARENT"
    if ! pm_has PROMISC; then
        ip link set dev "$PARENT" promisc on
        pm_note "promisc on $PARENT"
    fi
}
pm_restore() {
    pm_get promisc 1
    pm_flags "$PARENT"
    if [ -z "$pm_fl" ]; then
        pm_say "parent $PARENT is gone: no promisc to restore"
    elif [ "$pm_v" = 0 ] && pm_has PROMISC; then
        ip link set dev "$PARENT" promisc off
        pm_note "promisc off $PARENT (as before)"
    elif [ "$pm_v" = 1 ] && ! pm_has PROMISC; then
        ip link set dev "$PARENT" promisc on
        pm_note "promisc on $PARENT (as before)"
    fi
}`,
                check: `    pm_flags "$PARENT"
    if [ -z "$pm_fl" ]; then
        pm_add link-missing
    elif ! pm_has PROMISC; then
        pm_add promisc-off
    fi`,
                fragment: `pm_wait_link "$PARENT"
ip link set dev "$PARENT" promisc on`,
            };
        case "ipforward":
            return {
                vars: [],
                helpers: "",
                lib: `pm_preflight_feature() {
    :
}
pm_set() {
    pm_y=$(cat "$1")
    if [ "$pm_y" != "$2" ]; then
        echo "$2" > "$1"
    fi
}
pm_measure() {
    pm_m=$(cat /proc/sys/net/ipv4/ip_forward)
    echo "ip_forward $pm_m"
    pm_m=$(cat /proc/sys/net/ipv4/conf/all/accept_redirects)
    echo "all_accept_redirects $pm_m"
    pm_m=$(cat /proc/sys/net/ipv4/conf/default/forwarding)
    echo "default_forwarding $pm_m"
    for pm_c in /proc/sys/net/ipv4/conf/*; do
        pm_c=\${pm_c##*/}
        case "$pm_c" in
            all|default) ;;
            *)
                pm_m=$(cat "/proc/sys/net/ipv4/conf/$pm_c/forwarding")
                echo "forwarding $pm_c $pm_m"
                ;;
        esac
    done
}
pm_ensure() {
    pm_m=$(cat /proc/sys/net/ipv4/ip_forward)
    if [ "$pm_m" != 1 ]; then
        echo 1 > /proc/sys/net/ipv4/ip_forward
        pm_note "net.ipv4.ip_forward=1"
    fi
}
pm_restore() {
    pm_get ip_forward 1
    pm_m=$(cat /proc/sys/net/ipv4/ip_forward)
    if [ "$pm_m" != "$pm_v" ]; then
        echo "$pm_v" > /proc/sys/net/ipv4/ip_forward
        pm_note "net.ipv4.ip_forward=$pm_v (as before)"
        # Writing ip_forward also resets conf/all/accept_redirects, conf/default/forwarding and
        # every conf/<link>/forwarding: put back what was recorded.
        while read -r pm_n pm_a pm_b; do
            case "$pm_n" in
                all_accept_redirects) pm_set /proc/sys/net/ipv4/conf/all/accept_redirects "$pm_a" ;;
                default_forwarding) pm_set /proc/sys/net/ipv4/conf/default/forwarding "$pm_a" ;;
                forwarding)
                    if [ -e "/proc/sys/net/ipv4/conf/$pm_a/forwarding" ]; then
                        pm_set "/proc/sys/net/ipv4/conf/$pm_a/forwarding" "$pm_b"
                    fi
                    ;;
            esac
        done < "$D/prior"
    fi
}`,
                check: `    pm_m=$(cat /proc/sys/net/ipv4/ip_forward)
    if [ "$pm_m" != 1 ]; then
        pm_add forward-off
    fi`,
                fragment: `echo 1 > /proc/sys/net/ipv4/ip_forward`,
            };
        case "vlan":
            return {
                vars: [
                    ["PARENT", f.parent],
                    ["VID", String(f.id)],
                    ["VLINK", `${f.parent}.${f.id}`],
                ],
                helpers: `pm_vlan_state() {
    if pm_line=$(ip -d -o link show dev "$VLINK" 2>/dev/null); then
        case "$pm_line" in
            *": $VLINK@$PARENT: "*" vlan protocol 802.1Q id $VID "*) pm_vs=ours ;;
            *) pm_vs=other ;;
        esac
    else
        pm_vs=missing
    fi
}`,
                lib: `pm_preflight_feature() {
    pm_need_link "$PARENT" "parent NIC"
    pm_need_8021q
    pm_vlan_state
    if [ "$pm_vs" = other ]; then
        pm_pre_fail "link $VLINK exists but is not VLAN $VID on $PARENT: refusing to touch it"
    fi
}
pm_measure() {
    pm_vlan_state
    if [ "$pm_vs" = ours ]; then
        echo "existed 1"
        pm_flags "$VLINK"
        if pm_has UP; then
            echo "up 1"
        else
            echo "up 0"
        fi
    else
        echo "existed 0"
    fi
}
pm_ensure() {
    pm_vlan_state
    if [ "$pm_vs" = missing ]; then
        ip link add link "$PARENT" name "$VLINK" type vlan id "$VID"
        pm_note "VLAN link $VLINK created"
    fi
    pm_flags "$VLINK"
    if ! pm_has UP; then
        ip link set dev "$VLINK" up
        pm_note "$VLINK up"
    fi
}
pm_restore() {
    pm_get existed 0
    pm_vlan_state
    if [ "$pm_v" = 0 ]; then
        if [ "$pm_vs" = ours ]; then
            ip link del dev "$VLINK"
            pm_note "VLAN link $VLINK deleted"
        fi
    elif [ "$pm_vs" = ours ]; then
        pm_get up 1
        pm_flags "$VLINK"
        if [ "$pm_v" = 0 ] && pm_has UP; then
            ip link set dev "$VLINK" down
            pm_note "$VLINK down (as before)"
        elif [ "$pm_v" = 1 ] && ! pm_has UP; then
            ip link set dev "$VLINK" up
            pm_note "$VLINK up (as before)"
        fi
    fi
}`,
                check: `    pm_vlan_state
    if [ "$pm_vs" = missing ]; then
        pm_add vlan-missing
    elif [ "$pm_vs" = other ]; then
        pm_add vlan-wrong
    else
        pm_flags "$VLINK"
        if ! pm_has UP; then
            pm_add vlan-down
        fi
    fi`,
                fragment: `if [ ! -d /proc/net/vlan ]; then
    modprobe 8021q || :
fi
pm_wait_link "$PARENT"
if ! ip link show dev "$VLINK" >/dev/null 2>&1; then
    ip link add link "$PARENT" name "$VLINK" type vlan id "$VID"
fi
ip link set dev "$VLINK" up`,
            };
        case "shim": {
            const sysctlNames = SHIM_SYSCTLS.map(([n]) => n).join(" ");
            const ensureSysctls = SHIM_SYSCTLS.map(
                ([n, v]) => `    pm_m=$(cat "/proc/sys/net/ipv4/conf/$SHIM/${n}")
    if [ "$pm_m" != ${v} ]; then
        echo ${v} > "/proc/sys/net/ipv4/conf/$SHIM/${n}"
        pm_note "$SHIM ${n}=${v}"
    fi`,
            ).join("\n");
            const checkSysctls = SHIM_SYSCTLS.map(
                ([n, v]) => `        pm_m=$(cat "/proc/sys/net/ipv4/conf/$SHIM/${n}")
        if [ "$pm_m" != ${v} ]; then
            pm_add ${n}
        fi`,
            ).join("\n");
            return {
                vars: [
                    ["LOWER", f.lower],
                    ["SHIM", f.link],
                    ["ADDR", f.address],
                ],
                helpers: `pm_shim_state() {
    if pm_line=$(ip -d -o link show dev "$SHIM" 2>/dev/null); then
        case "$pm_line" in
            *": $SHIM@$LOWER: "*" macvlan mode bridge "*) pm_ss=ours ;;
            *) pm_ss=other ;;
        esac
    else
        pm_ss=missing
    fi
}
pm_has_addr() {
    pm_as=$(ip -o -4 addr show dev "$SHIM" 2>/dev/null) || pm_as=""
    case "$pm_as" in
        *" inet $ADDR "*) return 0 ;;
    esac
    return 1
}`,
                lib: `pm_preflight_feature() {
    pm_need_link "$LOWER" "lower link"
    pm_shim_state
    if [ "$pm_ss" = other ]; then
        pm_pre_fail "link $SHIM exists but is not a bridge-mode macvlan on $LOWER: refusing to touch it"
    fi
    if [ -f "$D/prior" ]; then
        pm_get lower "$LOWER"
        pm_was_lower=$pm_v
        pm_get address "$ADDR"
        if [ "$pm_was_lower" != "$LOWER" ] || [ "$pm_v" != "$ADDR" ]; then
            pm_pre_fail "shim $SHIM was applied with lower $pm_was_lower and address $pm_v; delete it and create it again to change them"
        fi
    fi
}
pm_measure() {
    echo "lower $LOWER"
    echo "address $ADDR"
    pm_shim_state
    if [ "$pm_ss" = ours ]; then
        echo "existed 1"
        pm_flags "$SHIM"
        if pm_has UP; then
            echo "up 1"
        else
            echo "up 0"
        fi
        if pm_has_addr; then
            echo "addr 1"
        else
            echo "addr 0"
        fi
        for pm_k in ${sysctlNames}; do
            pm_m=$(cat "/proc/sys/net/ipv4/conf/$SHIM/$pm_k")
            echo "$pm_k $pm_m"
        done
    else
        echo "existed 0"
    fi
}
pm_ensure() {
    pm_shim_state
    if [ "$pm_ss" = missing ]; then
        ip link add link "$LOWER" name "$SHIM" type macvlan mode bridge
        pm_note "macvlan link $SHIM created on $LOWER"
    fi
${ensureSysctls}
    if ! pm_has_addr; then
        ip addr add "$ADDR" dev "$SHIM"
        pm_note "address $ADDR on $SHIM"
    fi
    pm_flags "$SHIM"
    if ! pm_has UP; then
        ip link set dev "$SHIM" up
        pm_note "$SHIM up"
    fi
}
pm_restore() {
    pm_get existed 0
    pm_shim_state
    if [ "$pm_v" = 0 ]; then
        if [ "$pm_ss" = ours ]; then
            ip link del dev "$SHIM"
            pm_note "macvlan link $SHIM deleted"
        fi
    elif [ "$pm_ss" = ours ]; then
        pm_get addr 1
        if [ "$pm_v" = 0 ] && pm_has_addr; then
            ip addr del "$ADDR" dev "$SHIM"
            pm_note "address $ADDR removed from $SHIM (as before)"
        fi
        for pm_k in ${sysctlNames}; do
            pm_get "$pm_k" ""
            pm_m=$(cat "/proc/sys/net/ipv4/conf/$SHIM/$pm_k")
            if [ -n "$pm_v" ] && [ "$pm_m" != "$pm_v" ]; then
                echo "$pm_v" > "/proc/sys/net/ipv4/conf/$SHIM/$pm_k"
                pm_note "$SHIM $pm_k=$pm_v (as before)"
            fi
        done
        pm_get up 1
        pm_flags "$SHIM"
        if [ "$pm_v" = 0 ] && pm_has UP; then
            ip link set dev "$SHIM" down
            pm_note "$SHIM down (as before)"
        elif [ "$pm_v" = 1 ] && ! pm_has UP; then
            ip link set dev "$SHIM" up
            pm_note "$SHIM up (as before)"
        fi
    fi
}`,
                check: `    pm_shim_state
    if [ "$pm_ss" = missing ]; then
        pm_add shim-missing
    elif [ "$pm_ss" = other ]; then
        pm_add shim-wrong
    else
        pm_flags "$SHIM"
        if ! pm_has UP; then
            pm_add shim-down
        fi
        if ! pm_has_addr; then
            pm_add addr-missing
        fi
${checkSysctls}
    fi`,
                fragment: `pm_wait_link "$LOWER"
if ! ip link show dev "$SHIM" >/dev/null 2>&1; then
    ip link add link "$LOWER" name "$SHIM" type macvlan mode bridge
fi
${SHIM_SYSCTLS.map(([n, v]) => `echo ${v} > "/proc/sys/net/ipv4/conf/$SHIM/${n}"`).join("\n")}
ip addr replace "$ADDR" dev "$SHIM"
ip link set dev "$SHIM" up`,
            };
        }
        case "route":
            return {
                vars: [
                    ["RLINK", f.link],
                    ["CIDR", f.cidr],
                ],
                helpers: `pm_route_state() {
    pm_ra=$(ip -o -4 route show exact "$CIDR" 2>/dev/null) || pm_ra=""
    pm_ro=$(ip -o -4 route show exact "$CIDR" dev "$RLINK" 2>/dev/null) || pm_ro=""
    if [ -z "$pm_ra" ]; then
        pm_rs=missing
    elif [ -z "$pm_ro" ]; then
        pm_rs=other
    else
        case "$pm_ro" in
            *" via "*) pm_rs=other ;;
            *) pm_rs=ours ;;
        esac
    fi
}`,
                lib: `pm_preflight_feature() {
    pm_need_link "$RLINK" "route link"
    if [ ! -f "$D/prior" ]; then
        pm_route_state
        if [ "$pm_rs" = other ]; then
            pm_pre_fail "a route to $CIDR already exists (\${pm_ra% }): refusing to replace it"
        fi
    fi
}
pm_measure() {
    pm_route_state
    if [ "$pm_rs" = ours ]; then
        echo "existed 1"
    else
        echo "existed 0"
    fi
}
pm_ensure() {
    pm_route_state
    if [ "$pm_rs" != ours ]; then
        ip route replace "$CIDR" dev "$RLINK"
        pm_note "route $CIDR dev $RLINK"
    fi
}
pm_restore() {
    pm_get existed 0
    pm_route_state
    if [ "$pm_v" = 0 ] && [ "$pm_rs" = ours ]; then
        ip route del "$CIDR" dev "$RLINK"
        pm_note "route $CIDR dev $RLINK deleted"
    fi
}`,
                check: `    pm_route_state
    if [ "$pm_rs" = missing ]; then
        pm_add route-missing
    elif [ "$pm_rs" = other ]; then
        pm_add route-wrong
    fi`,
                fragment: `pm_wait_link "$RLINK"
ip route replace "$CIDR" dev "$RLINK"`,
            };
    }
}

/** The exact text of a feature's boot fragment file. */
export function renderBootFragment(host: string, f: HostFeature): string {
    assertHostName("host", host);
    const key = featureKey(f);
    const k = kindShell(f);
    const needsWait = f.kind !== "ipforward";
    return [
        `# pulumi-macvlan boot fragment ${key} of host ${host}. Generated by pulumi-macvlan; removed by destroy; do not edit.`,
        "set -eu",
        ...(k.vars.length > 0 ? [assigns(k.vars)] : []),
        ...(needsWait ? [LIB_IP, FRAG_NEED_IP, FRAG_WAIT] : []),
        k.fragment,
        "",
    ].join("\n");
}

/** A shell function named `name` that prints `text` exactly (text ends with a newline). */
function printer(name: string, text: string): string {
    return `${name}() {\n    cat <<"PM_EOF"\n${text}PM_EOF\n}`;
}

function featureHeader(host: string, f: HostFeature, what: string): string {
    return `# pulumi-macvlan ${featureKey(f)} of host ${host}: ${what}. Generated by pulumi-macvlan; do not edit.`;
}

/** The create/update script: preflight, lock, record prior state once, ensure, boot config, token. */
function createScript(host: string, f: HostFeature, token: string): string {
    const key = featureKey(f);
    const k = kindShell(f);
    return [
        featureHeader(host, f, "ensure (create and update)"),
        PROLOGUE,
        assigns([
            ["H", host],
            ["K", key],
            ["TOKEN", token],
        ]),
        ...(k.vars.length > 0 ? [assigns(k.vars)] : []),
        PATH_VARS,
        `D="$STATE_ROOT/$K"`,
        `FRAGMENT="$BOOT_ROOT/boot.d/"${shq(bootFragmentPath(f).slice(HOST_PATHS.bootDir.length + 1))}`,
        `pm_who="$H $K"`,
        LIB_IP,
        LIB_CORE,
        LIB_LINK,
        LIB_STATE,
        LIB_BOOT_TEXT,
        printer("pm_fragment", renderBootFragment(host, f)),
        ...(k.helpers ? [k.helpers] : []),
        k.lib,
        "pm_preflight",
        "pm_preflight_tools",
        "pm_preflight_feature",
        "pm_lock",
        "pm_begin",
        "pm_record_prior",
        "pm_ensure",
        "pm_boot_install",
        "pm_store_token",
        "pm_done",
        "",
    ].join("\n");
}

/** The delete script: restore what the first create recorded, remove the boot config and the state. */
function deleteScript(host: string, f: HostFeature): string {
    const key = featureKey(f);
    const k = kindShell(f);
    return [
        featureHeader(host, f, "delete (restore the state before the first create)"),
        PROLOGUE,
        assigns([
            ["H", host],
            ["K", key],
        ]),
        ...(k.vars.length > 0 ? [assigns(k.vars)] : []),
        PATH_VARS,
        `D="$STATE_ROOT/$K"`,
        `FRAGMENT="$BOOT_ROOT/boot.d/"${shq(bootFragmentPath(f).slice(HOST_PATHS.bootDir.length + 1))}`,
        `pm_who="$H $K"`,
        LIB_IP,
        LIB_CORE,
        LIB_LINK,
        LIB_STATE,
        ...(k.helpers ? [k.helpers] : []),
        k.lib,
        "pm_preflight",
        "if ! command -v flock >/dev/null 2>&1; then",
        `    pm_pre_fail "flock (util-linux) is not installed"`,
        "fi",
        "pm_lock",
        "pm_begin",
        `if [ -f "$D/prior" ]; then`,
        "    pm_restore",
        "fi",
        "pm_boot_remove",
        "pm_forget",
        "pm_done",
        "",
    ].join("\n");
}

/**
 * The scripts of one feature, each a `/bin/sh -c '<script>'` command (see wrapSh). `token` is the
 * feature's token from the last probe (see renderProbe): it is stored on the host by create/update,
 * so a clean probe prints it back and the command text does not change.
 *
 * create/update: preflight (root, ip, kernel >= 3.9, flock, systemd, the links it builds on, 802.1Q
 * for a VLAN; on failure exit 2 naming host and feature, nothing changed), then under the host
 * lock: record the prior state once, ensure the live state, write the boot config, store the token;
 * prints `pulumi-macvlan <host> <key>: changed (<what>)` or `... unchanged`. Safe to cut off at
 * any point and run again. delete: restores what was recorded (removes only what create made),
 * removes the boot fragment (and the unit/runner with the last one) and the state directory.
 */
export function renderFeature(host: string, f: HostFeature, token: string): RenderedCommand {
    assertHostName("host", host);
    checkFeature(f);
    assertToken("token", token);
    const create = wrapSh(createScript(host, f, token));
    return { create, update: create, delete: wrapSh(deleteScript(host, f)) };
}

/** The preflight alone, as a command: read-only (it may load the 8021q module); exit 2 with a message naming the host. */
export function renderPreflight(spec: PreflightSpec): string {
    const host = assertHostName("host", spec.host);
    const parent = assertIfName("parent", spec.parent);
    if (typeof spec.needsVlan !== "boolean") throw new ShellValueError("needsVlan", spec.needsVlan, "must be a boolean");
    if (typeof spec.needsDocker !== "boolean") throw new ShellValueError("needsDocker", spec.needsDocker, "must be a boolean");
    const docker = `if ! command -v docker >/dev/null 2>&1; then
    pm_pre_fail "docker is not installed (the networks on this host need it)"
fi
pm_to=""
if command -v timeout >/dev/null 2>&1; then
    pm_to="timeout 60"
fi
if ! pm_dv=$($pm_to docker version --format "{{.Server.Version}}" 2>&1); then
    pm_pre_fail "docker is installed but its engine does not answer: $pm_dv"
fi
pm_ok="$pm_ok, Docker Engine $pm_dv"`;
    const script = [
        `# pulumi-macvlan preflight of host ${host}: read-only checks. Generated by pulumi-macvlan; do not edit.`,
        PROLOGUE,
        assigns([
            ["H", host],
            ["PARENT", parent],
        ]),
        `pm_who="$H"`,
        LIB_IP,
        LIB_CORE,
        "pm_preflight",
        "pm_preflight_tools",
        `pm_need_link "$PARENT" "parent NIC"`,
        `pm_ok="Linux $pm_kv, parent NIC $PARENT"`,
        ...(spec.needsVlan ? ["pm_need_8021q", `pm_ok="$pm_ok, 802.1Q"`] : []),
        ...(spec.needsDocker ? [docker] : []),
        `pm_say "preflight ok ($pm_ok)"`,
        "",
    ].join("\n");
    return wrapSh(script);
}

/**
 * A read-only command printing one `<key>=<token>` line per feature, in the order given. The token
 * is the one stored by the last create/update when the live state and the boot config both match
 * the desired state; otherwise `drift:<codes>@<n>`, where codes (comma-separated) say what differs
 * (`new`: no token stored (never applied, or its state was lost); `boot`: the fragment is missing
 * or different; `unit`: the runner, unit or its enabling symlink is; `link-missing`,
 * `promisc-off`, `forward-off`, `vlan-missing|-wrong|-down`, `shim-missing|-wrong|-down`,
 * `addr-missing`, `rp_filter`, `arp_ignore`, `arp_announce`, `route-missing|-wrong`) and n is the
 * cksum of the stored token (of the boot id when none), so the drift token always differs from
 * the stored one, is the same for every probe until something changes (preview and up agree), and
 * does not grow from one drift to the next.
 */
export function renderProbe(host: string, features: readonly HostFeature[]): string {
    assertHostName("host", host);
    const keys = new Set<string>();
    for (const f of features) {
        const key = featureKey(f);
        if (keys.has(key)) throw new ShellValueError("features", key, "appears twice");
        keys.add(key);
    }
    const kinds = [...new Set(features.map((f) => f.kind))];
    const blocks = features.map((f, i) => {
        const k = kindShell(f);
        const body = [
            `# ${featureKey(f)}`,
            ...(k.vars.length > 0 ? [assigns(k.vars)] : []),
            printer(`pm_frag_${i}`, renderBootFragment(host, f)),
            `pm_d=""`,
            `pm_check_${f.kind}`,
            `if ! pm_same ${shq(bootFragmentPath(f))} pm_frag_${i}; then`,
            "    pm_add boot",
            "fi",
            `pm_emit ${shq(featureKey(f))} "$pm_d"`,
        ];
        return body.join("\n");
    });
    // Each kind's state helpers and its check, as pm_check_<kind>.
    const checks = kinds.map((kind) => {
        const k = kindShell(features.find((f) => f.kind === kind) as HostFeature);
        return [...(k.helpers ? [k.helpers] : []), `pm_check_${kind}() {\n${k.check}\n}`].join("\n");
    });
    const script = [
        `# pulumi-macvlan drift probe of host ${host}: read-only; prints one key=token line per feature. Generated by pulumi-macvlan; do not edit.`,
        "set -u",
        "LC_ALL=C",
        "export LC_ALL",
        `PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"`,
        assigns([["H", host]]),
        PATH_VARS,
        LIB_IP,
        LIB_LINK,
        LIB_BOOT_TEXT,
        `pm_add() {
    pm_d="\${pm_d:+$pm_d,}$1"
}
pm_infra=""
if ! pm_same "$RUNNER" pm_runner || ! pm_same "$UNIT" pm_unit || [ ! -L "$WANTS_LINK" ] || [ ! -e "$WANTS_LINK" ]; then
    pm_infra=unit
fi
pm_emit() {
    pm_t=""
    if [ -f "$STATE_ROOT/$1/token" ]; then
        read -r pm_t < "$STATE_ROOT/$1/token" || :
    fi
    case "$pm_t" in
        [A-Za-z0-9]*) ;;
        *) pm_t="" ;;
    esac
    case "$pm_t" in
        *[!A-Za-z0-9:@._,=+-]*) pm_t="" ;;
    esac
    if [ "\${#pm_t}" -gt 200 ]; then
        pm_t=""
    fi
    pm_w=$2
    if [ -z "$pm_t" ]; then
        pm_w="new\${pm_w:+,$pm_w}"
    fi
    if [ -n "$pm_infra" ]; then
        pm_w="\${pm_w:+$pm_w,}$pm_infra"
    fi
    if [ -z "$pm_w" ]; then
        echo "$1=$pm_t"
        return 0
    fi
    pm_seed=$pm_t
    if [ -z "$pm_seed" ]; then
        pm_seed=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null) || pm_seed=none
    fi
    pm_h=$(printf "%s" "$pm_seed" | cksum)
    echo "$1=drift:$pm_w@\${pm_h%% *}"
}`,
        ...checks,
        ...blocks,
        "",
    ].join("\n");
    return wrapSh(script);
}

/**
 * The probe's `<key>=<token>` lines as a map. Lines that do not start with a feature key and `=`
 * (a login banner, a shell rc file's chatter) are ignored; a key line with a malformed token, or a
 * key seen twice, is an error.
 */
export function parseProbeOutput(stdout: string): ReadonlyMap<string, string> {
    const out = new Map<string, string>();
    for (const raw of stdout.split("\n")) {
        const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
        const eq = line.indexOf("=");
        if (eq < 0) continue;
        const key = line.slice(0, eq);
        if (!FEATURE_KEY_RE.test(key)) continue;
        const token = line.slice(eq + 1);
        if (!TOKEN_RE.test(token) || (token.startsWith("drift:") && !DRIFT_TOKEN_RE.test(token))) {
            throw new Error(`probe output: ${key} has a malformed token ${JSON.stringify(token)}`);
        }
        if (out.has(key)) throw new Error(`probe output: ${key} appears twice`);
        out.set(key, token);
    }
    return out;
}
