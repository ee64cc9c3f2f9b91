#!/usr/bin/env bash
# Deployment check: every YAML file under deploy/.
#   yamllint (relaxed rules, long lines allowed) on all of them;
#   each Kubernetes manifest parses and is consistent: kinds present, selectors match
#     the pod labels, HPA/PDB/Service point at the Deployment, probes on /health and
#     /ready at the container port, non-root + read-only root FS + writable /tmp,
#     resources set, every ConfigMap key a known setting (DESIGN §4), PORT = containerPort;
#   `kubectl kustomize deploy/k8s` when kubectl is installed (offline; else said skipped);
#   `docker-compose config` (v1 client, no engine needed) when installed, else said
#     skipped; plus the compose file's own checks (healthcheck 30 s / 10 s / start_period,
#     memory limit, env_file, models volume, the Dockerfile's HEALTHCHECK agrees).
# Exit 0 pass, 77 skip (no yamllint and no PyYAML), other = fail.
set -u
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
fail=0
step() { # description, command...
  local d=$1; shift
  if out=$("$@" 2>&1); then echo "ok   $d"; [ -z "$out" ] || echo "$out" | sed 's/^/     /'
  else echo "FAIL $d"; echo "$out" | sed 's/^/     /'; fail=1; fi
}
mapfile -t files < <(find deploy -name '*.yml' -o -name '*.yaml' | sort)
echo "YAML files: ${files[*]}"
if ! command -v yamllint >/dev/null && ! $PY -c 'import yaml' 2>/dev/null; then
  echo "skip: neither yamllint nor python3-yaml installed (scripts/install-deps.sh all)"
  exit 77
fi

if command -v yamllint >/dev/null; then
  step "yamllint (relaxed, no line-length limit) on ${#files[@]} files" \
    yamllint -s -d '{extends: relaxed, rules: {line-length: disable}}' "${files[@]}"
else
  echo "skipped: yamllint not installed"
fi

step "Kubernetes manifests parse and are consistent" $PY - deploy/k8s <<'EOF'
import glob, os, re, sys, yaml
d = sys.argv[1]
docs = []
for f in sorted(glob.glob(os.path.join(d, "*.yaml"))):
    for doc in yaml.safe_load_all(open(f)):
        if doc:
            docs.append((f, doc))
errors = []
def need(cond, msg):
    if not cond:
        errors.append(msg)
by_kind = {}
for f, doc in docs:
    need("kind" in doc and "apiVersion" in doc, f"{f}: missing kind/apiVersion")
    by_kind.setdefault(doc.get("kind"), []).append(doc)
    print(f"  {os.path.basename(f)}: {doc.get('apiVersion')} {doc.get('kind')} {doc.get('metadata', {}).get('name')}")
for k in ["Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap"]:
    need(k in by_kind, f"no {k} manifest")
if errors:
    print("\n".join(errors)); sys.exit(1)

def named(kind, name):
    return next((d for d in by_kind.get(kind, []) if d["metadata"]["name"] == name), None)
dep = named("Deployment", "md-converter")
need(dep is not None, "no Deployment md-converter")
if errors:
    print("\n".join(errors)); sys.exit(1)
name = dep["metadata"]["name"]
sel = dep["spec"]["selector"]["matchLabels"]
pod = dep["spec"]["template"]
plabels = pod["metadata"]["labels"]
need(all(plabels.get(k) == v for k, v in sel.items()), "Deployment selector does not match pod labels")
spec = pod["spec"]
c = spec["containers"][0]
ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
def probe_ok(p, path):
    g = (c.get(p) or {}).get("httpGet", {})
    port = g.get("port")
    return g.get("path") == path and (port in ports or port in ports.values())
need(probe_ok("startupProbe", "/health"), "startupProbe must GET /health on the container port")
need(probe_ok("livenessProbe", "/health"), "livenessProbe must GET /health on the container port")
need(probe_ok("readinessProbe", "/ready"), "readinessProbe must GET /ready on the container port")
sp = c.get("startupProbe", {})
budget = sp.get("periodSeconds", 10) * sp.get("failureThreshold", 3)
print(f"  startupProbe budget {budget} s")
need(budget <= 30, f"startupProbe budget {budget} s: start-up takes milliseconds, keep it short")
res = c.get("resources", {})
for kind in ("requests", "limits"):
    for r in ("cpu", "memory"):
        need(r in res.get(kind, {}), f"resources.{kind}.{r} missing")
