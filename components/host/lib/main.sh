# shellcheck shell=sh
# What a feature's script runs, after its values and library (lib/*.sh and the kind's helpers and
# lib): `create` (create and update) and `delete` are the two entry points of the script a feature
# command sends on stdin; `undo` is the body of the undo script a create saves in its state
# directory first. Each "#@ <part>" line starts a part; this header and the "#@" lines are not
# rendered (format: ../shellFiles.ts).

#@ create: preflight; under the lock: undo unfinished creates, record the prior state once, ensure, boot config, token, commit
pm_preflight
pm_preflight_tools
pm_lock
pm_begin
pm_sweep
pm_adopt
pm_preflight_feature
pm_record_prior
pm_ensure
pm_boot_install
pm_store_token
pm_own
pm_done

#@ delete: unless another owner holds it too: restore the prior state, remove boot config and state
pm_preflight
pm_need_flock
pm_lock
pm_begin
pm_sweep
pm_disown
if [ -n "$pm_others" ]; then
    pm_note "kept: also held by $pm_others"
else
    if [ -f "$D/prior" ]; then
        pm_restore
    fi
    pm_boot_remove
    pm_forget
    pm_unlock_last
fi
pm_done

#@ undo: run by a create or delete holding the lock: restore the prior state, remove boot config and state
if [ -f "$D/prior" ]; then
    pm_restore
fi
pm_boot_remove
pm_forget
pm_done
