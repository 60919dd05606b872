#!/usr/bin/env bash
# Prepares a fresh machine for Sluice's tests and demo: the Debian packages the fixtures
# start (PostgreSQL 15, Redis, PgBouncer, pg_partman, pg_auto_failover, Patroni and etcd for the HA fixtures, and
# openssl for the TLS tests' certificates), pnpm, and the workspace's packages.
# Idempotent: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
ls /usr/lib/postgresql/15/bin/postgres >/dev/null 2>&1 || missing+=(postgresql-15)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x /usr/sbin/pgbouncer ] || command -v pgbouncer >/dev/null 2>&1 || missing+=(pgbouncer)
ls /usr/share/postgresql/15/extension/pg_partman.control >/dev/null 2>&1 || missing+=(postgresql-15-partman)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ -x /usr/bin/pg_autoctl ] && ls /usr/lib/postgresql/15/lib/pgautofailover.so >/dev/null 2>&1 || missing+=(postgresql-15-auto-failover)
command -v patroni >/dev/null 2>&1 || missing+=(patroni)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)

if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

command -v pnpm >/dev/null 2>&1 || npm install -g pnpm@10 --silent
pnpm install --frozen-lockfile
