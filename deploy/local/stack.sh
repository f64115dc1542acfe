#!/usr/bin/env bash
# The native local stack (no Docker engine needed): Apache Kafka from Maven Central jars (KRaft, one
# node), the store (SecantusDB's Rust server: MongoDB's wire protocol and semantics on WiredTiger,
# built with cargo from crates.io), and every service as a process.
#
#   stack.sh install            fetch/build whatever is missing (cached under .local/)
#   stack.sh up [all|infra]     start Kafka + the store (+ the services), wait until each is healthy
#   stack.sh down               stop everything this script started (data survives)
#   stack.sh status             what runs, with pids and URLs
#   stack.sh logs <component>   tail a component's log
#
# Everything it downloads, builds, stores and logs lives under .local/ (git-ignored), so the second
# `up` starts in seconds. Ports and paths can be overridden by the environment variables below.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCAL="${YINGDE_LOCAL_DIR:-$ROOT/.local}"
CACHE="$LOCAL/cache"
DATA="$LOCAL/data"
LOGS="$LOCAL/log"
RUN="$LOCAL/run"
TOOLS="$LOCAL/tools"

KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
MONGO_PORT="${MONGO_PORT:-27017}"
# Pinned exactly: a pre-release is only installed when named. The crate declares Rust 1.98; 1.95 builds
# and runs it (hence --ignore-rust-version).
SECANTUS_VERSION="0.5.3-beta.196"
# cargo's build directory outlives a clone (like ~/.m2 for the Kafka jars), so another checkout of the
# project, or CI in a fresh clone, relinks the store in seconds instead of compiling it for 10 minutes.
CARGO_BUILD_CACHE="${YINGDE_CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/yingde/cargo-target}"
UV_VERSION="0.13.8"

SERVICES=(intake dispatch warranty parts engineering console operations notifications)
declare -A SERVICE_PORT=(
  [intake]="${INTAKE_PORT:-8001}"
  [dispatch]="${DISPATCH_PORT:-8002}"
  [warranty]="${WARRANTY_PORT:-8003}"
  [parts]="${PARTS_PORT:-8004}"
  [engineering]="${ENGINEERING_PORT:-8005}"
  [console]="${CONSOLE_PORT:-8006}"
  [operations]="${OPERATIONS_PORT:-8007}"
  [notifications]="${NOTIFICATIONS_PORT:-8008}"
)

log() { printf '\033[1m[stack]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[stack] %s\033[0m\n' "$*" >&2; exit 1; }

# Print the end of a component's log and fail: used whenever something does not come up.
fail_with_log() {
  local name="$1" why="$2"
  printf '\033[31m[stack] %s: %s\033[0m\n' "$name" "$why" >&2
  if [[ -f "$LOGS/$name.log" ]]; then
    printf -- '--- last 40 lines of %s ---\n' "$LOGS/$name.log" >&2
    tail -n 40 "$LOGS/$name.log" >&2
  fi
  exit 1
}

