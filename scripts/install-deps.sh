#!/usr/bin/env bash
# Installs every Debian package md-converter needs to build, test and run.
# Used by README's two set-up commands, by .ci/run and by deploy/Dockerfile,
# so the three can never drift apart. Safe to re-run.
set -euo pipefail

RUNTIME_PKGS=(
  libavformat59 libavcodec59 libswresample4 libavutil57   # FFmpeg: decoding
  libmicrohttpd12 libopenblas0-pthread libfftw3-single3 libjansson4
  libhiredis0.14                                           # jobs in Redis, JOBS_REDIS_URL
  ca-certificates curl
)
BUILD_PKGS=(
  build-essential pkg-config zlib1g-dev
  libavformat-dev libavcodec-dev libswresample-dev libavutil-dev
  libmicrohttpd-dev libopenblas-dev libfftw3-dev libjansson-dev
  libhiredis-dev
)
TEST_PKGS=(
  libcmocka-dev                       # unit-test framework
  clang libclang-rt-14-dev            # libFuzzer + sanitizer runtimes
  python3 python3-numpy               # integration tests (stdlib HTTP client)
  prometheus yamllint                 # promtool, deployment-file checks
  python3-yaml docker-compose         # k8s manifest parsing, `docker-compose config` (no engine needed)
  ffmpeg                              # ffprobe for cross-checking decoded durations
  cmark-gfm                           # Markdown renderer: the report escaping test's oracle
  chromium nodejs                     # the page's browser test (tests/browser, playwright-core)
                                      # and the OpenAI Node SDK client (tests/clients/openai-node)
  redis-server                        # the Redis job store's tests (started by each test, loopback)
)

want=("${RUNTIME_PKGS[@]}")
case "${1:-all}" in
  runtime) ;;
  build) want+=("${BUILD_PKGS[@]}") ;;
  all) want+=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}") ;;
  *) echo "usage: $0 [runtime|build|all]" >&2; exit 2 ;;
esac

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# npm packages of the test folders that have a package-lock.json, exactly as locked.
# npm ships with some nodejs builds and separately in Debian's: install it only if absent.
# playwright-core downloads no browser: the test drives Debian's /usr/bin/chromium.
npm_deps() {
  [ "${1:-all}" = all ] || return 0
  if ! command -v npm >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm
  fi
  local here dir
  here="$(cd "$(dirname "$0")/.." && pwd)"
  for dir in "$here"/tests/browser "$here"/tests/clients/*; do
    [ -f "$dir/package-lock.json" ] || continue
    if [ -d "$dir/node_modules" ] && [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
      continue
    fi
    echo "install-deps: npm ci in ${dir#"$here"/}"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  done
}

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#want[@]} packages present"
  npm_deps "${1:-all}"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
npm_deps "${1:-all}"
