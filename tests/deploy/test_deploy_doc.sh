#!/usr/bin/env bash
# Deployment check: the commands of docs/DEPLOY.md.
#   - every ```sh local block is run, in document order, in one bash shell
#     (set -eo pipefail; variables carry over, as in an operator's terminal), from the
#     repo root, against a server started from "$MDC_BUILD_DIR/md-converter serve" with
#     the micro test model on a free loopback port.  Rewritten for the test:
#       localhost:8080 → the test server, localhost:8081 / PORT=8081 → a second free port,
#       build/md-converter → "$MDC_BUILD_DIR/md-converter", /tmp/ → a private temp dir;
#     RECORDING is set to a fixture recording.  All blocks must succeed.
#   - every other ```sh block must need Docker or Kubernetes (calls docker or kubectl)
#     or be marked ```sh manual; anything else could run here and so must be `sh local`;
#   - the relative links (and #anchors) of DEPLOY.md, SECURITY.md and CHANGELOG.md resolve.
# Exit 0 pass, 77 skip (no server binary), other = fail.
set -u
cd "$(dirname "$0")/../.."
source tests/deploy/lib.sh
PY=/usr/bin/python3
DOC=docs/DEPLOY.md
work=$(mktemp -d)
trap 'mdc_stop_server; rm -rf "$work"' EXIT

# Extract the blocks (and check the non-local ones).
if ! $PY - "$DOC" "$work" <<'EOF'
import re, sys
doc, work = sys.argv[1:]
lines = open(doc, encoding="utf-8").read().split("\n")
blocks, cur, tag, start = [], None, None, 0
errors = []
for i, l in enumerate(lines, 1):
    m = re.match(r"^\s*```(.*)$", l)
    if m and cur is None:
        cur, tag, start = [], m.group(1).strip(), i
    elif m and cur is not None:
        blocks.append((tag, start, "\n".join(cur)))
        cur = None
    elif cur is not None:
        cur.append(re.sub(r"^   ", "", l) if l.startswith("   ") else l)
local = [(s, b) for t, s, b in blocks if t == "sh local"]
for t, s, b in blocks:
    if t in ("sh", "bash", "shell", "console"):
        if not re.search(r"\b(docker|docker-compose|kubectl)\b", b):
            errors.append(f"{doc}:{s}: ```{t} block needs neither docker nor kubectl: mark it `sh local` so it is run")
    elif t.startswith(("sh", "bash")) and t not in ("sh local", "sh manual"):
        errors.append(f"{doc}:{s}: unknown block tag ```{t}")
n_other = sum(1 for t, _, _ in blocks if t in ("sh", "bash", "shell", "console"))
n_manual = sum(1 for t, _, _ in blocks if t == "sh manual")
print(f"{doc}: {len(local)} `sh local` blocks to run; {n_other} Docker/Kubernetes-only blocks not run here; {n_manual} manual")
with open(f"{work}/blocks.sh", "w") as f:
    for s, b in local:
        f.write(f"echo '--- {doc}:{s}'\n{b}\n")
for e in errors: print("FAIL " + e)
sys.exit(1 if errors or not local else 0)
EOF
then exit 1; fi

# Relative links of the operator documents (and their #anchors) resolve.
if ! $PY - docs/DEPLOY.md docs/SECURITY.md CHANGELOG.md <<'EOF'
import os, re, sys
def slug(h):
    return re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
def anchors(path):
    out, code = set(), False
    for line in open(path, encoding="utf-8"):
        if line.lstrip().startswith("```"):
            code = not code
        elif not code and (m := re.match(r"#{1,6}\s+(.*)", line)):
            out.add(slug(m.group(1)))
    return out
bad, n = [], 0
for doc in sys.argv[1:]:
    text = re.sub(r"```.*?```", "", open(doc, encoding="utf-8").read(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("../../"):
            continue   # absolute URLs; the changelog's compare/release links (hosting)
        n += 1
        path, _, frag = target.partition("#")
        full = os.path.normpath(os.path.join(os.path.dirname(doc), path)) if path else doc
        if not os.path.exists(full):
            bad.append(f"{doc}: link {target}: {full} does not exist")
        elif frag and full.endswith(".md") and frag not in anchors(full):
            bad.append(f"{doc}: link {target}: no heading #{frag} in {full}")
print(f"{n} relative links in {', '.join(sys.argv[1:])}: {len(bad)} broken")
for b in bad: print("FAIL " + b)
sys.exit(1 if bad else 0)
EOF
then exit 1; fi

if [ ! -x "$MDC_BIN" ]; then
  echo "skip: $MDC_BIN not built; the documented commands need the server"
  exit 77
fi
if ! mdc_start_server; then echo "FAIL: could not start $MDC_BIN serve"; exit 1; fi
port2=$(mdc_free_port)
echo "server: $MDC_URL (second port for the start-up examples: $port2)"

recording=$MDC_SHARED_DIR/fixtures/audio/meeting_ptbr_48k_f32_excerpt.wav
[ -f "$recording" ] || recording=$MDC_SHARED_DIR/whisper-ref/data/jfk.wav
# /tmp/ first: the binary's own path may lie under /tmp (a CI clone there).
sed -e "s#/tmp/#$work/#g" \
    -e "s#localhost:8080#127.0.0.1:$MDC_PORT#g" \
    -e "s#localhost:8081#127.0.0.1:$port2#g" \
    -e "s#PORT=8081#PORT=$port2#g" \
    -e "s#build/md-converter#$MDC_BIN#g" "$work/blocks.sh" >"$work/run.sh"

# The settings the documented commands expect "in the environment".
export HOST=127.0.0.1 WHISPER_MODEL="$MDC_TEST_MODEL" \
  WHISPER_MODELS_DIR="$MDC_SHARED_DIR/whisper-ref/models" WHISPER_THREADS=1 \
  LOG_FORMAT=text TMPDIR="$work" RECORDING="$recording" MDC_ENV_FILE=/dev/null
echo "running the blocks (RECORDING=$RECORDING):"
timeout 300 bash -eo pipefail "$work/run.sh" 2>&1 | sed 's/^/    /'
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
  echo "FAIL: a documented command failed (rc=$rc; the last '--- $DOC:LINE' above is the block)"
  echo "server log (last lines):"; tail -n 15 "$MDC_SERVER_LOG" | sed 's/^/    /'
  exit 1
fi
echo "test_deploy_doc: every \`sh local\` command of $DOC succeeded"
exit 0
