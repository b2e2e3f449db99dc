# shellcheck shell=sh
# The shell of the ipforward host feature kind, read by ipforward.ts (format: ../shellFiles.ts). Each
# "#@ <part>" line starts a part; this header and the "#@" lines are not rendered.
#
# net.ipv4.ip_forward=1. Its restore also puts back the per-link forwarding and accept_redirects
# values that writing ip_forward resets.
# Values (set before this by the renderer): none.

#@ lib: pm_preflight_feature, pm_measure (prints the prior state), pm_ensure, pm_restore
pm_preflight_feature() {
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
        pm_c=${pm_c##*/}
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
}

#@ check: the probe's drift check: pm_add <code> for each thing that differs from the desired state
pm_check_ipforward() {
    pm_m=$(cat /proc/sys/net/ipv4/ip_forward)
    if [ "$pm_m" != 1 ]; then
        pm_add forward-off
    fi
}

#@ boot: the boot fragment's body, after its header and values
echo 1 > /proc/sys/net/ipv4/ip_forward
