#!/usr/bin/env bash
# The local stack lienthong's tests and demo run against, each service on its own port and data
# directory so it never touches the machine's own PostgreSQL or MariaDB:
#
#   broker    tansu (Kafka protocol)            127.0.0.1:${LIENTHONG_BROKER_PORT:-19092}
#   postgres  PostgreSQL, wal_level=logical     127.0.0.1:${LIENTHONG_PG_PORT:-55432}
#   mariadb   MariaDB, ROW binlog + GTID        127.0.0.1:${LIENTHONG_MARIADB_PORT:-53306}
#
# Usage: deploy/local/stack.sh up|down|status|restart|clean [broker|postgres|mariadb ...]
#
# Idempotent: `up` starts what is not running and installs tansu when it is missing; `down`
# stops what runs. The broker keeps its data in memory unless LIENTHONG_BROKER_STORAGE=sqlite,
# which survives a broker restart (and kill -9). Both databases accept user `lienthong`,
# password `lienthong` (development credentials, loopback only).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
stack_dir=${LIENTHONG_STACK_DIR:-$repo/.lienthong/stack}
broker_port=${LIENTHONG_BROKER_PORT:-19092}
pg_port=${LIENTHONG_PG_PORT:-55432}
mariadb_port=${LIENTHONG_MARIADB_PORT:-53306}
broker_storage=${LIENTHONG_BROKER_STORAGE:-memory}
tansu_version=0.6.0
user=lienthong
password=lienthong
# Unix sockets have a ~100-byte path limit: keep them under /tmp, one directory per stack.
run_dir=/tmp/lienthong-$(printf '%s' "$stack_dir" | cksum | cut -d' ' -f1)

# The database servers run as their own users when we are root; their data must live where those
# users can reach it (a clone under /root is not). Fall back to a directory under /var/tmp.
data_dir_for() { # service-user service
  local dir=$stack_dir/$2
  if [ "$(id -u)" = 0 ] && ! runuser -u "$1" -- test -x "$stack_dir" 2>/dev/null; then
    dir=/var/tmp/lienthong-$(printf '%s' "$stack_dir" | cksum | cut -d' ' -f1)/$2
  fi
  echo "$dir"
}

log() { printf '%-9s %s\n' "$1" "$2"; }
die() { echo "stack: $*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # name port seconds logfile
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    port_open "$2" && return 0
    sleep 0.1
  done
  echo "--- last lines of $4:" >&2
  tail -n 30 "$4" >&2 || true
  die "$1 did not open port $2 within $3 s"
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Run a command as `who` when we are root (PostgreSQL refuses to run as root).
as_user() {
  local who=$1; shift
  if [ "$(id -u)" = 0 ]; then runuser -u "$who" -- "$@"; else "$@"; fi
}

# ---------------------------------------------------------------------------------- broker ---
tansu_bin() {
  local bin
  bin=$(command -v tansu || true)
  [ -n "$bin" ] || bin=$HOME/.cargo/bin/tansu
  echo "$bin"
}

ensure_tansu() {
  local bin; bin=$(tansu_bin)
  if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "$tansu_version"; then return; fi
  log broker "installing tansu $tansu_version (storage features dynostore,libsql; one-time, several minutes)"
  # Without a storage feature tansu accepts writes and discards them: the features are required.
  cargo install tansu --version "$tansu_version" --locked --features dynostore,libsql --quiet
}

broker_up() {
  local dir=$stack_dir/broker pidfile=$stack_dir/broker/tansu.pid
  if pid_alive "$pidfile"; then log broker "running on 127.0.0.1:$broker_port ($(cat "$dir/storage"))"; return; fi
  port_open "$broker_port" && die "port $broker_port is taken by another process; set LIENTHONG_BROKER_PORT"
  ensure_tansu
  mkdir -p "$dir"
  local engine
  case $broker_storage in
    memory) engine=memory://tansu/ ;;
    sqlite) engine=sqlite://tansu.db ;; # relative to the broker's working directory
    *) die "LIENTHONG_BROKER_STORAGE must be memory or sqlite, not $broker_storage" ;;
  esac
  echo "$broker_storage" > "$dir/storage"
  (
    cd "$dir"
    setsid nohup "$(tansu_bin)" broker \
      --cluster-id lienthong \
      --listener-url "tcp://127.0.0.1:$broker_port" \
      --advertised-listener-url "tcp://127.0.0.1:$broker_port" \
      --storage-engine "$engine" \
      >> "$dir/tansu.log" 2>&1 < /dev/null &
    echo $! > "$pidfile"
  )
  wait_port broker "$broker_port" 30 "$dir/tansu.log"
  log broker "started on 127.0.0.1:$broker_port ($broker_storage storage)"
}

