# shellcheck shell=sh
# The shell of the promisc host feature kind, read by promisc.ts (format: ../shellFiles.ts). Each
# "#@ <part>" line starts a part; this header and the "#@" lines are not rendered.
#
# Promiscuous mode on the parent NIC ($PARENT), so the macvlan children's MACs are received.
# Values (set before this by the renderer): PARENT.

#@ lib: pm_preflight_feature, pm_measure (prints the prior state), pm_ensure, pm_restore
pm_preflight_feature() {
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
}

#@ check: the probe's drift check: pm_add <code> for each thing that differs from the desired state
pm_check_promisc() {
    pm_flags "$PARENT"
    if [ -z "$pm_fl" ]; then
        pm_add link-missing
    elif ! pm_has PROMISC; then
        pm_add promisc-off
    fi
}

#@ boot: the boot fragment's body, after its header and values
pm_wait_link "$PARENT"
ip link set dev "$PARENT" promisc on
