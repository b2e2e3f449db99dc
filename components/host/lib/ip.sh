# shellcheck shell=sh
# `ip` is iproute2's, found on PATH by asking each candidate for its version: a busybox shell may
# run its own `ip` applet for a plain `ip` (Debian's busybox does), and busybox ip silently ignores
# what it does not know (a macvlan comes out in vepa mode). The function `ip` then calls it.

pm_find_ip() {
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
pm_find_ip
