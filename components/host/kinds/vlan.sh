# shellcheck shell=sh
# The shell of the vlan host feature kind, read by vlan.ts (format: ../shellFiles.ts). Each
# "#@ <part>" line starts a part; this header and the "#@" lines are not rendered.
#
# An 802.1Q sub-interface $VLINK (id $VID) of $PARENT, up.
# Values (set before this by the renderer): PARENT, VID, VLINK.

#@ helpers: functions reading the live state, used by the scripts and by the probe
pm_vlan_state() {
    if pm_line=$(ip -d -o link show dev "$VLINK" 2>/dev/null); then
        case "$pm_line" in
            *": $VLINK@$PARENT: "*" vlan protocol 802.1Q id $VID "*) pm_vs=ours ;;
            *) pm_vs=other ;;
        esac
    else
        pm_vs=missing
    fi
}

#@ lib: pm_preflight_feature, pm_measure (prints the prior state), pm_ensure, pm_restore
pm_preflight_feature() {
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
    pm_ensure_up "$VLINK"
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
        pm_restore_up "$VLINK"
    fi
}

#@ check: the probe's drift check: pm_add <code> for each thing that differs from the desired state
pm_check_vlan() {
    pm_vlan_state
    if [ "$pm_vs" = missing ]; then
        pm_add vlan-missing
    elif [ "$pm_vs" = other ]; then
        pm_add vlan-wrong
    else
        pm_flags "$VLINK"
        if ! pm_has UP; then
            pm_add vlan-down
        fi
    fi
}

#@ boot: the boot fragment's body, after its header and values
if [ ! -d /proc/net/vlan ]; then
    modprobe 8021q || :
fi
pm_wait_link "$PARENT"
if ! ip link show dev "$VLINK" >/dev/null 2>&1; then
    ip link add link "$PARENT" name "$VLINK" type vlan id "$VID"
fi
ip link set dev "$VLINK" up
