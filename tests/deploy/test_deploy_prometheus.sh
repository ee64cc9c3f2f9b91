#!/usr/bin/env bash
# Deployment check: Prometheus files under deploy/prometheus/.
#   promtool check config prometheus.yml   (scrape config + the rule file it loads)
#   promtool check rules alerts.yml
#   promtool test rules alerts_test.yml    (each alert fires / stays silent on synthetic series)
#   every alert has a runbook_url whose anchor is a heading of docs/DEPLOY.md
#   every alert of issue 5 is present and has a firing and a silent test case
# Exit 0 pass, 77 skip (promtool missing), other = fail.
set -u
cd "$(dirname "$0")/../.."
P=deploy/prometheus
if ! command -v promtool >/dev/null; then
  echo "skip: promtool not installed (Debian package prometheus; scripts/install-deps.sh all)"
  exit 77
fi
fail=0
step() { # description, command...
  local d=$1; shift
  if out=$("$@" 2>&1); then echo "ok   $d"; else echo "FAIL $d"; echo "$out" | sed 's/^/     /'; fail=1; fi
}
# promtool resolves rule_files relative to the config file's directory.
step "promtool check config $P/prometheus.yml" promtool check config "$P/prometheus.yml"
step "promtool check rules $P/alerts.yml" promtool check rules "$P/alerts.yml"
step "promtool test rules $P/alerts_test.yml" promtool test rules "$P/alerts_test.yml"

# Runbook links and test coverage (python3 + PyYAML, as test_deploy_yaml.sh).
step "runbook_url anchors exist in docs/DEPLOY.md; every alert tested firing and silent" \
/usr/bin/python3 - "$P/alerts.yml" "$P/alerts_test.yml" docs/DEPLOY.md <<'EOF'
import re, sys, yaml
rules_f, tests_f, doc_f = sys.argv[1:]
rules = [r for g in yaml.safe_load(open(rules_f))["groups"] for r in g["rules"] if "alert" in r]
tests = yaml.safe_load(open(tests_f))["tests"]
doc = open(doc_f, encoding="utf-8").read()

def slug(h):  # GitHub's heading anchor: lower-case, drop punctuation, spaces -> '-'
    h = h.strip().lower()
    h = re.sub(r"[^\w\- ]", "", h)
    return h.replace(" ", "-")
anchors = set()
in_code = False
for line in doc.splitlines():
    if line.startswith("```"):
        in_code = not in_code
    elif not in_code and (m := re.match(r"#{1,6}\s+(.*)", line)):
        anchors.add(slug(m.group(1)))
anchors |= set(re.findall(r'<a (?:id|name)="([^"]+)"', doc))

errors = []
names = {r["alert"] for r in rules}
required = {"SlowStartup", "HighMemoryIdle", "TranscriptionFailures", "ModelLoadFailures", "HealthCheckSlow"}
for n in sorted(required - names):
    errors.append(f"required alert {n} missing")
for r in rules:
    url = r.get("annotations", {}).get("runbook_url", "")
    if "#" not in url or not url.split("#")[0].endswith("docs/DEPLOY.md"):
        errors.append(f"{r['alert']}: runbook_url {url!r} does not point into docs/DEPLOY.md#…")
        continue
    if url.split("#", 1)[1] not in anchors:
        errors.append(f"{r['alert']}: anchor #{url.split('#', 1)[1]} is no heading of {doc_f}")
    print(f"  {r['alert']}: {url}")
fires, silent = set(), set()
for t in tests:
    for a in t.get("alert_rule_test", []):
        (fires if a.get("exp_alerts") else silent).add(a["alertname"])
for n in sorted(names):
    if n not in fires: errors.append(f"{n}: no test case where it fires")
    if n not in silent: errors.append(f"{n}: no test case where it stays silent")
print(f"  {len(names)} alerts; fire-tested {len(fires & names)}, silence-tested {len(silent & names)}")
for e in errors: print("  " + e)
sys.exit(1 if errors else 0)
EOF

[ $fail -eq 0 ] && echo "test_deploy_prometheus: all checks passed" || echo "test_deploy_prometheus: FAILED"
exit $fail
