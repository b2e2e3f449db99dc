/**
 * The shared POSIX-sh library of the host scripts: the prologue, finding iproute2's `ip`,
 * messages and preflight checks, reading links, state files, the host lock, the boot runner and
 * unit. Text only, assembled by hostScripts.ts; pure, no resource imports.
 */
import { HOST_PATHS } from "./features";
import { shq } from "./shell";

// ---------------------------------------------------------------------------------------------
// Shell text. Rules for everything below: POSIX sh only; no backslash anywhere (wrapSh refuses
// it, for fish); a value reaches the text only through `shq` after a strict check; helpers used
// in `if`/`&&` context never rely on `set -e` (it is off there), helpers called as plain commands
// fail loudly under it.
// ---------------------------------------------------------------------------------------------

/** `NAME='value'` lines; the only place values enter a script. */
export function assigns(vars: readonly (readonly [string, string])[]): string {
    return vars.map(([k, v]) => `${k}=${shq(v)}`).join("\n");
}

export const PROLOGUE = `set -eu
umask 022
LC_ALL=C
export LC_ALL
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"`;

/** Fixed paths (constants of this module, not config values: plain double quotes suffice). */
export const PATH_VARS = [
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
export const LIB_IP = `pm_find_ip() {
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
export const LIB_CORE = `pm_say() {
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
pm_need_flock() {
    case "$(flock --version 2>&1 || :)" in
        *util-linux*) ;;
        *) pm_pre_fail "flock from util-linux is not installed (the host lock needs its -w timeout)" ;;
    esac
}
pm_preflight_tools() {
    pm_need_flock
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
export const LIB_LINK = `pm_flags() {
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

/** State, atomic files, the lock, boot config, a link brought up or put back up or down. Needs PATH_VARS, K, D, FRAGMENT, LIB_LINK, pm_measure, pm_fragment. */
export const LIB_STATE = `pm_lock() {
    pm_tries=0
    while :; do
        exec 9>>"$LOCK"
        if ! flock -w 600 9; then
            pm_fail "timed out after 600 s waiting for $LOCK"
        fi
        if [ "$LOCK" -ef "/proc/$$/fd/9" ]; then
            return 0
        fi
        exec 9>&-
        pm_tries=$((pm_tries + 1))
        if [ "$pm_tries" -gt 50 ]; then
            pm_fail "$LOCK keeps being replaced while waiting for it"
        fi
    done
}
pm_ensure_up() {
    pm_flags "$1"
    if ! pm_has UP; then
        ip link set dev "$1" up
        pm_note "$1 up"
    fi
}
pm_restore_up() {
    pm_get up 1
    pm_flags "$1"
    if [ "$pm_v" = 0 ] && pm_has UP; then
        ip link set dev "$1" down
        pm_note "$1 down (as before)"
    elif [ "$pm_v" = 1 ] && ! pm_has UP; then
        ip link set dev "$1" up
        pm_note "$1 up (as before)"
    fi
}
pm_unlock_last() {
    pm_left=0
    if [ -d "$STATE_ROOT" ]; then
        for pm_e in "$STATE_ROOT"/*; do
            if [ -d "$pm_e" ]; then
                pm_left=1
            fi
        done
    fi
    if [ "$pm_left" = 0 ] && [ -e "$LOCK" ]; then
        rm -f "$LOCK"
    fi
}
pm_begin() {
    rm -rf "$STATE_ROOT.pm-new" "$STATE_ROOT.pm-old" "$BOOT_ROOT.pm-new" "$BOOT_ROOT.pm-old" "$WANTS.pm-new" "$D.pm-old"
    rm -f "$RUNNER.pm-tmp" "$UNIT.pm-tmp" "$FRAGMENT.pm-tmp" "$D/prior.pm-tmp" "$D/token.pm-tmp" "$D/owners.pm-tmp"
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
pm_owned_by() {
    if [ -f "$D/owners" ]; then
        while read -r pm_o; do
            if [ "$pm_o" = "$1" ]; then
                return 0
            fi
        done < "$D/owners"
    fi
    return 1
}
pm_own() {
    if ! pm_owned_by "$H"; then
        pm_shared=0
        if [ -s "$D/owners" ]; then
            pm_shared=1
        fi
        {
            if [ -f "$D/owners" ]; then
                cat "$D/owners"
            fi
            echo "$H"
        } > "$D/owners.pm-tmp"
        mv -f "$D/owners.pm-tmp" "$D/owners"
        if [ "$pm_shared" = 1 ]; then
            pm_note "now also owned by host $H"
        fi
    fi
}
pm_disown() {
    pm_others=""
    if [ -f "$D/owners" ]; then
        : > "$D/owners.pm-tmp"
        while read -r pm_o; do
            if [ -n "$pm_o" ] && [ "$pm_o" != "$H" ]; then
                echo "$pm_o" >> "$D/owners.pm-tmp"
                pm_others="\${pm_others:+$pm_others, }$pm_o"
            fi
        done < "$D/owners"
        mv -f "$D/owners.pm-tmp" "$D/owners"
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

export const FRAG_NEED_IP = `if [ -z "$pm_ip" ]; then
    echo "pulumi-macvlan boot: iproute2 is not installed" >&2
    exit 1
fi`;

/** Boot-time waiting for a link (fragments run early; a NIC or the shim may still be coming). */
export const FRAG_WAIT = `pm_wait_link() {
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
export const LIB_BOOT_TEXT = `pm_runner() {
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

/** A shell function named `name` that prints `text` exactly (text ends with a newline). */
export function printer(name: string, text: string): string {
    return `${name}() {\n    cat <<"PM_EOF"\n${text}PM_EOF\n}`;
}
