# shellcheck shell=sh
# Messages and preflight checks. Needs pm_who and ip.sh.

pm_say() {
    echo "pulumi-macvlan $pm_who: $*"
}
pm_fail() {
    echo "pulumi-macvlan $pm_who: error: $*" >&2
    pm_told=1
    exit 1
}
pm_pre_fail() {
    if [ -n "$pm_changes" ]; then
        echo "pulumi-macvlan $pm_who: preflight failed: $*; nothing else was changed ($pm_changes)" >&2
    else
        echo "pulumi-macvlan $pm_who: preflight failed: $*; nothing was changed" >&2
    fi
    pm_told=1
    exit 2
}
pm_told=0
pm_on_exit() {
    pm_rc=$?
    trap - EXIT
    if [ "$pm_rc" != 0 ]; then
        # The connection may be gone: a write to it must not end this trap (SIGPIPE ignored).
        trap '' PIPE
        if [ "$pm_told" = 0 ]; then
            echo "pulumi-macvlan $pm_who: error: a command above failed (exit status $pm_rc); running this again finishes the job" >&2 || :
        fi
        # state.sh defines pm_on_failure: a failed create undoes its own work.
        if command -v pm_on_failure >/dev/null 2>&1; then
            pm_on_failure || :
        fi
    fi
    exit "$pm_rc"
}
trap pm_on_exit EXIT
# A dropped SSH connection or a stopped run ends the script through its EXIT trap.
trap 'pm_told=1; exit 129' HUP
trap 'pm_told=1; exit 130' INT
trap 'pm_told=1; exit 141' PIPE
trap 'pm_told=1; exit 143' TERM
pm_changes=""
pm_note() {
    pm_changes="${pm_changes:+$pm_changes, }$*"
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
    pm_kmaj=${pm_kv%%.*}
    pm_kmin=${pm_kv#*.}
    pm_kmin=${pm_kmin%%[!0-9]*}
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
}
