#!/usr/bin/env bash
# Installs every Debian package md-converter needs to build, test and run.
# Used by README's two set-up commands, by .ci/run and by deploy/Dockerfile,
# so the three can never drift apart. Safe to re-run.
set -euo pipefail

RUNTIME_PKGS=(
  libavformat59 libavcodec59 libswresample4 libavutil57   # FFmpeg: decoding
  libmicrohttpd12 libopenblas0-pthread libfftw3-single3 libjansson4
  ca-certificates curl
)
BUILD_PKGS=(
  build-essential pkg-config zlib1g-dev
  libavformat-dev libavcodec-dev libswresample-dev libavutil-dev
  libmicrohttpd-dev libopenblas-dev libfftw3-dev libjansson-dev
)
TEST_PKGS=(
  libcmocka-dev                       # unit-test framework
  clang libclang-rt-14-dev            # libFuzzer + sanitizer runtimes
  python3 python3-numpy               # integration tests (stdlib HTTP client)
  prometheus yamllint                 # promtool, deployment-file checks
  python3-yaml docker-compose         # k8s manifest parsing, `docker-compose config` (no engine needed)
  ffmpeg                              # ffprobe for cross-checking decoded durations
  cmark-gfm                           # Markdown renderer: the report escaping test's oracle
)
# Node.js + npm run the official OpenAI Node SDK test client (tests/clients/openai-node).
# Checked by command, not by package: a node from another source (NodeSource bundles npm)
# serves as well as Debian's nodejs + npm.
NODE_PKGS=(nodejs npm)

want=("${RUNTIME_PKGS[@]}")
case "${1:-all}" in
  runtime) ;;
  build) want+=("${BUILD_PKGS[@]}") ;;
  all) want+=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}") ;;
  *) echo "usage: $0 [runtime|build|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${1:-all}" = all ] && ! { command -v node && command -v npm; } >/dev/null; then
  missing+=("${NODE_PKGS[@]}")
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#want[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm test clients: exactly the versions in each package-lock.json
if [ "${1:-all}" = all ]; then
  here=$(cd "$(dirname "$0")/.." && pwd)
  for dir in "$here"/tests/clients/*/; do
    [ -f "$dir/package-lock.json" ] || continue
    if [ -d "$dir/node_modules" ] && (cd "$dir" && npm ls --omit=dev >/dev/null 2>&1); then
      echo "install-deps: npm packages of ${dir#"$here"/} present"
    else
      echo "install-deps: npm ci in ${dir#"$here"/}"
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
  done
fi
