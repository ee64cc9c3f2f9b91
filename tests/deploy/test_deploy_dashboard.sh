#!/usr/bin/env bash
# Deployment check: deploy/grafana/dashboard.json and the metrics it and the alert rules
# query.
#   1. the dashboard JSON parses; panels have unique ids and PromQL targets; ratio panels
#      end in `or vector(0)` (0 %, not "No data", when nothing failed or ran); the
#      operational gauges (workers, build info, per-route latency) have panels;
#   2. every query (Grafana variables replaced by sample values) is valid PromQL:
#      promtool check rules on a generated rule file;
#   3. every metric name the dashboard and deploy/prometheus/alerts.yml query is exported
#      by the real server: "$MDC_BUILD_DIR/md-converter serve" is started on a free
#      loopback port with the micro test model and its live /metrics is compared
#      (probe_* come from the blackbox exporter, not the service, and are listed apart);
#      `promtool check metrics` must accept that exposition (Prometheus scrapes it).
#   If the binary does not exist, the names are compared with the DESIGN §5 list instead
#   and the test exits 77 (skipped): a static list is no proof of what the server exports.
set -u
cd "$(dirname "$0")/../.."
source tests/deploy/lib.sh
PY=/usr/bin/python3
DASH=deploy/grafana/dashboard.json
ALERTS=deploy/prometheus/alerts.yml
work=$(mktemp -d)
trap 'mdc_stop_server; rm -rf "$work"' EXIT

# 1 + extraction: queries → $work/queries.txt (one per line), names → $work/names.txt
if ! $PY - "$DASH" "$ALERTS" "$work" <<'EOF'
import json, re, sys, yaml
dash_f, alerts_f, work = sys.argv[1:]
dash = json.load(open(dash_f))            # 1. parses (raises otherwise)
errors = []
ids = []
queries = []        # (origin, PromQL)
names_src = []      # (origin, text to take metric names from)
def walk(o):
    if isinstance(o, dict):
        if o.get("type") and "gridPos" in o:
            ids.append(o.get("id"))
            if o["type"] != "row":
                t = o.get("targets") or []
                if not t or not all(x.get("expr") for x in t):
                    errors.append(f"panel {o.get('title')!r} has no PromQL target")
                for x in t:
                    queries.append((f"panel {o.get('title')!r}", x["expr"]))
        for v in o.values(): walk(v)
    elif isinstance(o, list):
        for v in o: walk(v)
walk(dash.get("panels", []))
for v in dash.get("templating", {}).get("list", []):
    q = v.get("query")
    q = q.get("query") if isinstance(q, dict) else q
    if v.get("type") == "query" and q:
        names_src.append((f"variable ${v['name']}", q))
if len(ids) != len(set(ids)):
    errors.append("panel ids are not unique")
for origin, q in queries:
    if re.search(r"\bratio\b", origin.lower()) and not q.rstrip().endswith("or vector(0)"):
        errors.append(f"{origin}: a ratio must end in 'or vector(0)' (else 'No data' instead of 0 %): {q}")
panel_text = " ".join(q for o, q in queries if o.startswith("panel"))
for need in ("mdconv_workers_busy", "mdconv_transcriptions_running", "mdconv_build_info",
             "mdconv_http_request_duration_seconds_bucket"):
    if need not in panel_text:
        errors.append(f"no panel queries {need}")
for g in yaml.safe_load(open(alerts_f))["groups"]:
    for r in g["rules"]:
        queries.append((f"alert {r.get('alert') or r.get('record')}", r["expr"]))
names_src += queries

FUNCS_KW = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "offset", "bool", "inf", "nan", "le"}
def metric_names(expr):
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)          # strings
    e = re.sub(r"\{[^}]*\}", "", e)                         # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)                        # ranges
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\$\w+", " ", e)                            # Grafana variables
    e = re.sub(r"\b\d+(\.\d+)?([eE][+-]?\d+)?[smhdwy]?\b", " ", e)  # numbers, durations
    out = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        tail = e[m.end():].lstrip()
        if tail.startswith("("):                            # function call
            continue
        if m.group(0).lower() in FUNCS_KW:
            continue
        out.add(m.group(0))
    return out
names = {}
for origin, q in names_src:
    q2 = re.sub(r"label_values\(([^,)]*)(,[^)]*)?\)", r"\1", q)
    for n in metric_names(q2):
        names.setdefault(n, set()).add(origin)
for e in errors: print("  " + e)
print(f"  dashboard: {len(ids)} panels/rows, {sum(1 for o, _ in queries if o.startswith('panel'))} panel queries; "
      f"alerts: {sum(1 for o, _ in queries if o.startswith('alert'))} rule expressions")
with open(f"{work}/queries.txt", "w") as f:
    for o, q in queries:
        q = (q.replace("$__rate_interval", "5m").replace("$__range", "1h")
              .replace("$__interval", "1m").replace("$job", ".*").replace("$instance", ".*"))
        f.write(" ".join(q.split()) + "\n")
with open(f"{work}/names.txt", "w") as f:
    for n in sorted(names):
        f.write(f"{n}\t{'; '.join(sorted(names[n]))}\n")
sys.exit(1 if errors else 0)
EOF
then echo "FAIL dashboard JSON"; exit 1; fi
echo "ok   $DASH parses; panels and targets well-formed"

