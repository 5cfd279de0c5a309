#!/usr/bin/env bash
# `make demo`: the main job end to end on one machine, from nothing.
#
#  1. a fresh demo stack (broker, PostgreSQL, MariaDB on their own ports, under .lienthong/demo);
#  2. a civil-servant database (PostgreSQL) and a social-security database (MariaDB) filled with
#     synthetic people drawn from a synthetic population register, errors injected;
#  3. the platform simulator standing in for NDOP, and every lienthong service in one process
#     (`lienthong dev`, config deploy/local/demo.toml);
#  4. a live workload of changes at the sources, streamed through connectors → translator →
#     resolver → sink, store and partner topics, with progress;
#  5. where to look: the reconciliation report (HTML, CSV), what the platform received, a lookup
#     through the gRPC API, the quality summary for the six criteria.
#
# Repeatable: every run starts from an empty demo stack. The services and the demo stack stop at
# the end unless LIENTHONG_DEMO_KEEP=1. Sizes: LIENTHONG_DEMO_PEOPLE, _CIVIL_SERVANTS, _INSURED,
# _RATE (changes per second), _SECONDS (workload duration).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

demo_dir=.lienthong/demo
config=deploy/local/demo.toml
people=${LIENTHONG_DEMO_PEOPLE:-20000}
civil_servants=${LIENTHONG_DEMO_CIVIL_SERVANTS:-2000}
insured=${LIENTHONG_DEMO_INSURED:-1000}
rate=${LIENTHONG_DEMO_RATE:-20}
seconds=${LIENTHONG_DEMO_SECONDS:-30}
keep=${LIENTHONG_DEMO_KEEP:-0}
cargo=${CARGO:-cargo}

# The demo stack: its own ports and data directories (demo.toml names the same ports).
export LIENTHONG_STACK_DIR=$repo/$demo_dir/stack
export LIENTHONG_BROKER_PORT=29092 LIENTHONG_PG_PORT=56432 LIENTHONG_MARIADB_PORT=54306
export LIENTHONG_BROKER_STORAGE=memory
stack=deploy/local/stack.sh
pg=postgres://lienthong:lienthong@127.0.0.1:$LIENTHONG_PG_PORT
csdl_url=$pg/csdl_cbccvc
bhxh_url=mysql://lienthong:lienthong@127.0.0.1:$LIENTHONG_MARIADB_PORT/bhxh
store_url=$pg/lienthong_store
sim=http://127.0.0.1:28480
health=http://127.0.0.1:29464
lookup=http://127.0.0.1:50161
bin=target/debug/lienthong
# The audit log's subject key: a fresh one per run.
LIENTHONG__AUDIT__SUBJECT_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
export LIENTHONG__AUDIT__SUBJECT_KEY

started=$(date +%s)
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
elapsed() { echo "$(( $(date +%s) - started )) s"; }
die() { echo "demo: $*" >&2; exit 1; }

pids=()
stop_services() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
on_exit() {
  local status=$?
  if [ "$keep" = 1 ] && [ $status = 0 ]; then
    echo
    echo "The services keep running (LIENTHONG_DEMO_KEEP=1): lienthong dev pid ${pids[0]:-?}, platform simulator pid ${pids[1]:-?}."
    echo "Stop them with: kill ${pids[*]}; $stack down (with the LIENTHONG_STACK_DIR and ports of this script)"
    return
  fi
  stop_services
  "$stack" down >/dev/null 2>&1 || true
  if [ $status != 0 ]; then
    echo "demo: failed after $(elapsed); logs are in $demo_dir/logs/" >&2
  fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

wait_http() { # url seconds what
  local i
  for ((i = 0; i < $2 * 5; i++)); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

# Sum of a Prometheus metric family's samples on the dev process's /metrics.
metric() {
  curl -fsS "$health/metrics" 2>/dev/null |
    awk -v name="$1" -v filter="${2:-}" '
      $1 ~ "^"name"(\\{|$)" && (filter == "" || index($1, filter)) { sum += $NF }
      END { printf "%d", sum }'
}

json_field() { # key: reads JSON on stdin
  python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], 0))' "$1"
}

progress_line() {
  local delivered
  delivered=$(curl -fsS "$sim/_sim/counts" 2>/dev/null | json_field records || echo "?")
  printf '  %5s  captured %6s  translated %6s  resolved %6s  stored %6s  partner topics %6s  NDOP records %6s  dead-lettered %4s\n' \
    "$(elapsed)" \
    "$(( $(metric lienthong_source_postgres_events_total) + $(metric lienthong_source_mysql_events_total) ))" \
    "$(metric lienthong_translate_records_total 'outcome="translated"')" \
    "$(metric lienthong_resolve_stage_records_total 'outcome="resolved"')" \
    "$(metric lienthong_store_records_total 'outcome="stored"')" \
    "$(metric lienthong_share_records_total 'outcome="projected"')" \
    "$delivered" \
    "$(metric '[a-z_]+' 'outcome="dead_lettered"')"
}

