# shellcheck shell=sh
# What a feature's create and delete scripts run, after their values and library (lib/*.sh and
# the kind's helpers and lib). Each "#@ <part>" line starts a part; this header and the "#@"
# lines are not rendered (format: ../shellFiles.ts).

#@ create: preflight, then under the lock: record the prior state once, ensure, boot config, token
pm_preflight
pm_preflight_tools
pm_preflight_feature
pm_lock
pm_begin
pm_record_prior
pm_own
pm_ensure
pm_boot_install
pm_store_token
pm_done

#@ delete: unless another host owns it too: restore the prior state, remove boot config and state
pm_preflight
pm_need_flock
pm_lock
pm_begin
pm_disown
if [ -n "$pm_others" ]; then
    pm_note "kept: host $pm_others has it too"
else
    if [ -f "$D/prior" ]; then
        pm_restore
    fi
    pm_boot_remove
    pm_forget
    pm_unlock_last
fi
pm_done
