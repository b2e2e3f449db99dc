# shellcheck shell=sh
# Reading links: pm_flags sets pm_fl to ",FLAG,FLAG," of a link (empty when it does not exist);
# pm_has FLAG tests it. pm_same FILE FUNC: FILE holds exactly what FUNC prints.

pm_flags() {
    pm_fl=""
    if pm_line=$(ip -o link show dev "$1" 2>/dev/null); then
        pm_fl=${pm_line#*<}
        pm_fl=",${pm_fl%%>*},"
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
}