broker_down() {
  local pidfile=$stack_dir/broker/tansu.pid
  if pid_alive "$pidfile"; then
    kill "$(cat "$pidfile")"
    for _ in $(seq 50); do pid_alive "$pidfile" || break; sleep 0.1; done
    pid_alive "$pidfile" && kill -9 "$(cat "$pidfile")"
    log broker stopped
  else
    log broker "not running"
  fi
  rm -f "$pidfile"
}

broker_status() {
  if pid_alive "$stack_dir/broker/tansu.pid"; then
    log broker "running   127.0.0.1:$broker_port ($(cat "$stack_dir/broker/storage") storage)"
  else
    log broker "stopped"
  fi
}

# -------------------------------------------------------------------------------- postgres ---
pg_bin() {
  local dir
  if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir; return
  fi
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] || die "PostgreSQL server binaries not found (apt-get install postgresql)"
  echo "$dir"
}

postgres_up() {
  local bin pg_dir data logf
  pg_dir=$(data_dir_for postgres postgres); data=$pg_dir/data; logf=$pg_dir/postgres.log
  bin=$(pg_bin)
  if as_user postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    log postgres "running on 127.0.0.1:$pg_port"; return
  fi
  port_open "$pg_port" && die "port $pg_port is taken by another process; set LIENTHONG_PG_PORT"
  mkdir -p "$pg_dir" "$run_dir/postgres"
  if [ "$(id -u)" = 0 ]; then chown -R postgres: "$pg_dir" "$run_dir/postgres"; fi
  if [ ! -f "$data/PG_VERSION" ]; then
    local pwfile; pwfile=$(mktemp); echo "$password" > "$pwfile"; chmod 644 "$pwfile"
    as_user postgres "$bin/initdb" -D "$data" -U postgres --pwfile="$pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    # Settings live in lienthong.conf, rewritten at every start so that changes here apply to
    # existing stacks too.
    echo "include_if_exists = 'lienthong.conf'" >> "$data/postgresql.conf"
    echo "host replication all 127.0.0.1/32 scram-sha-256" >> "$data/pg_hba.conf"
    local fresh=1
  fi
  cat > "$data/lienthong.conf" <<CONF
# lienthong local stack (written by deploy/local/stack.sh)
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$run_dir/postgres'
wal_level = logical
max_replication_slots = 64
max_wal_senders = 64
max_connections = 300
shared_buffers = 256MB
wal_sender_timeout = 60s
# Transactions over 64kB are streamed in progress (pgoutput streaming), so the connector's
# spill path is exercised by ordinary tests, not only by huge ones.
logical_decoding_work_mem = 64kB
CONF
  if [ "$(id -u)" = 0 ]; then chown postgres: "$data/lienthong.conf"; fi
  as_user postgres "$bin/pg_ctl" -D "$data" -l "$logf" -w -t 60 start >/dev/null \
    || { tail -n 30 "$logf" >&2; die "PostgreSQL did not start"; }
  if [ "${fresh:-0}" = 1 ]; then
    as_user postgres "$bin/psql" -h "$run_dir/postgres" -p "$pg_port" -U postgres -d postgres -q \
      -v ON_ERROR_STOP=1 -c "CREATE ROLE $user LOGIN SUPERUSER REPLICATION PASSWORD '$password'" \
      -c "CREATE DATABASE $user OWNER $user" >/dev/null
  fi
  log postgres "started on 127.0.0.1:$pg_port (wal_level=logical)"
}

postgres_down() {
  local bin data
  data=$(data_dir_for postgres postgres)/data
  bin=$(pg_bin)
  if as_user postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_user postgres "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    log postgres stopped
  else
    log postgres "not running"
  fi
}

postgres_status() {
  local bin; bin=$(pg_bin)
  if as_user postgres "$bin/pg_ctl" -D "$(data_dir_for postgres postgres)/data" status >/dev/null 2>&1; then
    log postgres "running   127.0.0.1:$pg_port (postgres://$user:$password@127.0.0.1:$pg_port/$user)"
  else
    log postgres "stopped"
  fi
}

