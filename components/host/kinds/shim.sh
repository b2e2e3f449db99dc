# shellcheck shell=sh
# The shell of the shim host feature kind, read by shim.ts (format: ../shellFiles.ts). Each
# "#@ <part>" line starts a part; this header and the "#@" lines are not rendered.
#
# The shim: a bridge-mode macvlan link $SHIM on $LOWER holding $ADDR, so the host reaches its
# own containers. Its sysctls (rp_filter=2, arp_ignore=1, arp_announce=2) are written out in
# pm_measure, pm_ensure, pm_restore, the check and the boot fragment; SHIM_SYSCTLS in shim.ts is
# read from the boot fragment's echo lines.
# Values (set before this by the renderer): LOWER, SHIM, ADDR.

#@ helpers: functions reading the live state, used by the scripts and by the probe
pm_shim_state() {
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
}

#@ lib: pm_preflight_feature, pm_measure (prints the prior state), pm_ensure, pm_restore
pm_preflight_feature() {
    pm_need_link "$LOWER" "lower link"
    pm_shim_state
    if [ "$pm_ss" = other ]; then
        pm_pre_fail "link $SHIM exists but is not a bridge-mode macvlan on $LOWER: refusing to touch it"
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
        for pm_k in rp_filter arp_ignore arp_announce; do
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
    pm_m=$(cat "/proc/sys/net/ipv4/conf/$SHIM/rp_filter")
    if [ "$pm_m" != 2 ]; then
        echo 2 > "/proc/sys/net/ipv4/conf/$SHIM/rp_filter"
        pm_note "$SHIM rp_filter=2"
    fi
    pm_m=$(cat "/proc/sys/net/ipv4/conf/$SHIM/arp_ignore")
    if [ "$pm_m" != 1 ]; then
        echo 1 > "/proc/sys/net/ipv4/conf/$SHIM/arp_ignore"
        pm_note "$SHIM arp_ignore=1"
    fi
    pm_m=$(cat "/proc/sys/net/ipv4/conf/$SHIM/arp_announce")
    if [ "$pm_m" != 2 ]; then
        echo 2 > "/proc/sys/net/ipv4/conf/$SHIM/arp_announce"
        pm_note "$SHIM arp_announce=2"
    fi
    if ! pm_has_addr; then
        ip addr add "$ADDR" dev "$SHIM"
        pm_note "address $ADDR on $SHIM"
    fi
    pm_ensure_up "$SHIM"
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
        for pm_k in rp_filter arp_ignore arp_announce; do
            pm_get "$pm_k" ""
            pm_m=$(cat "/proc/sys/net/ipv4/conf/$SHIM/$pm_k")
            if [ -n "$pm_v" ] && [ "$pm_m" != "$pm_v" ]; then
                echo "$pm_v" > "/proc/sys/net/ipv4/conf/$SHIM/$pm_k"
                pm_note "$SHIM $pm_k=$pm_v (as before)"
            fi
        done
        pm_restore_up "$SHIM"
    fi
}

#@ check: the probe's drift check: pm_add <code> for each thing that differs from the desired state
pm_check_shim() {
    pm_shim_state
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
        pm_m=$(cat "/proc/sys/net/ipv4/conf/$SHIM/rp_filter")
        if [ "$pm_m" != 2 ]; then
            pm_add rp_filter
        fi
        pm_m=$(cat "/proc/sys/net/ipv4/conf/$SHIM/arp_ignore")
        if [ "$pm_m" != 1 ]; then
            pm_add arp_ignore
        fi
        pm_m=$(cat "/proc/sys/net/ipv4/conf/$SHIM/arp_announce")
        if [ "$pm_m" != 2 ]; then
            pm_add arp_announce
        fi
    fi
}

#@ boot: the boot fragment's body, after its header and values
pm_wait_link "$LOWER"
if ! ip link show dev "$SHIM" >/dev/null 2>&1; then
    ip link add link "$LOWER" name "$SHIM" type macvlan mode bridge
fi
echo 2 > "/proc/sys/net/ipv4/conf/$SHIM/rp_filter"
echo 1 > "/proc/sys/net/ipv4/conf/$SHIM/arp_ignore"
echo 2 > "/proc/sys/net/ipv4/conf/$SHIM/arp_announce"
ip addr replace "$ADDR" dev "$SHIM"
ip link set dev "$SHIM" up
