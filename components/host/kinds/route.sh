# shellcheck shell=sh
# The shell of the route host feature kind, read by route.ts (format: ../shellFiles.ts). Each
# "#@ <part>" line starts a part; this header and the "#@" lines are not rendered.
#
# A route to $CIDR over the shim link $RLINK (dev route, no gateway).
# Values (set before this by the renderer): RLINK, CIDR.

#@ helpers: functions reading the live state, used by the scripts and by the probe
pm_route_state() {
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
}

#@ lib: pm_preflight_feature, pm_measure (prints the prior state), pm_ensure, pm_restore
pm_preflight_feature() {
    pm_need_link "$RLINK" "route link"
    if [ ! -f "$D/prior" ]; then
        pm_route_state
        if [ "$pm_rs" = other ]; then
            pm_pre_fail "a route to $CIDR already exists (${pm_ra% }): refusing to replace it"
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
}

#@ check: the probe's drift check: pm_add <code> for each thing that differs from the desired state
pm_check_route() {
    pm_route_state
    if [ "$pm_rs" = missing ]; then
        pm_add route-missing
    elif [ "$pm_rs" = other ]; then
        pm_add route-wrong
    fi
}

#@ boot: the boot fragment's body, after its header and values
pm_wait_link "$RLINK"
ip route replace "$CIDR" dev "$RLINK"