# 2. PromQL syntax of every query through promtool (a rule file of recording rules).
if command -v promtool >/dev/null; then
  $PY - "$work/queries.txt" >"$work/rules.yml" <<'EOF'
import json, sys
qs = [l.rstrip("\n") for l in open(sys.argv[1]) if l.strip()]
print("groups:\n  - name: dashboard-queries\n    rules:")
for i, q in enumerate(qs):
    print(f"      - record: q{i}:check\n        expr: {json.dumps(q)}")
EOF
  if out=$(promtool check rules "$work/rules.yml" 2>&1); then
    echo "ok   every query is valid PromQL (promtool check rules, $(grep -c . "$work/queries.txt") queries)"
  else
    echo "FAIL PromQL syntax:"; echo "$out" | sed 's/^/     /'; exit 1
  fi
else
  echo "skipped: PromQL syntax (promtool not installed)"
fi

echo "metric names queried:"
sed 's/^/     /' "$work/names.txt"

# 3. Compare with the live server (or the DESIGN list as a fallback that skips).
compare() { # file with exported names (one per line, histogram families expanded)
  $PY - "$work/names.txt" "$1" <<'EOF'
import sys
wanted = [l.split("\t")[0] for l in open(sys.argv[1]) if l.strip()]
have = {l.strip() for l in open(sys.argv[2]) if l.strip()}
external = [n for n in wanted if n.startswith("probe_")]   # blackbox exporter
missing = [n for n in wanted if n not in have and n not in external]
for n in external:
    print(f"  {n}: from the blackbox exporter (job md-converter-health), not the service")
for n in missing:
    print(f"  MISSING: {n} is queried but not exported")
print(f"  {len(wanted) - len(external) - len(missing)} of {len(wanted) - len(external)} service metrics found")
sys.exit(1 if missing else 0)
EOF
}

if [ ! -x "$MDC_BIN" ]; then
  echo "no server binary at $MDC_BIN: comparing with the DESIGN §5 list (and issue 9's additions) instead"
  for n in mdconv_startup_seconds mdconv_model_state mdconv_model_loads_total \
           mdconv_model_load_failures_total mdconv_model_unloads_total \
           mdconv_transcriptions_total mdconv_audio_seconds_total mdconv_queue_depth \
           mdconv_http_requests_total mdconv_workers mdconv_workers_busy \
           mdconv_transcriptions_running mdconv_build_info process_resident_memory_bytes \
           process_start_time_seconds process_cpu_seconds_total; do echo "$n"; done >"$work/have.txt"
  for h in mdconv_model_load_seconds mdconv_transcription_seconds mdconv_realtime_factor \
           mdconv_http_request_duration_seconds; do
    printf '%s\n' "${h}_bucket" "${h}_sum" "${h}_count"
  done >>"$work/have.txt"
  compare "$work/have.txt" || { echo "FAIL: queries use names outside DESIGN §5"; exit 1; }
  echo "skip: $MDC_BIN not built; names checked against DESIGN §5 only, not a live /metrics"
  exit 77
fi

if ! mdc_start_server; then
  echo "FAIL: could not start $MDC_BIN serve"; exit 1
fi
echo "server: $MDC_BIN serve on $MDC_URL (model $MDC_TEST_MODEL)"
scrape() {
  curl -fsS --max-time 10 "$MDC_URL/metrics" >"$work/metrics.txt" || return 1
  # Sample names, plus every family announced by # TYPE (a labelled family may have no
  # series before its first use), histograms expanded to _bucket/_sum/_count.
  $PY - "$work/metrics.txt" >"$work/have.txt" <<'EOF'
import re, sys
have = set()
for line in open(sys.argv[1]):
    if line.startswith("# TYPE "):
        _, _, name, typ = line.split()[:4]
        have.add(name)
        if typ in ("histogram", "summary"):
            have |= {name + "_bucket", name + "_sum", name + "_count"}
    elif line.strip() and not line.startswith("#"):
        have.add(re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0))
print("\n".join(sorted(have)))
EOF
}
if ! scrape; then echo "FAIL: GET $MDC_URL/metrics"; exit 1; fi
echo "live /metrics: $(grep -c . "$work/have.txt") names"
if command -v promtool >/dev/null; then
  if out=$(promtool check metrics <"$work/metrics.txt" 2>&1); then
    echo "ok   promtool check metrics accepts the live exposition"
  else
    echo "FAIL promtool check metrics:"; echo "$out" | sed 's/^/     /'; exit 1
  fi
fi
if compare "$work/have.txt"; then
  echo "test_deploy_dashboard: every queried metric is exported by the live server"
  exit 0
fi
# Labelled series may appear only after their first use: run one short transcription
# and look again before failing.
fixture=$MDC_SHARED_DIR/fixtures/audio/edge_speech_0.5s.wav
if [ -f "$fixture" ]; then
  echo "retrying after one transcription of $(basename "$fixture")"
  curl -sS --max-time 120 -o /dev/null -w '  POST /relatorio/process-meeting -> %{http_code}\n' \
    -F "file=@$fixture" "$MDC_URL/relatorio/process-meeting"
  scrape && compare "$work/have.txt" && { echo "test_deploy_dashboard: every queried metric is exported (after one transcription)"; exit 0; }
fi
echo "FAIL: the dashboard or the alerts query metrics the server does not export"
exit 1
