/**
 * The shell of each kind of host feature: how it reads the live state, records the prior state,
 * ensures, restores, checks for drift and restores itself at boot. Text only, assembled by
 * hostScripts.ts; pure, no resource imports.
 */
import { SHIM_SYSCTLS, type HostFeature } from "./features";

/** Per-kind shell: variables, a library (state, measure, ensure, restore, check) and the boot fragment body. */
export interface KindShell {
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

export function kindShell(f: HostFeature): KindShell {
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
    if pm_y=$(cat "$1" 2>/dev/null) && [ "$pm_y" != "$2" ]; then
        echo "$2" > "$1" 2>/dev/null || :
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
                if pm_m=$(cat "/proc/sys/net/ipv4/conf/$pm_c/forwarding" 2>/dev/null); then
                    echo "forwarding $pm_c $pm_m"
                fi
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
        : > "$D/restoring"
        echo "$pm_v" > /proc/sys/net/ipv4/ip_forward
        pm_note "net.ipv4.ip_forward=$pm_v (as before)"
    fi
    # Writing ip_forward also resets conf/all/accept_redirects, conf/default/forwarding and every
    # conf/<link>/forwarding: put back what was recorded. The marker makes a run cut off after the
    # write finish this part (pm_forget removes it with the state).
    if [ -f "$D/restoring" ]; then
        while read -r pm_n pm_a pm_b; do
            case "$pm_n" in
                all_accept_redirects) pm_set /proc/sys/net/ipv4/conf/all/accept_redirects "$pm_a" ;;
                default_forwarding) pm_set /proc/sys/net/ipv4/conf/default/forwarding "$pm_a" ;;
                forwarding) pm_set "/proc/sys/net/ipv4/conf/$pm_a/forwarding" "$pm_b" ;;
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
        for pm_k in ${sysctlNames}; do
            pm_get "$pm_k" ""
            pm_m=$(cat "/proc/sys/net/ipv4/conf/$SHIM/$pm_k")
            if [ -n "$pm_v" ] && [ "$pm_m" != "$pm_v" ]; then
                echo "$pm_v" > "/proc/sys/net/ipv4/conf/$SHIM/$pm_k"
                pm_note "$SHIM $pm_k=$pm_v (as before)"
            fi
        done
        pm_restore_up "$SHIM"
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