# ------------------------------------------------------------------------------------------------
if [ -n "${LIENTHONG_DEMO_BIN:-}" ]; then
  bin=$LIENTHONG_DEMO_BIN # a binary built already (the demo's test passes its own)
else
  step "Building lienthong"
  $cargo build --quiet -p lienthong
fi
[ -x "$bin" ] || die "$bin was not built"

step "Starting a fresh demo stack (broker :29092, PostgreSQL :56432, MariaDB :54306)"
"$stack" clean >/dev/null 2>&1 || true
rm -rf "$demo_dir"
mkdir -p "$demo_dir/logs" "$demo_dir/policies"
"$stack" up

step "Creating the source databases: $civil_servants civil-servant files, $insured insured people, a register of $people"
"$bin" datagen seed --postgres "$csdl_url" --mariadb "$bhxh_url" --out "$demo_dir/data" \
  --people "$people" --civil-servants "$civil_servants" --insured "$insured"

# The store's database, and the register's change topic (the register's publisher owns it; the
# resolver reads it from the start).
psql -X -q "$pg/lienthong" -c "CREATE DATABASE lienthong_store"
"$bin" topics ensure --config "$config" population.v1 > /dev/null

# A demo partner with a token made for this run, beside the shipped example policies.
token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
token_hash=$(printf %s "$token" | sha256sum | cut -d' ' -f1)
cp schemas/policies/*.toml "$demo_dir/policies/"
cat > "$demo_dir/policies/demo-portal.toml" <<EOF
# Written by deploy/local/demo.sh for this run only.
id = "demo-portal"
name = "Demo public-service portal"
purposes = ["demo"]

[authentication]
token_sha256 = ["$token_hash"]

[entities.person]
fields = ["record_id", "personal_id", "name", "birth_date", "sex", "resolution.status", "resolution.personal_id"]

[entities.civil_servant]
fields = ["record_id", "person.personal_id", "person.name", "person.birth_date", "category", "status", "organisation_id", "rank", "resolution.status", "resolution.personal_id"]
topic = true

[entities.administrative_unit]
fields = ["*"]
EOF
export LIENTHONG__POLICY__DIR=$demo_dir/policies
"$bin" policy check --config "$config" --partner demo-portal > "$demo_dir/logs/policy-check.txt" ||
  die "the demo policy does not load: see $demo_dir/logs/policy-check.txt"

step "Starting the platform simulator (NDOP stand-in, $sim)"
"$bin" platform-sim --config deploy/local/platform-sim.toml --listen 127.0.0.1:28480 \
  --database "$demo_dir/platform-sim.sqlite" > "$demo_dir/logs/platform-sim.log" 2>&1 &
sim_pid=$!
wait_http "$sim/_sim/health" 30 || die "the platform simulator did not start: see $demo_dir/logs/platform-sim.log"

step "Starting every service in one process: lienthong dev --config $config"
"$bin" dev --config "$config" > "$demo_dir/logs/dev.log" 2>&1 &
pids=($! "$sim_pid")
for _ in $(seq 300); do
  curl -fsS -o /dev/null "$health/readyz" 2>/dev/null && break
  kill -0 "${pids[0]}" 2>/dev/null || { tail -n 30 "$demo_dir/logs/dev.log" >&2; die "lienthong dev stopped"; }
  sleep 0.5
done
curl -fsS -o /dev/null "$health/readyz" || { tail -n 30 "$demo_dir/logs/dev.log" >&2; die "lienthong dev did not become ready"; }
sed -n '1,2p' "$demo_dir/logs/dev.log" | sed 's/^/  /'

step "Snapshot, then a live workload: $rate changes/s for $seconds s"
"$bin" datagen workload --postgres "$csdl_url" --mariadb "$bhxh_url" --people "$people" \
  --rate "$rate" --duration "${seconds}s" > "$demo_dir/workload.json" 2> "$demo_dir/logs/workload.log" &
workload=$!
echo "  (each stage counts the changes it has handled; the platform counts the distinct records it"
echo "   holds, deletions included, so its number need not match the resolver's)"
while kill -0 "$workload" 2>/dev/null; do
  progress_line
  sleep 5
done
wait "$workload" || die "the workload failed: see $demo_dir/logs/workload.log"

step "Waiting for the pipeline to drain"
previous="" quiet=0
for _ in $(seq 60); do
  line=$(progress_line)
  echo "$line"
  counters=$(sed -E 's/^ *[0-9]+ s//' <<< "$line")
  if [ "$counters" = "$previous" ]; then quiet=$((quiet + 1)); else quiet=0; fi
  previous=$counters
  [ $quiet -ge 2 ] && break
  sleep 5
done
[ $quiet -ge 2 ] || echo "  (still moving after 5 minutes; the numbers below are a snapshot)"

step "Reconciliation (đối soát) of the civil-servant database against the population register"
"$bin" reconcile --register "$demo_dir/data/register.csv" \
  --input-postgres "$csdl_url" \
  --query "SELECT id, so_dinh_danh, ho_ten, ngay_sinh, gioi_tinh, noi_sinh_ma_tinh, ten_don_vi FROM ho_so_can_bo ORDER BY id" \
  --out "$demo_dir/report" 2> "$demo_dir/logs/reconcile.log" | sed 's/^/  /'

step "Delivered to the platform simulator (NDOP)"
curl -fsS "$sim/_sim/counts" > "$demo_dir/platform-counts.json"
python3 - "$demo_dir/platform-counts.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
print("  records stored %d, deliveries %d (redeliveries recognised as duplicates %d), refused %d"
      % (c["records"], c["deliveries"], c["duplicates"], c["rejected_total"]))
for entity, by in sorted(c.get("by_entity", {}).items()):
    print("  %s: %s" % (entity, ", ".join("%s %s" % kv for kv in sorted(by.items()))))
PY

step "A lookup through the gRPC API, as the demo partner"
personal_id=$(psql -X -At "$store_url" -c "SELECT personal_id FROM lienthong_store.civil_servant WHERE valid_to IS NULL AND NOT deleted AND personal_id IS NOT NULL ORDER BY record_id LIMIT 1")
echo "  lienthong lookup get --server $lookup --token \$TOKEN --purpose demo --civil-servant $personal_id"
"$bin" lookup get --server "$lookup" --token "$token" --purpose demo --civil-servant "$personal_id" \
  > "$demo_dir/lookup-example.json"
sed 's/^/  /' "$demo_dir/lookup-example.json"

step "Balance: source rows against the store's current records and the platform"
source_cs=$(psql -X -At "$csdl_url" -c "SELECT count(*) FROM ho_so_can_bo")
source_si=$(mysql -h 127.0.0.1 -P "$LIENTHONG_MARIADB_PORT" -u lienthong -plienthong -N -B bhxh \
  -e "SELECT count(*) FROM QUA_TRINH_THAM_GIA")
store_cs=$(psql -X -At "$store_url" -c "SELECT count(*) FROM lienthong_store.civil_servant WHERE valid_to IS NULL AND NOT deleted")
store_si=$(psql -X -At "$store_url" -c "SELECT count(*) FROM lienthong_store.social_insurance WHERE valid_to IS NULL AND NOT deleted")
platform=$(json_field records < "$demo_dir/platform-counts.json")
dead_lettered=$(metric '[a-z_]+' 'outcome="dead_lettered"')
printf '  %-34s %8s %8s\n' "" "source" "store" \
  "civil-servant files (PostgreSQL)" "$source_cs" "$store_cs" \
  "contribution periods (MariaDB)" "$source_si" "$store_si"
echo "  delivered to NDOP: $platform civil-servant records (deleted files included, as deletions)"
echo "  dead-lettered with their reason (dlq.<stage> topics): $dead_lettered"
printf '{"source_civil_servants": %s, "store_civil_servants": %s, "source_contribution_periods": %s, "store_contribution_periods": %s, "platform_records": %s, "dead_lettered": %s, "seconds": %s}\n' \
  "$source_cs" "$store_cs" "$source_si" "$store_si" "$platform" "$dead_lettered" "$(( $(date +%s) - started ))" \
  > "$demo_dir/summary.json"

step "Data quality: the six criteria"
"$bin" quality --config "$config" | sed 's/^/  /'

step "Done in $(elapsed). Where to look:"
cat <<EOF
  reconciliation report   $demo_dir/report/report.html  (and report.csv for Excel, report.json)
  ground truth            $demo_dir/data/truth.csv  (what datagen injected, row by row)
  workload summary        $demo_dir/workload.json
  counts                  $demo_dir/summary.json
  lookup example          $demo_dir/lookup-example.json (the audit log records the call)
  platform simulator      $sim/_sim/counts, $sim/_sim/records (while running)
  metrics and health      $health/metrics, $health/readyz (while running)
  logs                    $demo_dir/logs/
  run it again            make demo   (starts from an empty demo stack)
  keep it running         LIENTHONG_DEMO_KEEP=1 make demo
EOF
