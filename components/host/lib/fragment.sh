# shellcheck shell=sh
# What a boot fragment that waits for links has after its values (with ip.sh before it).

if [ -z "$pm_ip" ]; then
    echo "pulumi-macvlan boot: iproute2 is not installed" >&2
    exit 1
fi
pm_wait_link() {
    pm_i=0
    while ! ip link show dev "$1" >/dev/null 2>&1; do
        pm_i=$((pm_i + 1))
        if [ "$pm_i" -gt 30 ]; then
            echo "pulumi-macvlan boot: link $1 did not appear within 30 s" >&2
            return 1
        fi
        sleep 1
    done
}
