#!/usr/bin/env bash
# The preview and drift jobs run this before any `pulumi` command: the self-managed backend's URL
# and the secrets passphrase must come from the repository secrets (as PULUMI_BACKEND_URL and
# PULUMI_CONFIG_PASSPHRASE in the environment). Without PULUMI_BACKEND_URL the CLI would fall back
# to Pulumi.yaml's backend.url, file://~: a fresh, empty state in the runner's home folder, where a
# preview shows every resource as new and a drift check finds nothing. Refuse that loudly instead.
# Prints nothing of the values themselves.
set -euo pipefail

problems=0
refuse() {
    echo "::error::$1"   # on stdout: where the runner reads workflow commands
    problems=$((problems + 1))
}

url="${PULUMI_BACKEND_URL:-}"
if [ -z "$url" ]; then
    refuse "PULUMI_BACKEND_URL is empty: set the repository secret PULUMI_BACKEND_URL to the team's backend (s3://…, azblob://…, gs://…, https://…); pull requests from forks get no secrets. Without it Pulumi.yaml's backend.url (file://~) would put the state in the runner's home folder"
else
    case "$url" in
        file://~*) refuse "PULUMI_BACKEND_URL is a file://~ URL, the runner's home folder: set the repository secret to the team's shared backend" ;;
    esac
fi
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ]; then
    refuse "PULUMI_CONFIG_PASSPHRASE is empty: set the repository secret PULUMI_CONFIG_PASSPHRASE; without it the stacks' secrets (macvlan:sshPrivateKey, secret env values) cannot be decrypted"
fi

if [ "$problems" -gt 0 ]; then
    exit 1
fi
echo "backend: PULUMI_BACKEND_URL and PULUMI_CONFIG_PASSPHRASE are set"
