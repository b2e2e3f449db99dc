# shellcheck shell=sh
# The host preflight (renderPreflight), after its values, ip.sh and core.sh: read-only checks (it
# may load the 8021q module). Each "#@ <part>" line starts a part; this header and the "#@" lines
# are not rendered (format: ../shellFiles.ts).

#@ checks: root, iproute2, kernel, flock, systemd and the parent NIC
pm_preflight
pm_preflight_tools
pm_need_link "$PARENT" "parent NIC"
pm_ok="Linux $pm_kv, parent NIC $PARENT"

#@ vlan: when VLAN sub-interfaces are asked for: 802.1Q present or loadable
pm_need_8021q
pm_ok="$pm_ok, 802.1Q"

#@ docker: when networks will use the host: docker present and its engine answering
if ! command -v docker >/dev/null 2>&1; then
    pm_pre_fail "docker is not installed (the networks on this host need it)"
fi
pm_to=""
if command -v timeout >/dev/null 2>&1; then
    pm_to="timeout 60"
fi
if ! pm_dv=$($pm_to docker version --format "{{.Server.Version}}" 2>&1); then
    pm_pre_fail "docker is installed but its engine does not answer: $pm_dv"
fi
pm_ok="$pm_ok, Docker Engine $pm_dv"

#@ done
pm_say "preflight ok ($pm_ok)"
