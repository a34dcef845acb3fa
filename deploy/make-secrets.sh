#!/bin/sh
# Writes the secrets deploy/compose.yaml reads, once: random ones made here, the provider's key
# taken from RINGOSTAT_AUTH_KEY. An existing file is never overwritten.
#   RINGOSTAT_AUTH_KEY=... deploy/make-secrets.sh
set -eu
dir="$(dirname "$0")/secrets"
mkdir -p "$dir"
# The directory keeps other users of this machine out; the files must stay readable by the
# containers' own (non-root) users, to whom compose bind-mounts them as they are.
chmod 700 "$dir"

random() { LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 40; }

write() {  # name value
    if [ -e "$dir/$1" ]; then
        echo "kept    $dir/$1"
    else
        printf '%s\n' "$2" >"$dir/$1"
        chmod 644 "$dir/$1"
        echo "written $dir/$1"
    fi
}

if [ ! -e "$dir/postgres_password" ]; then
    password="$(random)"
    write postgres_password "$password"
    write database_url "postgresql+psycopg://callgate:$password@postgres:5432/callgate"
fi
write secret_key "$(random)"
write metrics_token "$(random)"
if [ ! -e "$dir/ringostat_auth_key" ]; then
    : "${RINGOSTAT_AUTH_KEY:?set RINGOSTAT_AUTH_KEY to your Ringostat Auth-key}"
    write ringostat_auth_key "$RINGOSTAT_AUTH_KEY"
fi