need() { command -v "$1" >/dev/null 2>&1 || die "'$1' is required (${2:-install it first})"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() {
  local f="$RUN/$1.pid"
  [[ -f "$f" ]] && kill -0 "$(cat "$f")" 2>/dev/null
}

# ---------------------------------------------------------------------------------------------- install

install_uv() {
  if [[ -x "$TOOLS/bin/uv" ]] && [[ "$("$TOOLS/bin/uv" --version | awk '{print $2}')" == "$UV_VERSION" ]]; then
    return
  fi
  need python3
  log "installing uv $UV_VERSION into $TOOLS"
  python3 -m venv "$TOOLS"
  "$TOOLS/bin/pip" install --quiet "uv==$UV_VERSION"
}

install_python() {
  install_uv
  log "syncing the Python workspace (uv.lock)"
  # --locked: a pyproject.toml changed without `uv lock` fails here instead of running unlocked.
  UV_PYTHON_DOWNLOADS=never "$TOOLS/bin/uv" sync --locked --python python3.11 --quiet
}

install_kafka() {
  local libs="$CACHE/kafka/libs" stamp="$CACHE/kafka/pom.sha"
  local want; want="$(sha256sum "$ROOT/deploy/local/kafka/pom.xml" | cut -d' ' -f1)"
  if [[ -d "$libs" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return; fi
  need java "OpenJDK 17"; need mvn "Maven 3.8"
  log "downloading the Kafka broker jars from Maven Central (first run only, ~45 MB)"
  rm -rf "$libs"; mkdir -p "$libs"
  mvn -B -q -f "$ROOT/deploy/local/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs" || die "Maven could not fetch the Kafka jars"
  echo "$want" >"$stamp"
}

install_store() {
  local root="$CACHE/secantus" bin="$CACHE/secantus/bin/secantusd-rs" stamp="$CACHE/secantus/version"
  if [[ -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$SECANTUS_VERSION" ]]; then return; fi
  need cargo "Rust 1.95+ with cargo (rustup)"
  log "building the store: SecantusDB $SECANTUS_VERSION (crates.io secantus-mdb) with cargo;"
  log "  first time on this machine about 10 minutes on 2 cores, later clones seconds (log: $LOGS/store-build.log)"
  rm -rf "$root"; mkdir -p "$root" "$CARGO_BUILD_CACHE"
  # Without LTO and with 16 codegen units the release build takes ~10 min here instead of ~25.
  CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_TARGET_DIR="$CARGO_BUILD_CACHE" \
    cargo install secantus-mdb --version "$SECANTUS_VERSION" --locked --ignore-rust-version \
      --root "$root" -j "$(nproc)" >"$LOGS/store-build.log" 2>&1 \
    || fail_with_log store-build "cargo could not build secantus-mdb $SECANTUS_VERSION"
  [[ -x "$bin" ]] || fail_with_log store-build "the build left no $bin"
  echo "$SECANTUS_VERSION" >"$stamp"
}

apt_install() {
  # $1: the command that must exist afterwards; $2: the Debian package that provides it.
  if command -v "$1" >/dev/null 2>&1; then return; fi
  log "installing Debian's $2"
  local sudo=""; [[ $EUID -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null \
    || die "could not install $2 with apt-get"
}

install_fonts() {
  # A Chinese font for the repair record PDF (parts) and for page screenshots.
  if [[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]] || fc-list :lang=zh 2>/dev/null | grep -q .; then return; fi
  local sudo=""; [[ $EUID -ne 0 ]] && sudo="sudo"
  log "installing Debian's fonts-wqy-microhei (Chinese font for PDFs)"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null 2>&1 \
    || { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null; } \
    || die "could not install fonts-wqy-microhei with apt-get"
}

cmd_install() {
  mkdir -p "$CACHE" "$DATA" "$LOGS" "$RUN"
  install_python
  install_kafka
  install_store
  install_fonts
  local flag
  for flag in "$@"; do
    case "$flag" in
      # Debian's Chromium drives the page tests (Playwright never downloads a browser of its own here).
      --browser) apt_install chromium chromium ;;
      --bench) apt_install wrk wrk ;;
      *) die "unknown install flag $flag" ;;
    esac
  done
}

# ---------------------------------------------------------------------------------------------- start

start_kafka() {
  if pid_alive kafka; then return; fi
  port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by something this stack did not start"
  local dir="$DATA/kafka" conf="$LOCAL/run/kafka-server.properties"
  mkdir -p "$dir"
  sed -e "s#@KAFKA_PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
      -e "s#@DATA_DIR@#$dir/logs#g" "$ROOT/deploy/local/kafka/server.properties.in" >"$conf"
  local cp="$CACHE/kafka/libs/*"
  local jvm=(java -Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true
             "-Dlog4j2.configurationFile=$ROOT/deploy/local/kafka/log4j2.yaml" -cp "$cp")
  if [[ ! -f "$dir/cluster.id" ]]; then
    "${jvm[@]}" kafka.tools.StorageTool random-uuid >"$dir/cluster.id"
  fi
  "${jvm[@]}" kafka.tools.StorageTool format -t "$(cat "$dir/cluster.id")" -c "$conf" --ignore-formatted \
    >"$LOGS/kafka-format.log" 2>&1 || { cp "$LOGS/kafka-format.log" "$LOGS/kafka.log"; fail_with_log kafka "storage format failed"; }
  [[ -f "$LOGS/kafka.log" ]] && mv "$LOGS/kafka.log" "$LOGS/kafka.log.1"
  log "starting Kafka on 127.0.0.1:$KAFKA_PORT"
  nohup "${jvm[@]}" kafka.Kafka "$conf" >"$LOGS/kafka.log" 2>&1 &
  echo $! >"$RUN/kafka.pid"
}

wait_kafka() {
  local i
  for i in $(seq 1 120); do
    pid_alive kafka || fail_with_log kafka "the broker exited"
    if grep -q "Kafka Server started" "$LOGS/kafka.log" 2>/dev/null && port_open "$KAFKA_PORT"; then return; fi
    sleep 0.5
  done
  fail_with_log kafka "not started within 60 s"
}

start_store() {
  if pid_alive store; then return; fi
  port_open "$MONGO_PORT" && die "port $MONGO_PORT is taken by something this stack did not start"
  mkdir -p "$DATA/store"
  [[ -f "$LOGS/store.log" ]] && mv "$LOGS/store.log" "$LOGS/store.log.1"
  log "starting the store (SecantusDB) on 127.0.0.1:$MONGO_PORT"
  # --sync-on-commit: an acknowledged write survives kill -9 (without it 102 of 3,000 were lost).
  # The default one-node replica set is kept: transactions and change streams need it.
  # The cache defaults to 4 GB; 256 MB is plenty here and leaves memory to Kafka and the services.
  nohup "$CACHE/secantus/bin/secantusd-rs" --host 127.0.0.1 --port "$MONGO_PORT" --storage-path "$DATA/store" \
    --cache-size "${STORE_CACHE_SIZE:-256M}" --sync-on-commit --log-level WARNING >"$LOGS/store.log" 2>&1 &
  echo $! >"$RUN/store.pid"
}

wait_store() {
  local i
  for i in $(seq 1 60); do
    pid_alive store || fail_with_log store "the store exited"
    port_open "$MONGO_PORT" && return
    sleep 0.5
  done
  fail_with_log store "not listening within 30 s"
}

configure_store() {
  # A transaction that a killed process left open holds the documents it wrote until the store's
  # transaction lifetime ends (60 s by default): every batch commits in one, so after a kill -9 the
  # restarted instance's first batches conflicted on those documents for most of a minute. Ours take
  # well under a second. A server parameter: set again at every start.
  "$ROOT/.venv/bin/python" - "$MONGO_PORT" "${STORE_TRANSACTION_LIFETIME_S:-10}" <<'PY' \
    || fail_with_log store "could not set the transaction lifetime"
import sys
from pymongo import MongoClient

client = MongoClient(f"mongodb://127.0.0.1:{sys.argv[1]}/", serverSelectionTimeoutMS=30000)
client.admin.command({"setParameter": 1, "transactionLifetimeLimitSeconds": int(sys.argv[2])})
PY
}

start_service() {
  local name="$1" port="${SERVICE_PORT[$1]}"
  if pid_alive "$name"; then return; fi
  port_open "$port" && die "port $port ($name) is taken by something this stack did not start"
  [[ -f "$LOGS/$name.log" ]] && mv "$LOGS/$name.log" "$LOGS/$name.log.1"
  log "starting $name on :$port"
  # The console calls dispatch's customer status lookup on behalf of customers: locally it is the one
  # trusted proxy there, so dispatch limits each customer's address, not the console's.
  local trusted=""
  [[ "$name" == "dispatch" ]] && trusted="${FORWARDED_ALLOW_IPS:-127.0.0.1}"
  FORWARDED_ALLOW_IPS="$trusted" \
  APP_ENV="${APP_ENV:-development}" \
  KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}" \
  MONGODB_URL="${MONGODB_URL:-mongodb://127.0.0.1:$MONGO_PORT/}" \
  HTTP_PORT="$port" \
  CREDENTIALS_FILE="${CREDENTIALS_FILE:-$ROOT/deploy/local/dev-credentials.json}" \
    nohup "$ROOT/.venv/bin/python" -m "$name" >"$LOGS/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
}

wait_service() {
  local name="$1" port="${SERVICE_PORT[$1]}" i
  for i in $(seq 1 120); do
    pid_alive "$name" || fail_with_log "$name" "the service exited"
    if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then return; fi
    sleep 0.5
  done
  fail_with_log "$name" "/readyz did not answer 200 within 60 s"
}

cmd_up() {
  local what="${1:-all}"
  cmd_install
  start_store; start_kafka
  wait_store; configure_store; wait_kafka
  if [[ "$what" == "all" ]]; then
    local s
    for s in "${SERVICES[@]}"; do start_service "$s"; done
    for s in "${SERVICES[@]}"; do wait_service "$s"; done
  fi
  cmd_status
}

# ---------------------------------------------------------------------------------------------- stop

stop_one() {
  local name="$1" f="$RUN/$1.pid" pid i
  [[ -f "$f" ]] || return 0
  pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    if kill -0 "$pid" 2>/dev/null; then log "$name did not stop in 15 s; killing it"; kill -KILL "$pid" || true; fi
    log "stopped $name"
  fi
  rm -f "$f"
}

cmd_down() {
  local s
  for s in "${SERVICES[@]}"; do stop_one "$s"; done
  stop_one kafka
  stop_one store
}

cmd_status() {
  local s
  printf '%-12s %-8s %s\n' component pid address
  for s in store kafka "${SERVICES[@]}"; do
    local pid="-" addr=""
    pid_alive "$s" && pid="$(cat "$RUN/$s.pid")"
    case "$s" in
      kafka) addr="127.0.0.1:$KAFKA_PORT" ;;
      store) addr="mongodb://127.0.0.1:$MONGO_PORT/ (SecantusDB $SECANTUS_VERSION)" ;;
      console) addr="http://127.0.0.1:${SERVICE_PORT[$s]}/ (staff pages)" ;;
      operations) addr="http://127.0.0.1:${SERVICE_PORT[$s]}/ (ops page; API /docs)" ;;
      *) addr="http://127.0.0.1:${SERVICE_PORT[$s]}/docs" ;;
    esac
    printf '%-12s %-8s %s\n' "$s" "$pid" "$addr"
  done
  if pid_alive intake; then
    printf '\ncomplaint form (公众投诉页): http://127.0.0.1:%s/\n' "${SERVICE_PORT[intake]}"
  fi
  if pid_alive console; then
    printf 'console (工作台):            http://127.0.0.1:%s/   customer status: /status\n' "${SERVICE_PORT[console]}"
  fi
  printf 'logs: %s\n' "$LOGS"
}

cmd_logs() { tail -n "${2:-60}" -f "$LOGS/${1:?component}.log"; }

main() {
  mkdir -p "$CACHE" "$DATA" "$LOGS" "$RUN"
  case "${1:-}" in
    install) shift; cmd_install "$@" ;;
    up) shift; cmd_up "$@" ;;
    down) cmd_down ;;
    status) cmd_status ;;
    logs) shift; cmd_logs "$@" ;;
    *) sed -n '2,12p' "$0"; exit 2 ;;
  esac
}

main "$@"
