#!/usr/bin/env bash
# Installs Debian's PostgreSQL when missing, starts the first cluster and makes local
# TCP connections trusted for user postgres (a throw-away CI machine only). Safe to run
# repeatedly; exits non-zero if PostgreSQL does not answer on 127.0.0.1:5432 at the end.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then exit 0; fi
if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  apt-get update
  apt-get install -y --no-install-recommends postgresql postgresql-client
fi
ver="$(ls /etc/postgresql | sort -V | tail -n1)"
conf="/etc/postgresql/$ver/main"
if ! grep -q '^host all all 127.0.0.1/32 trust' "$conf/pg_hba.conf"; then
  sed -i '1i host all all 127.0.0.1/32 trust' "$conf/pg_hba.conf"
fi
grep -q "^listen_addresses" "$conf/postgresql.conf" || echo "listen_addresses = '127.0.0.1'" >> "$conf/postgresql.conf"
pg_ctlcluster --skip-systemctl-redirect "$ver" main start || pg_ctlcluster --skip-systemctl-redirect "$ver" main reload || true
for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && exit 0; sleep 1; done
echo "error: PostgreSQL did not start" >&2
exit 1