psc, csc = spec.get("securityContext", {}), c.get("securityContext", {})
need(psc.get("runAsNonRoot") or csc.get("runAsNonRoot"), "runAsNonRoot not set")
need((psc.get("runAsUser") or csc.get("runAsUser") or 0) != 0, "runAsUser must be non-zero")
need(csc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem must be true")
need(csc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation must be false")
mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
vols = {v["name"]: v for v in spec.get("volumes", [])}
need("/tmp" in mounts and "emptyDir" in vols.get(mounts.get("/tmp"), {}), "/tmp must be an emptyDir")
need("/models" in mounts, "/models not mounted")
# ConfigMap: only known settings, consistent with the container.
# The settings are the rows of the one settings table; .env.example is generated from it
# (tests/lint/test_lint_settings_docs.sh keeps it current), so read the names there.
known = set(re.findall(r"^#?([A-Z][A-Z0-9_]*)=", open(".env.example").read(), re.M))
need(len(known) >= 20, f"only {len(known)} settings found in .env.example")
cm = by_kind["ConfigMap"][0]
cm_name = cm["metadata"]["name"]
need(any(e.get("configMapRef", {}).get("name") == cm_name for e in c.get("envFrom", [])),
     f"container does not load ConfigMap {cm_name}")
for k, v in cm.get("data", {}).items():
    need(k in known, f"ConfigMap key {k} is not a setting (.env.example / src/service/config.c)")
    need(isinstance(v, str), f"ConfigMap {k} must be a string")
need("API_KEY" not in cm.get("data", {}), "API_KEY belongs in a Secret, not the ConfigMap")
need(int(cm["data"].get("PORT", "8080")) in ports.values(), "ConfigMap PORT != containerPort")
# Probes on HEALTH_PORT: its own listener and budget, so a saturated PORT never fails
# liveness; the port is a container port the probes use and the Service does not expose.
hp = int(cm["data"].get("HEALTH_PORT", "0"))
need(hp > 0, "ConfigMap HEALTH_PORT must be set (the probes' own listener)")
need(hp != int(cm["data"].get("PORT", "8080")), "HEALTH_PORT must differ from PORT")
need(hp in ports.values(), f"HEALTH_PORT {hp} is no container port")
def probe_port(p):
    port = (c.get(p) or {}).get("httpGet", {}).get("port")
    return ports.get(port, port)
for p in ("startupProbe", "livenessProbe", "readinessProbe"):
    need(probe_port(p) == hp, f"{p} must use HEALTH_PORT {hp} (got {probe_port(p)})")
ann = pod["metadata"].get("annotations", {})
need(ann.get("prometheus.io/port") in (None, str(hp)), "prometheus.io/port should be HEALTH_PORT")
need(cm["data"].get("WHISPER_MODELS_DIR") == "/models", "WHISPER_MODELS_DIR must be the /models mount")
# Service, HPA, PDB point at the Deployment's pods.
svc = named("Service", "md-converter")
need(svc is not None, "no Service md-converter")
need(all(plabels.get(k) == v for k, v in svc["spec"]["selector"].items()), "Service selector does not match pods")
for p in svc["spec"]["ports"]:
    t = p.get("targetPort")
    need(t in ports or t in ports.values(), f"Service targetPort {t} is no container port")
    need(ports.get(t, t) != hp, "the Service must not expose HEALTH_PORT (probes only)")
hpa = by_kind["HorizontalPodAutoscaler"][0]["spec"]
need(hpa["scaleTargetRef"]["kind"] == "Deployment" and hpa["scaleTargetRef"]["name"] == name,
     "HPA does not target the Deployment")
need(hpa["minReplicas"] <= hpa["maxReplicas"], "HPA minReplicas > maxReplicas")
pdb = by_kind["PodDisruptionBudget"][0]["spec"]
need(all(plabels.get(k) == v for k, v in pdb["selector"]["matchLabels"].items()), "PDB selector does not match pods")
need(pdb.get("minAvailable", 0) < hpa["minReplicas"], "PDB minAvailable must be below HPA minReplicas (else no drain)")
# The jobs' Redis: when the ConfigMap points at an in-cluster Service, it exists, and
# the grace period covers the drain.
url = cm["data"].get("JOBS_REDIS_URL", "")
if url:
    host = url.split("://", 1)[1].split("@")[-1].split(":")[0].split("/")[0]
    rsvc = named("Service", host)
    if rsvc is not None or "." not in host:
        need(rsvc is not None, f"JOBS_REDIS_URL names Service {host}, which is not defined")
        rdep = next((d for d in by_kind.get("Deployment", []) + by_kind.get("StatefulSet", [])
                     if all(d["spec"]["template"]["metadata"]["labels"].get(k) == v
                            for k, v in (rsvc or {}).get("spec", {}).get("selector", {}).items())
                     and d["metadata"]["name"] != name), None)
        need(rdep is not None, f"no Redis workload behind Service {host}")
        print(f"  jobs in Redis: Service {host} → {rdep['kind'] if rdep else '?'} {rdep['metadata']['name'] if rdep else '?'}")
grace = int(cm["data"].get("SHUTDOWN_GRACE_SECONDS", "15"))
pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
pre_s = int(next((t for t in " ".join(pre).split() if t.isdigit()), "0"))
need(pre_s + grace + 6 < spec.get("terminationGracePeriodSeconds", 30),
     f"preStop {pre_s} s + SHUTDOWN_GRACE_SECONDS {grace} + 6 s exceeds terminationGracePeriodSeconds")
# PVC if the Deployment uses one.
claims = [v["persistentVolumeClaim"]["claimName"] for v in vols.values() if "persistentVolumeClaim" in v]
pvcs = {p["metadata"]["name"] for p in by_kind.get("PersistentVolumeClaim", [])}
for cl in claims:
    need(cl in pvcs, f"PVC {cl} used but not defined")
print("\n".join("  " + e for e in errors) or "  all consistency checks hold")
sys.exit(1 if errors else 0)
EOF

if command -v kubectl >/dev/null; then
  step "kubectl kustomize deploy/k8s (offline build of the kustomization)" \
    bash -c 'kubectl kustomize deploy/k8s >/dev/null'
else
  echo "skipped: kubectl not installed (kustomize build not checked)"
fi

if command -v docker-compose >/dev/null; then
  step "docker-compose config (service + monitoring profile + the Redis scale-out file)" \
    bash -c 'cd deploy && docker-compose config -q && docker-compose --profile monitoring config -q && docker-compose -f docker-compose.yml -f docker-compose.redis.yml config -q'
else
  echo "skipped: docker-compose not installed (Debian package docker-compose; scripts/install-deps.sh all)"
fi

step "compose file and Dockerfile agree with the design" $PY - deploy/docker-compose.yml deploy/Dockerfile <<'EOF'
import re, sys, yaml
comp = yaml.safe_load(open(sys.argv[1]))
df = open(sys.argv[2]).read()
errors = []
def need(c, m):
    if not c: errors.append(m)
s = comp["services"].get("md-converter")
need(s is not None, "no service md-converter")
hc = s.get("healthcheck", {})
need("/health" in " ".join(hc.get("test", [])), "healthcheck does not GET /health")
need(hc.get("interval") == "30s" and hc.get("timeout") == "10s", "healthcheck must be interval 30s, timeout 10s")
sp = hc.get("start_period", "")
m = re.fullmatch(r"(\d+)s", sp)
need(m and int(m.group(1)) <= 15, f"start_period {sp!r}: start-up is milliseconds, keep it short")
need("mem_limit" in s or "memory" in str(s.get("deploy", {})), "no memory limit")
need(s.get("env_file"), "no env_file")
need(any(str(v).split(":")[1] == "/models" for v in s.get("volumes", [])), "no volume at /models")
need(s.get("read_only") is True, "read_only root filesystem not set")
# Dockerfile: multi-stage on bookworm, the shared install script, non-root, healthcheck.
need(len(re.findall(r"^FROM debian:bookworm", df, re.M)) >= 2, "Dockerfile must be multi-stage on debian:bookworm")
need(re.search(r"install-deps\.sh build", df) and re.search(r"^RUN make", df, re.M), "build stage must run install-deps.sh build and make")
need(re.search(r"install-deps\.sh runtime", df), "runtime stage must run install-deps.sh runtime")
user = re.findall(r"^USER\s+(\S+)", df, re.M)
need(user and not user[-1].startswith(("0", "root")), "Dockerfile must end as a non-root USER")
need(re.search(r"^EXPOSE 8080", df, re.M), "EXPOSE 8080 missing")
need(re.search(r"WHISPER_MODELS_DIR=/models", df) and "VOLUME" in df, "models volume /models missing")
dh = re.search(r"^HEALTHCHECK (.*?)\\?\n\s*CMD (.*)$", df, re.M)
need(dh and "/health" in dh.group(2), "Dockerfile HEALTHCHECK on /health missing")
if dh:
    need("--interval=30s" in dh.group(1) and "--timeout=10s" in dh.group(1)
         and f"--start-period={sp}" in dh.group(1), "Dockerfile HEALTHCHECK timings differ from compose")
# install-deps.sh runtime must provide curl for the HEALTHCHECK.
deps = open("scripts/install-deps.sh").read()
rt = re.search(r"RUNTIME_PKGS=\((.*?)\)", deps, re.S)
need(rt and re.search(r"\bcurl\b", rt.group(1)), "curl not in install-deps.sh RUNTIME_PKGS (HEALTHCHECK needs it)")
print("\n".join("  " + e for e in errors) or "  all consistency checks hold")
sys.exit(1 if errors else 0)
EOF

[ $fail -eq 0 ] && echo "test_deploy_yaml: all checks passed" || echo "test_deploy_yaml: FAILED"
exit $fail
