# shellcheck shell=sh
# State, atomic files, the lock, ownership, undoing unfinished creates, boot config, a link brought
# up or put back up or down. Needs the path variables, H, OWNER, K, D, IDENTITY, FRAGMENT, link.sh,
# pm_measure, pm_runner, pm_unit, pm_fragment and pm_undo_text (the feature's undo script).
# The marker .pulumi-macvlan-created is HOST_PATHS.createdMarker (a unit test checks they agree).
#
# A state directory is *committed* once its owners file names someone: a create writes it as its
# very last step. One with no owners is an unfinished create (cut, killed, failed): no create is
# running while we hold the lock, so it is nobody's, and pm_sweep undoes it with the undo script
# the create saved first (it holds the feature's values and its own copy of this library).

pm_lock() {
    pm_tries=0
    while :; do
        exec 9>>"$LOCK"
        if ! flock -w 600 9; then
            pm_fail "timed out after 600 s waiting for $LOCK"
        fi
        if [ "$LOCK" -ef "/proc/$$/fd/9" ]; then
            pm_locked=1
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
    rm -rf "$STATE_ROOT.pm-new" "$STATE_ROOT.pm-old" "$BOOT_ROOT.pm-new" "$BOOT_ROOT.pm-old" "$WANTS.pm-new" "$D.pm-new" "$D.pm-old"
    rm -f "$RUNNER.pm-tmp" "$UNIT.pm-tmp" "$FRAGMENT.pm-tmp" "$D/prior.pm-tmp" "$D/token.pm-tmp" "$D/owners.pm-tmp" "$D/undo.pm-tmp" "$D/identity.pm-tmp"
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
    if [ ! -d "$D" ]; then
        # Atomically: the directory appears with the undo script and the identity in it.
        rm -rf "$D.pm-new"
        mkdir "$D.pm-new"
        pm_undo_text > "$D.pm-new/undo"
        pm_identity > "$D.pm-new/identity"
        mv "$D.pm-new" "$D"
        pm_fresh=1
    else
        # Kept current: an older release's directory gets them, a newer library is taken up.
        pm_install "$D/undo" 644 pm_undo_text
        pm_install "$D/identity" 644 pm_identity
    fi
    if [ ! -f "$D/prior" ]; then
        pm_measure > "$D/prior.pm-tmp"
        mv -f "$D/prior.pm-tmp" "$D/prior"
        pm_note "prior state recorded"
    fi
}
pm_identity() {
    echo "$IDENTITY"
}
pm_is_us() {
    # Our owner entry, or the bare host name an older release wrote for this host.
    [ "$1" = "$OWNER" ] || [ "$1" = "$H" ]
}
pm_owners_but_us() {
    pm_others=""
    if [ -f "$1/owners" ]; then
        while read -r pm_o; do
            if [ -n "$pm_o" ] && ! pm_is_us "$pm_o"; then
                pm_others="${pm_others:+$pm_others, }$pm_o"
            fi
        done < "$1/owners"
    fi
}
pm_other_owners() {
    # The lines of the owners file without our entries.
    if [ -f "$D/owners" ]; then
        while read -r pm_o; do
            if [ -n "$pm_o" ] && ! pm_is_us "$pm_o"; then
                echo "$pm_o"
            fi
        done < "$D/owners"
    fi
}
pm_owners_then_us() {
    # The owners file without our entries, then ours.
    pm_other_owners
    echo "$OWNER"
}
pm_own() {
    # The commit: the last step of a create. Nothing is written when it already says so.
    if ! pm_same "$D/owners" pm_owners_then_us; then
        pm_owners_then_us > "$D/owners.pm-tmp"
        mv -f "$D/owners.pm-tmp" "$D/owners"
        pm_note "owned by $OWNER"
    fi
    pm_fresh=0
}
pm_disown() {
    pm_owners_but_us "$D"
    if [ -f "$D/owners" ]; then
        pm_other_owners > "$D/owners.pm-tmp"
        mv -f "$D/owners.pm-tmp" "$D/owners"
    fi
}
pm_undo_dir() {
    # Undoes the state directory $1 (under our lock) with the undo script its create saved; one
    # whose create got no further than its directory (no prior recorded: nothing changed) is
    # just removed. Prints what the undo printed.
    if [ -f "$1/undo" ]; then
        /bin/sh "$1/undo" < /dev/null
    elif [ ! -f "$1/prior" ]; then
        mv "$1" "$1.pm-old"
        rm -rf "$1.pm-old"
    else
        pm_fail "$1 has a recorded prior state but no undo script: cannot undo it exactly"
    fi
}
pm_sweep() {
    # Undoes every unfinished create on the host (any feature, any owner): a state directory whose
    # owners file is missing or empty. Leftovers of an atomic replace (.pm-new, .pm-old) go.
    for pm_e in "$STATE_ROOT"/*; do
        case "$pm_e" in
            *.pm-new|*.pm-old)
                rm -rf "$pm_e"
                continue
                ;;
        esac
        if [ ! -d "$pm_e" ] || [ -s "$pm_e/owners" ]; then
            continue
        fi
        if [ ! -f "$pm_e/undo" ] && [ -f "$pm_e/prior" ]; then
            # An older release's unfinished create (no undo script): its own create finishes it.
            continue
        fi
        pm_undo_dir "$pm_e"
        pm_note "unfinished create ${pm_e##*/} undone"
    done
}
pm_adopt() {
    # $D committed with other values (another identity). Held by us alone: it is the state of our
    # own create that finished on the host but never reached Pulumi (a replace always deletes the
    # old one first), so undo it and start again. Held by another stack or host entry too: refuse.
    if [ -f "$D/identity" ] && [ -s "$D/owners" ]; then
        read -r pm_id < "$D/identity" || pm_id=""
        if [ "$pm_id" != "$IDENTITY" ]; then
            pm_owners_but_us "$D"
            if [ -n "$pm_others" ]; then
                pm_pre_fail "$K is held by $pm_others as '$pm_id'; this wants '$IDENTITY': two stacks or host entries set it differently"
            fi
            pm_undo_dir "$D"
            pm_note "earlier $K ($pm_id) undone"
        fi
    fi
}
pm_fresh=0
pm_locked=0
pm_on_failure() {
    # The EXIT trap of a failed script (core.sh) runs it. A failed create undoes its own work;
    # holding the lock, a failed script also removes its temporary files, a state root and the
    # lock file that only it made (a host without state has neither, as before it).
    pm_undo_fresh
    if [ "$pm_locked" = 1 ]; then
        pm_begin
        pm_unroot "$STATE_ROOT"
        pm_unlock_last
    fi
}
pm_undo_fresh() {
    # On a failed create (any exit but 0, a signal included): when this run made $D and did not
    # commit it, undo what it did, so the host is as before this run. Output is captured first:
    # stdout may be a dropped connection.
    if [ "$pm_fresh" = 1 ] && [ -d "$D" ]; then
        pm_fresh=0
        if pm_uo=$(pm_undo_dir "$D" 2>&1); then
            echo "pulumi-macvlan $pm_who: this failed create was undone: the host is as before it${pm_uo:+ ($pm_uo)}" >&2 || :
        else
            echo "pulumi-macvlan $pm_who: error: undoing this failed create failed: $pm_uo; the next create or delete on this host undoes it" >&2 || :
        fi
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
