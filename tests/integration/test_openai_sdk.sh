#!/usr/bin/env bash
# The official OpenAI Node SDK (npm `openai` v6, pinned by tests/clients/openai-node/
# package-lock.json and installed by scripts/install-deps.sh with `npm ci`) against the
# real server: tests/clients/openai-node/*.test.mjs under node's built-in test runner.
# Each test file starts its own `md-converter serve` (server.mjs) on a free port.
set -u
cd "$(dirname "$0")/../clients/openai-node"
command -v node >/dev/null || { echo "FAIL: node not installed (scripts/install-deps.sh installs nodejs)"; exit 1; }
[ -f node_modules/openai/package.json ] ||
  { echo "FAIL: the openai package is not installed: run scripts/install-deps.sh (npm ci in $(pwd))"; exit 1; }
want=$(node -p 'require("./package-lock.json").packages["node_modules/openai"].version')
have=$(node -p 'require("./node_modules/openai/package.json").version')
[ "$want" = "$have" ] || { echo "FAIL: node_modules has openai $have, the lock pins $want: run npm ci"; exit 1; }
echo "openai SDK $have, node $(node --version)"
exec node --test --test-reporter=spec *.test.mjs