# --------------------------------------------------------------------------------- mariadb ---
mariadb_sock() { echo "$run_dir/mariadb/mariadb.sock"; }

mariadb_up() {
  local dir data pidfile
  dir=$(data_dir_for mysql mariadb); data=$dir/data; pidfile=$dir/mariadb.pid
  if pid_alive "$pidfile"; then log mariadb "running on 127.0.0.1:$mariadb_port"; return; fi
  port_open "$mariadb_port" && die "port $mariadb_port is taken by another process; set LIENTHONG_MARIADB_PORT"
  command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || die "mariadbd not found (apt-get install mariadb-server)"
  local mariadbd; mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
  mkdir -p "$dir" "$run_dir/mariadb"
  local run_as=()
  if [ "$(id -u)" = 0 ]; then chown -R mysql: "$dir" "$run_dir/mariadb"; run_as=(--user=mysql); fi
  local fresh=0
  if [ ! -d "$data/mysql" ]; then
    mariadb-install-db --no-defaults "${run_as[@]}" --datadir="$data" \
      --auth-root-authentication-method=socket --skip-test-db >"$dir/install.log" 2>&1 \
      || { tail -n 30 "$dir/install.log" >&2; die "mariadb-install-db failed"; }
    fresh=1
  fi
  setsid nohup "$mariadbd" --no-defaults "${run_as[@]}" \
    --datadir="$data" --port="$mariadb_port" --bind-address=127.0.0.1 \
    --socket="$(mariadb_sock)" --pid-file="$pidfile" --log-error="$dir/mariadb.err" \
    --server-id=1 --log-bin=mariadb-bin --binlog-format=ROW --binlog-row-image=FULL --binlog-row-metadata=FULL \
    --gtid-strict-mode=ON --log-slave-updates=ON \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    --innodb-buffer-pool-size=256M --max-connections=200 \
    >> "$dir/mariadbd.out" 2>&1 < /dev/null &
  wait_port mariadb "$mariadb_port" 60 "$dir/mariadb.err"
  if [ "$fresh" = 1 ]; then
    mariadb --no-defaults --socket="$(mariadb_sock)" -u root <<SQL
CREATE USER '$user'@'127.0.0.1' IDENTIFIED BY '$password';
CREATE USER '$user'@'localhost' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON *.* TO '$user'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$user'@'localhost' WITH GRANT OPTION;
CREATE DATABASE $user CHARACTER SET utf8mb4;
SQL
  fi
  log mariadb "started on 127.0.0.1:$mariadb_port (binlog ROW, GTID)"
}

mariadb_down() {
  local pidfile
  pidfile=$(data_dir_for mysql mariadb)/mariadb.pid
  if pid_alive "$pidfile"; then
    kill "$(cat "$pidfile")"
    for _ in $(seq 300); do pid_alive "$pidfile" || break; sleep 0.1; done
    log mariadb stopped
  else
    log mariadb "not running"
  fi
}

mariadb_status() {
  if pid_alive "$(data_dir_for mysql mariadb)/mariadb.pid"; then
    log mariadb "running   127.0.0.1:$mariadb_port (mysql://$user:$password@127.0.0.1:$mariadb_port/$user)"
  else
    log mariadb "stopped"
  fi
}

# ------------------------------------------------------------------------------------ main ---
action=${1:-}
shift || true
services=("$@")
[ ${#services[@]} -gt 0 ] || services=(broker postgres mariadb)
for s in "${services[@]}"; do
  case $s in broker|postgres|mariadb) ;; *) die "unknown service $s (broker, postgres, mariadb)" ;; esac
done
mkdir -p "$stack_dir"

case $action in
  up) for s in "${services[@]}"; do "${s}_up"; done ;;
  down) for s in "${services[@]}"; do "${s}_down"; done ;;
  restart) for s in "${services[@]}"; do "${s}_down"; "${s}_up"; done ;;
  status) for s in "${services[@]}"; do "${s}_status"; done ;;
  clean) # stop and delete every data directory of this stack
    for s in "${services[@]}"; do "${s}_down"; done
    rm -rf "$(data_dir_for postgres postgres)" "$(data_dir_for mysql mariadb)" "$stack_dir/broker" "$run_dir"
    log stack "data deleted" ;;
  *) echo "usage: $0 up|down|status|restart|clean [broker|postgres|mariadb ...]" >&2; exit 2 ;;
esac
