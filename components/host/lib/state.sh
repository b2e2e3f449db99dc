# shellcheck shell=sh
# State, atomic files, the lock, boot config, a link brought up or put back up or down.
# Needs the path variables, K, D, FRAGMENT, link.sh, pm_measure, pm_runner, pm_unit and pm_fragment.
# The marker .pulumi-macvlan-created is HOST_PATHS.createdMarker (a unit test checks they agree).

pm_lock() {
    pm_tries=0
    while :; do
        exec 9>>"$LOCK"
        if ! flock -w 600 9; then
            pm_fail "timed out after 600 s waiting for $LOCK"
        fi
        if [ "$LOCK" -ef "/proc/$$/fd/9" ]; then
            return 0
        fi
        exec 9>&-
        pm_tries=$((pm_tries + 1))
        if [ "$pm_tries" -gt 50 ]; then
            pm_fail "$LOCK keeps being replaced while waiting for it"
        fi
    done
}
pm_ensure_up() {
    pm_flags "$1"
    if ! pm_has UP; then
        ip link set dev "$1" up
        pm_note "$1 up"
    fi
}
pm_restore_up() {
    pm_get up 1
    pm_flags "$1"
    if [ "$pm_v" = 0 ] && pm_has UP; then
        ip link set dev "$1" down
        pm_note "$1 down (as before)"
    elif [ "$pm_v" = 1 ] && ! pm_has UP; then
        ip link set dev "$1" up
        pm_note "$1 up (as before)"
    fi
}
pm_unlock_last() {
    pm_left=0
    if [ -d "$STATE_ROOT" ]; then
        for pm_e in "$STATE_ROOT"/*; do
            if [ -d "$pm_e" ]; then
                pm_left=1
            fi
        done
    fi
    if [ "$pm_left" = 0 ] && [ -e "$LOCK" ]; then
        rm -f "$LOCK"
    fi
}
pm_begin() {
    rm -rf "$STATE_ROOT.pm-new" "$STATE_ROOT.pm-old" "$BOOT_ROOT.pm-new" "$BOOT_ROOT.pm-old" "$WANTS.pm-new" "$D.pm-old"
    rm -f "$RUNNER.pm-tmp" "$UNIT.pm-tmp" "$FRAGMENT.pm-tmp" "$D/prior.pm-tmp" "$D/token.pm-tmp" "$D/owners.pm-tmp"
}
pm_root() {
    if [ ! -d "$1" ]; then
        rm -rf "$1.pm-new"
        mkdir -p "$1.pm-new"
        : > "$1.pm-new/.pulumi-macvlan-created"
        mv "$1.pm-new" "$1"
    fi
}
pm_only_marker() {
    [ -f "$1/.pulumi-macvlan-created" ] && [ "$(ls -A "$1")" = ".pulumi-macvlan-created" ]
}
pm_unroot() {
    if pm_only_marker "$1"; then
        mv "$1" "$1.pm-old"
        rm -rf "$1.pm-old"
    fi
}
pm_unroot_shared() {
    if pm_only_marker "$1"; then
        rm -f "$1/.pulumi-macvlan-created"
        rmdir "$1" 2>/dev/null || :
    fi
}
pm_install() {
    pm_wrote=0
    if [ ! -f "$1" ] || [ -L "$1" ] || [ "$(cat "$1"; echo x)" != "$($3; echo x)" ]; then
        $3 > "$1.pm-tmp"
        chmod "$2" "$1.pm-tmp"
        mv -f "$1.pm-tmp" "$1"
        pm_wrote=1
    fi
}
pm_get() {
    pm_v=$2
    if [ -f "$D/prior" ]; then
        while read -r pm_n pm_x; do
            if [ "$pm_n" = "$1" ]; then
                pm_v=$pm_x
            fi
        done < "$D/prior"
    fi
}
pm_record_prior() {
    pm_root "$STATE_ROOT"
    mkdir -p "$D"
    if [ ! -f "$D/prior" ]; then
        pm_measure > "$D/prior.pm-tmp"
        mv -f "$D/prior.pm-tmp" "$D/prior"
        pm_note "prior state recorded"
    fi
}
pm_owned_by() {
    if [ -f "$D/owners" ]; then
        while read -r pm_o; do
            if [ "$pm_o" = "$1" ]; then
                return 0
            fi
        done < "$D/owners"
    fi
    return 1
}
pm_own() {
    if ! pm_owned_by "$H"; then
        pm_shared=0
        if [ -s "$D/owners" ]; then
            pm_shared=1
        fi
        {
            if [ -f "$D/owners" ]; then
                cat "$D/owners"
            fi
            echo "$H"
        } > "$D/owners.pm-tmp"
        mv -f "$D/owners.pm-tmp" "$D/owners"
        if [ "$pm_shared" = 1 ]; then
            pm_note "now also owned by host $H"
        fi
    fi
}
pm_disown() {
    pm_others=""
    if [ -f "$D/owners" ]; then
        : > "$D/owners.pm-tmp"
        while read -r pm_o; do
            if [ -n "$pm_o" ] && [ "$pm_o" != "$H" ]; then
                echo "$pm_o" >> "$D/owners.pm-tmp"
                pm_others="${pm_others:+$pm_others, }$pm_o"
            fi
        done < "$D/owners"
        mv -f "$D/owners.pm-tmp" "$D/owners"
    fi
}
pm_store_token() {
    pm_t=""
    if [ -f "$D/token" ]; then
        read -r pm_t < "$D/token" || :
    fi
    if [ "$pm_t" != "$TOKEN" ]; then
        echo "$TOKEN" > "$D/token.pm-tmp"
        mv -f "$D/token.pm-tmp" "$D/token"
        pm_note "token $TOKEN stored"
    fi
}
pm_forget() {
    if [ -d "$D" ]; then
        mv "$D" "$D.pm-old"
    fi
    rm -rf "$D.pm-old"
    pm_unroot "$STATE_ROOT"
}
pm_daemon_reload() {
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload
    fi
}
pm_boot_install() {
    pm_root "$BOOT_ROOT"
    mkdir -p "$BOOT_ROOT/boot.d"
    pm_install "$RUNNER" 755 pm_runner
    if [ "$pm_wrote" = 1 ]; then
        pm_note "boot runner $RUNNER written"
    fi
    pm_sd=0
    pm_root "$WANTS"
    pm_install "$UNIT" 644 pm_unit
    if [ "$pm_wrote" = 1 ]; then
        pm_sd=1
        pm_note "unit $UNIT written"
    fi
    if [ ! -L "$WANTS_LINK" ]; then
        rm -f "$WANTS_LINK"
        ln -s "$UNIT" "$WANTS_LINK"
        pm_sd=1
        pm_note "unit enabled"
    fi
    if [ "$pm_sd" = 1 ]; then
        pm_daemon_reload
    fi
    pm_install "$FRAGMENT" 644 pm_fragment
    if [ "$pm_wrote" = 1 ]; then
        pm_note "boot config $FRAGMENT written"
    fi
}
pm_boot_remove() {
    rm -f "$FRAGMENT.pm-tmp"
    if [ -e "$FRAGMENT" ]; then
        rm -f "$FRAGMENT"
        pm_note "boot config $FRAGMENT removed"
    fi
    pm_more=0
    for pm_f in "$BOOT_ROOT/boot.d/"*.sh; do
        if [ -e "$pm_f" ]; then
            pm_more=1
        fi
    done
    if [ "$pm_more" = 0 ]; then
        pm_sd=0
        if [ -L "$WANTS_LINK" ]; then
            rm -f "$WANTS_LINK"
            pm_sd=1
        fi
        if [ -e "$UNIT" ]; then
            rm -f "$UNIT"
            pm_sd=1
        fi
        rm -f "$UNIT.pm-tmp"
        if [ "$pm_sd" = 1 ]; then
            pm_note "unit $UNIT removed"
            pm_daemon_reload
        fi
        pm_unroot_shared "$WANTS"
        rm -f "$RUNNER" "$RUNNER.pm-tmp"
        if [ -d "$BOOT_ROOT/boot.d" ]; then
            rmdir "$BOOT_ROOT/boot.d" 2>/dev/null || :
        fi
        pm_unroot "$BOOT_ROOT"
    fi
}
