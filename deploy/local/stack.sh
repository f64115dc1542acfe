#!/usr/bin/env bash
# The native local stack (no Docker engine needed): Apache Kafka from Maven Central jars (KRaft, one
# node), FerretDB v1.24.2 on SQLite built with the Go toolchain, and every service as a process.
#
#   stack.sh install            fetch/build whatever is missing (cached under .local/)
#   stack.sh up [all|infra]     start Kafka + FerretDB (+ the services), wait until each is healthy
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
FERRETDB_VERSION="v1.24.2"
UV_VERSION="0.13.8"

SERVICES=(intake dispatch warranty parts engineering console operations)
declare -A SERVICE_PORT=(
  [intake]="${INTAKE_PORT:-8001}"
  [dispatch]="${DISPATCH_PORT:-8002}"
  [warranty]="${WARRANTY_PORT:-8003}"
  [parts]="${PARTS_PORT:-8004}"
  [engineering]="${ENGINEERING_PORT:-8005}"
  [console]="${CONSOLE_PORT:-8006}"
  [operations]="${OPERATIONS_PORT:-8007}"
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
  UV_PYTHON_DOWNLOADS=never "$TOOLS/bin/uv" sync --frozen --python python3.11 --quiet
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

install_ferretdb() {
  local bin="$CACHE/ferretdb/ferretdb" stamp="$CACHE/ferretdb/build.stamp" want
  local patches=("$ROOT"/deploy/local/ferretdb/*.patch)
  # Rebuilt when the version or one of our patches changes.
  want="$FERRETDB_VERSION $(cat "${patches[@]}" | sha256sum | cut -c1-16)"
  if [[ -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return; fi
  need go "Go 1.2x"
  apt_install patch patch
  log "building FerretDB $FERRETDB_VERSION with Go (first run only, ~2 minutes)"
  local src="$CACHE/ferretdb/src" moddir
  moddir="$(cd "$ROOT/deploy/local/ferretdb" && GOFLAGS=-mod=mod go mod download -json \
    "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')"
  [[ -d "$moddir" ]] || die "go could not download github.com/FerretDB/FerretDB@$FERRETDB_VERSION"
  rm -rf "$src"; mkdir -p "$(dirname "$src")"
  cp -r "$moddir" "$src"; chmod -R u+w "$src"
  # A plain `go install` of v1.24.2 panics at start: build/version/version.txt is generated upstream
  # and missing from the module (FerretDB issue 2982). Supply it, then build from the source.
  cp "$ROOT/deploy/local/ferretdb/version.txt" "$src/build/version/version.txt"
  # Our fixes to the SQLite backend (each patch file says what and why).
  for p in "${patches[@]}"; do patch -s -d "$src" -p1 --forward <"$p" || die "FerretDB patch $p failed"; done
  (cd "$src" && GOFLAGS= go build -trimpath -o "$bin" ./cmd/ferretdb) || die "FerretDB build failed"
  rm -rf "$src"
  echo "$want" >"$stamp"
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
  install_ferretdb
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

start_ferretdb() {
  if pid_alive ferretdb; then return; fi
  port_open "$MONGO_PORT" && die "port $MONGO_PORT is taken by something this stack did not start"
  mkdir -p "$DATA/ferretdb/sqlite" "$DATA/ferretdb/state"
  [[ -f "$LOGS/ferretdb.log" ]] && mv "$LOGS/ferretdb.log" "$LOGS/ferretdb.log.1"
  log "starting FerretDB (SQLite) on 127.0.0.1:$MONGO_PORT"
  # WAL with synchronous=NORMAL: a process crash loses nothing, an OS crash may lose the last
  # transactions; the same promise the single-node broker's page cache makes, at 1.5x the write rate.
  nohup "$CACHE/ferretdb/ferretdb" --handler=sqlite --sqlite-url="file:$DATA/ferretdb/sqlite/?_pragma=synchronous(normal)" \
    --listen-addr="127.0.0.1:$MONGO_PORT" --state-dir="$DATA/ferretdb/state" \
    --debug-addr=- --telemetry=disable --log-level=warn >"$LOGS/ferretdb.log" 2>&1 &
  echo $! >"$RUN/ferretdb.pid"
}

wait_ferretdb() {
  local i
  for i in $(seq 1 60); do
    pid_alive ferretdb || fail_with_log ferretdb "FerretDB exited"
    port_open "$MONGO_PORT" && return
    sleep 0.5
  done
  fail_with_log ferretdb "not listening within 30 s"
}

start_service() {
  local name="$1" port="${SERVICE_PORT[$1]}"
  if pid_alive "$name"; then return; fi
  port_open "$port" && die "port $port ($name) is taken by something this stack did not start"
  [[ -f "$LOGS/$name.log" ]] && mv "$LOGS/$name.log" "$LOGS/$name.log.1"
  log "starting $name on :$port"
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
  start_ferretdb; start_kafka
  wait_ferretdb; wait_kafka
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
  stop_one ferretdb
}

cmd_status() {
  local s
  printf '%-12s %-8s %s\n' component pid address
  for s in ferretdb kafka "${SERVICES[@]}"; do
    local pid="-" addr=""
    pid_alive "$s" && pid="$(cat "$RUN/$s.pid")"
    case "$s" in
      kafka) addr="127.0.0.1:$KAFKA_PORT" ;;
      ferretdb) addr="mongodb://127.0.0.1:$MONGO_PORT/" ;;
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
