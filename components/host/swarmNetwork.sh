# shellcheck shell=sh
# The shell of a swarm macvlan network's two kinds of Docker network, read by swarmNetwork.ts
# (format: shellFiles.ts): the config-only network on each host (the host's parent, mode and
# address slice) and the swarm-scoped network created with --config-from on a manager. One script,
# sent on stdin: `/bin/sh -s create` (the ensure, also the update) or `/bin/sh -s delete`.
#
# Docker keeps the whole state: a network's config cannot change. A config-only network gets two
# labels saying who made it (com.pulumi-macvlan.owner, `<project>/<stack>/<host>`) and with what
# values (com.pulumi-macvlan.identity); the swarm network can have no label of its own (Docker: "user
# specified configurations are not supported if the network depends on a configuration network"),
# so it is known by what it is: swarm-scoped, macvlan, made from this config-only network. Create is
# an ensure (there as wanted: done; absent: create it) and delete removes only the network that is
# as wanted: it undoes exactly what create did, and leaves a network somebody else made.
# Values (set before this by the renderer): pm_who (for messages), PM_NAME, PM_OWNER, PM_FORMAT
# (docker network inspect's format of the state), PM_WANT (the state as wanted), PM_SWARM (1 for the
# swarm-scoped network, 0 for a config-only one), PM_WAIT (seconds a delete of a config-only network
# waits for the swarm network's local copy to go), and the function pm_docker_create (the
# `docker network create` with every value quoted).

#@ lib: messages, reading the network, pm_create and pm_delete
pm_say() {
    echo "pulumi-macvlan $pm_who: $*"
}
pm_fail() {
    echo "pulumi-macvlan $pm_who: error: $*" >&2
    exit 1
}
trap 'exit 129' HUP INT PIPE TERM
# The state (PM_FORMAT, starting with the name) of the network named PM_NAME exactly (a name that
# only prefixes another network's id is not it), or nothing when there is none.
pm_state() {
    pm_s=$(docker network inspect --format "$PM_FORMAT" "$PM_NAME" 2>/dev/null) || pm_s=""
    case "$pm_s" in
        "$PM_NAME|"*) echo "$pm_s" ;;
        *) : ;;
    esac
}
pm_preflight() {
    if ! command -v docker >/dev/null 2>&1; then
        pm_fail "docker is not installed on this host; nothing was changed"
    fi
    if ! pm_i=$(docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}' 2>&1); then
        pm_fail "the Docker Engine does not answer ($pm_i); nothing was changed"
    fi
    if [ "$PM_SWARM" = 1 ] && [ "$pm_i" != "active true" ]; then
        pm_fail "this host is not a manager of an active swarm (swarm state: $pm_i): the swarm network is created on a manager, and this program does not manage swarm membership: run docker swarm init or join first; nothing was changed"
    fi
}
pm_create() {
    pm_preflight
    pm_got=$(pm_state)
    pm_w=$PM_WANT
    if [ "$pm_got" = "$pm_w" ]; then
        pm_say "network $PM_NAME is already there as wanted"
        return 0
    fi
    if [ -n "$pm_got" ]; then
        # A config-only network's state: name|scope|configOnly|owner|identity.
        pm_o=${pm_got#*|*|*|}
        pm_o=${pm_o%%|*}
        if [ "$PM_SWARM" = 1 ] || [ "$pm_o" != "$PM_OWNER" ]; then
            pm_fail "a network named $PM_NAME already exists on this host and is not this one (it is '$pm_got'; this wants '$pm_w'): remove it or give the network another name; nothing was changed"
        fi
        # The same owner made it with other values: the result of an earlier create that never
        # reached Pulumi (a replace always deletes the old network first). It is this stack's own.
        pm_say "network $PM_NAME of an earlier create with other values ('$pm_got'): removing it first"
        docker network rm "$PM_NAME" >/dev/null
    fi
    pm_id=$(pm_docker_create)
    pm_say "network $PM_NAME created ($pm_id)"
}
pm_delete() {
    pm_got=$(pm_state)
    pm_w=$PM_WANT
    if [ -z "$pm_got" ]; then
        pm_say "network $PM_NAME is already gone"
        return 0
    fi
    if [ "$pm_got" != "$pm_w" ]; then
        pm_say "network $PM_NAME is not the one this created (it is '$pm_got'; this made '$pm_w'): left as it is"
        return 0
    fi
    # A config-only network stays in use for a few seconds after the swarm network is removed (the
    # engine drops its local copy of it asynchronously): wait for that, not for a swarm network
    # that is still there.
    pm_n=0
    while ! pm_out=$(docker network rm "$PM_NAME" 2>&1); do
        case "$pm_out" in
            *"is in use"*) ;;
            *) pm_fail "docker network rm $PM_NAME: $pm_out" ;;
        esac
        if [ "$PM_SWARM" = 1 ]; then
            pm_fail "network $PM_NAME is in use ($pm_out): remove the services attached to it first"
        fi
        if [ "$pm_n" -ge "$PM_WAIT" ]; then
            pm_fail "network $PM_NAME is still in use after $PM_WAIT s ($pm_out): a swarm network made from it (--config-from) still exists; remove that first"
        fi
        pm_n=$((pm_n + 1))
        sleep 1
    done
    pm_say "network $PM_NAME removed"
}

#@ main: the entry point, `create` or `delete`
case "${1:-}" in
    create) pm_create ;;
    delete) pm_delete ;;
    *) pm_fail "usage: /bin/sh -s create|delete" ;;
esac
