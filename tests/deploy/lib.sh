# Helpers for tests/deploy/test_*.sh (sourced, not run).
#   mdc_start_server [VAR=value …]   starts "$MDC_BUILD_DIR/md-converter serve" on a free
#                                    loopback port with the micro test model; sets
#                                    MDC_PORT, MDC_URL, MDC_PID, MDC_SERVER_LOG; returns 1
#                                    if it does not answer /health within 10 s.
#   mdc_stop_server                  stops it (SIGTERM, then SIGKILL after 5 s).
# The caller must `trap mdc_stop_server EXIT`.
MDC_ROOT=${MDC_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
MDC_BUILD_DIR=${MDC_BUILD_DIR:-$MDC_ROOT/build}
case "$MDC_BUILD_DIR" in /*) ;; *) MDC_BUILD_DIR=$MDC_ROOT/$MDC_BUILD_DIR ;; esac  # BUILD=build-x
MDC_SHARED_DIR=${MDC_SHARED_DIR:-$(cd "$MDC_ROOT/.." && pwd)/shared}
case "$MDC_SHARED_DIR" in /*) ;; *) MDC_SHARED_DIR=$MDC_ROOT/$MDC_SHARED_DIR ;; esac
MDC_BIN=$MDC_BUILD_DIR/md-converter
MDC_TEST_MODEL=$MDC_SHARED_DIR/whisper-ref/models/ggml-micro-random.bin
MDC_PID=""

mdc_free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

mdc_start_server() {
  MDC_PORT=$(mdc_free_port)
  MDC_URL=http://127.0.0.1:$MDC_PORT
  MDC_WORKDIR=$(mktemp -d)
  MDC_SERVER_LOG=$MDC_WORKDIR/server.log
  # Own working directory (no stray .env), loopback only, the micro model.
  (cd "$MDC_WORKDIR" && exec env HOST=127.0.0.1 PORT="$MDC_PORT" \
      WHISPER_MODEL="$MDC_TEST_MODEL" WHISPER_MODELS_DIR="$MDC_SHARED_DIR/whisper-ref/models" \
      WHISPER_THREADS=1 LOG_FORMAT=text TMPDIR="$MDC_WORKDIR" "$@" \
      "$MDC_BIN" serve) >"$MDC_SERVER_LOG" 2>&1 &
  MDC_PID=$!
  local i
  for i in $(seq 1 200); do
    if curl -fsS -o /dev/null --max-time 1 "$MDC_URL/health" 2>/dev/null; then
      return 0
    fi
    kill -0 "$MDC_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "server did not answer $MDC_URL/health; its log:"
  sed 's/^/    /' "$MDC_SERVER_LOG" | tail -20
  return 1
}

mdc_stop_server() {
  [ -n "$MDC_PID" ] || return 0
  kill -TERM "$MDC_PID" 2>/dev/null
  local i
  for i in $(seq 1 50); do
    kill -0 "$MDC_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$MDC_PID" 2>/dev/null
  wait "$MDC_PID" 2>/dev/null
  MDC_PID=""
  [ -n "${MDC_WORKDIR:-}" ] && rm -rf "$MDC_WORKDIR"
  return 0
}
