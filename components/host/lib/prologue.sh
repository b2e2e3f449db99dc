# shellcheck shell=sh
# The start of every create, delete and preflight script.

set -eu
umask 022
LC_ALL=C
export LC_ALL
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
