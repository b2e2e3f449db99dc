# shellcheck shell=sh
# The drift probe's own shell (renderProbe). Each "#@ <part>" line starts a part; this header and
# the "#@" lines are not rendered (format: ../shellFiles.ts).
#
# pm_emit KEY CODES prints KEY=<stored token> when CODES is empty and the token is sane, else
# KEY=drift:<codes>@<cksum of the stored token, or of the boot id when none>.

#@ prologue: no set -e (a read that fails is drift, not the end of the probe)
set -u
LC_ALL=C
export LC_ALL
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

#@ lib: pm_add, pm_infra (runner and unit as installed?) and pm_emit; needs link.sh, pm_runner, pm_unit
pm_add() {
    pm_d="${pm_d:+$pm_d,}$1"
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
    if [ "${#pm_t}" -gt 200 ]; then
        pm_t=""
    fi
    pm_w=$2
    if [ -z "$pm_t" ]; then
        pm_w="new${pm_w:+,$pm_w}"
    fi
    if [ -n "$pm_infra" ]; then
        pm_w="${pm_w:+$pm_w,}$pm_infra"
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
    echo "$1=drift:$pm_w@${pm_h%% *}"
}

#@ facts: the host's own facts for the program's checks (after every feature line): pm_machine_id prints @machine-id=<32 hex> when /etc/machine-id holds one (else nothing); pm_addrs LINK prints @addr=LINK <address>/<len> for each IPv4 address and each global IPv6 address on LINK (nothing when LINK does not exist); pm_parent LINK prints @parent=LINK mtu=<n> state=<operstate>, or @parent=LINK absent (nothing without iproute2); pm_parent_driver LINK prints @parent-driver=LINK <driver> when sysfs names the kernel driver of LINK's device (nothing for a link with no device: a bond, a bridge, a VLAN); pm_virt prints @virt=<name> when systemd-detect-virt --vm names a hypervisor (nothing on bare metal or without it); pm_docker prints @docker=<engine version> <API version> when the engine answers within 10 s (else nothing)
pm_machine_id() {
    pm_m=""
    if [ -r /etc/machine-id ]; then
        read -r pm_m < /etc/machine-id || :
    fi
    case "$pm_m" in
        *[!0-9a-f]*) pm_m="" ;;
    esac
    if [ "${#pm_m}" -eq 32 ]; then
        echo "@machine-id=$pm_m"
    fi
}
pm_addrs() {
    ip -o addr show dev "$1" 2>/dev/null | while read -r _ _ pm_fam pm_a pm_rest; do
        case "$pm_fam" in
            inet)
                case "$pm_a" in
                    *[!0-9./]*) continue ;;
                    */*) ;;
                    *) pm_a="$pm_a/32" ;;
                esac
                ;;
            inet6)
                case "$pm_rest" in
                    "scope global"*) ;;
                    *) continue ;;
                esac
                case "$pm_a" in
                    *[!0-9a-f:./]*) continue ;;
                    */*) ;;
                    *) pm_a="$pm_a/128" ;;
                esac
                ;;
            *) continue ;;
        esac
        echo "@addr=$1 $pm_a"
    done
}
pm_parent() {
    if ! command -v ip >/dev/null 2>&1; then
        return 0
    fi
    if ! pm_l=$(ip -o link show dev "$1" 2>/dev/null) || [ -z "$pm_l" ]; then
        echo "@parent=$1 absent"
        return 0
    fi
    pm_mtu=""
    pm_st=""
    pm_prev=""
    set -f
    for pm_w in $pm_l; do
        case "$pm_prev" in
            mtu) pm_mtu=$pm_w ;;
            state) pm_st=$pm_w ;;
        esac
        pm_prev=$pm_w
    done
    set +f
    case "$pm_mtu" in
        "" | *[!0-9]*) return 0 ;;
    esac
    case "$pm_st" in
        "" | *[!A-Z]*) return 0 ;;
    esac
    if [ "${#pm_mtu}" -gt 6 ] || [ "${#pm_st}" -gt 16 ]; then
        return 0
    fi
    echo "@parent=$1 mtu=$pm_mtu state=$pm_st"
}
pm_parent_driver() {
    pm_dr=$(cd -P "/sys/class/net/$1/device/driver" 2>/dev/null && pwd -P) || return 0
    pm_dr=${pm_dr##*/}
    case "$pm_dr" in
        "" | *[!A-Za-z0-9_-]*) return 0 ;;
    esac
    if [ "${#pm_dr}" -gt 32 ]; then
        return 0
    fi
    echo "@parent-driver=$1 $pm_dr"
}
pm_virt() {
    if ! command -v systemd-detect-virt >/dev/null 2>&1; then
        return 0
    fi
    pm_vm=$(systemd-detect-virt --vm 2>/dev/null </dev/null) || return 0
    case "$pm_vm" in
        "" | none | *[!a-z0-9_-]*) return 0 ;;
    esac
    if [ "${#pm_vm}" -gt 32 ]; then
        return 0
    fi
    echo "@virt=$pm_vm"
}
pm_docker() {
    if ! command -v docker >/dev/null 2>&1 || ! command -v timeout >/dev/null 2>&1; then
        return 0
    fi
    pm_v=$(timeout 10 docker version --format "{{.Server.Version}} {{.Server.APIVersion}}" 2>/dev/null </dev/null) || return 0
    case "$pm_v" in
        *" "*) ;;
        *) return 0 ;;
    esac
    pm_ver=${pm_v%% *}
    pm_api=${pm_v#* }
    case "$pm_ver" in
        *[!0-9A-Za-z.+~-]*) return 0 ;;
        [0-9]*.[0-9]*) ;;
        *) return 0 ;;
    esac
    case "$pm_api" in
        *[!0-9.]*) return 0 ;;
        [0-9]*.[0-9]*) ;;
        *) return 0 ;;
    esac
    if [ "${#pm_ver}" -gt 64 ] || [ "${#pm_api}" -gt 12 ]; then
        return 0
    fi
    echo "@docker=$pm_ver $pm_api"
}
