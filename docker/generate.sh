#!/bin/sh
# Writes docker/generated/ from the court secret and streamd/sample/courtroom_configs/:
#   mosquitto/passwd, mosquitto/acl  each agent may use only its own room's topics
#   env/streamd.env                  streamd's broker login and the court secret
#   env/<room>.env                   that room's command key and broker login, nothing else
# All files are 0600. Rerun after adding a courtroom or changing the secret.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
streamd=${STREAMD:-$root/.venv/bin/streamd}
secret=${STREAMD_COMMAND_SECRET:-$(sed -n 's/^STREAMD_COMMAND_SECRET=//p' "$here/.env" 2>/dev/null || true)}
if [ -z "$secret" ]; then
    echo "generate.sh: set STREAMD_COMMAND_SECRET (in docker/.env or the environment)" >&2
    exit 2
fi
STREAMD_COMMAND_SECRET=$secret STREAMD_COURT_CONFIG_DIR=$root/streamd/sample/courtroom_configs \
    "$streamd" mqtt-acl --out "$here/generated/mosquitto" --env-dir "$here/generated/env" \
    --broker mqtt://mosquitto:1883
