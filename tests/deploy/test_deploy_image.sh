#!/usr/bin/env bash
# Deployment check: the runtime image can run the binary.  No Docker engine exists here,
# so the runtime stage of deploy/Dockerfile is checked by what it consists of:
#   every shared library the built binary links (ldd) belongs to a Debian package that
#   `scripts/install-deps.sh runtime` installs, or that those packages depend on
#   (transitively, from the installed packages' Depends/Pre-Depends), or that a
#   debian:bookworm-slim base has anyway (Essential / Priority required);
#   curl (the HEALTHCHECK) is in the runtime list;
#   the files the runtime stage copies from the build stage exist after `make`;
#   the image's file layout, rebuilt from the COPY --from=build lines in a scratch root,
#   works: the binary finds its FFmpeg decoder plugin there (random bytes -> 415, a
#   recording -> 200 report; micro test model, free loopback port);
#   the Dockerfile HEALTHCHECK and compose healthcheck commands pass against that live
#   server and fail when it is gone.
# Exit 0 pass, 77 skip (binary not built, or not a dpkg system), other = fail.
set -u
cd "$(dirname "$0")/../.."
source tests/deploy/lib.sh
if [ ! -x "$MDC_BIN" ]; then echo "skip: $MDC_BIN not built"; exit 77; fi
if ! command -v dpkg-query >/dev/null; then echo "skip: not a dpkg system"; exit 77; fi

/usr/bin/python3 - "$MDC_BIN" scripts/install-deps.sh deploy/Dockerfile <<'EOF'
import os, re, subprocess, sys
binary, deps_f, dockerfile = sys.argv[1:]
errors = []
deps = open(deps_f).read()
m = re.search(r"RUNTIME_PKGS=\((.*?)\n\)", deps, re.S)
runtime = set()
for line in m.group(1).splitlines():
    runtime |= set(line.split("#")[0].split())
print(f"install-deps.sh runtime: {' '.join(sorted(runtime))}")
if "curl" not in runtime:
    errors.append("curl missing from RUNTIME_PKGS (the HEALTHCHECK uses it)")

# Installed packages: dependencies, provides, priority.
out = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${Status}\t${Essential}\t${Priority}\t${Depends}, ${Pre-Depends}\t${Provides}\n"],
                     capture_output=True, text=True).stdout
depends, provides, base = {}, {}, set()
for line in out.splitlines():
    pkg, status, ess, prio, dep, prov = (line.split("\t") + [""] * 6)[:6]
    if "installed" not in status.split():
        continue
    if ess == "yes" or prio == "required":
        base.add(pkg)
    alts = []
    for d in dep.split(","):
        names = [re.sub(r"[ :(].*", "", a.strip()) for a in d.split("|") if a.strip()]
        if names:
            alts.append(names)
    depends[pkg] = alts
    for p in prov.split(","):
        p = re.sub(r"[ (].*", "", p.strip())
        if p:
            provides.setdefault(p, []).append(pkg)

closure, todo = set(), list(runtime | base)
while todo:
    p = todo.pop()
    if p in closure:
        continue
    closure.add(p)
    for alt in depends.get(p, []):
        for a in alt:   # every installed alternative (approximation of what apt picks)
            for q in [a] + provides.get(a, []):
                if q in depends and q not in closure:
                    todo.append(q)

# Every ELF file the runtime stage copies from the build stage (the binary and the
# FFmpeg decoder plugin it dlopen()s), as built here.
df = open(dockerfile).read()
copies = re.findall(r"^COPY --from=build (\S+) (\S+)", df, re.M)
build_dir = os.path.dirname(binary)
def local_path(src):
    rel = src.removeprefix("/src/")
    return os.path.join(build_dir, rel[len("build/"):]) if rel.startswith("build/") else rel
elves = [local_path(src) for src, _ in copies
         if os.path.isfile(local_path(src)) and open(local_path(src), "rb").read(4) == b"\x7fELF"]
libs = {}
for elf in elves:
    ldd = subprocess.run(["ldd", elf], capture_output=True, text=True).stdout
    for line in ldd.splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line)
        if m:
            libs[m.group(1)] = m.group(2)
        elif "not found" in line:
            errors.append(f"ldd {elf}: {line.strip()}")
print(f"ELF files the image gets from the build stage: {' '.join(elves)}")
# Which package owns which file: dpkg's own file lists (one read, instead of a slow
# `dpkg -S` per library).
wanted_paths = {}
for soname, path in libs.items():
    cands = {path, os.path.realpath(path)}
    for c in list(cands):
        if c.startswith("/lib/"):
            cands.add("/usr" + c)
        elif c.startswith("/usr/lib/"):
            cands.add(c[4:])
    for c in cands:
        wanted_paths[c] = None
info = "/var/lib/dpkg/info"
for fn in os.listdir(info):
    if not fn.endswith(".list"):
        continue
    pkg_name = fn[:-5].split(":")[0]
    with open(os.path.join(info, fn), errors="replace") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line in wanted_paths and wanted_paths[line] is None:
                wanted_paths[line] = pkg_name
owners = {}
for soname, path in sorted(libs.items()):
    cands = {path, os.path.realpath(path)}
    for c in list(cands):
        if c.startswith("/lib/"):
            cands.add("/usr" + c)
        elif c.startswith("/usr/lib/"):
            cands.add(c[4:])
    pkg = next((wanted_paths[c] for c in cands if wanted_paths.get(c)), None)
    if not pkg:
        errors.append(f"{soname} ({path}) belongs to no Debian package: the image would lack it")
        continue
    owners[soname] = pkg
    if pkg not in closure:
        errors.append(f"{soname} comes from {pkg}, which install-deps.sh runtime does not install")
direct = sorted({owners[s] for s in owners} & runtime)
print(f"they link {len(libs)} shared libraries from {len(set(owners.values()))} packages; "
      f"all within the runtime closure ({len(closure)} packages)" if not errors else "")
print(f"  provided directly by the runtime list: {' '.join(direct)}")

# The runtime stage's COPY --from=build sources exist after `make` (BUILD=build there;
# here the same relative layout under the test's build directory).
for src, _ in copies:
    rel = local_path(src)
    if rel == "web":
        print("  web/: created by the build stage (mkdir -p web) when absent")
        continue
    if not os.path.exists(rel):
        errors.append(f"Dockerfile copies {src} from the build stage, but {rel} does not exist after make")
    else:
        print(f"  COPY --from=build {src}: present ({rel})")
for e in errors:
    print("FAIL " + e)
sys.exit(1 if errors else 0)
EOF
rc=$?
[ $rc -eq 0 ] || exit $rc

# The health checks themselves: the Dockerfile HEALTHCHECK command and the compose
# healthcheck command, run as the container would run them (sh -c, PORT from the
# environment), must pass against a live server and fail once it is gone.
hc_docker=$(/usr/bin/python3 -c '
import re; df = open("deploy/Dockerfile").read()
print(re.search(r"^HEALTHCHECK .*?\\?\n\s*CMD (.*)$", df, re.M).group(1))')
hc_compose=$(/usr/bin/python3 -c '
import yaml; t = yaml.safe_load(open("deploy/docker-compose.yml"))["services"]["md-converter"]["healthcheck"]["test"]
assert t[0] == "CMD-SHELL"; print(t[1].replace("$$", "$"))')
# The image's file layout, rebuilt in a scratch root from the Dockerfile's
# COPY --from=build lines: the binary must find its decoder plugin (and upload page)
# where the image puts them, with no MDC_AUDIO_PLUGIN / WEB_DIR help.
root=$(mktemp -d)
trap 'mdc_stop_server; rm -rf "$root"' EXIT
while read -r src dst; do
  rel=${src#/src/}
  case "$rel" in build/*) rel=$MDC_BUILD_DIR/${rel#build/} ;; esac
  mkdir -p "$root$(dirname "$dst")"
  if [ -d "$rel" ]; then cp -r "$rel" "$root$dst"; elif [ -e "$rel" ]; then cp "$rel" "$root$dst"
  elif [ "$rel" = web ]; then mkdir -p "$root$dst"; else echo "FAIL: $rel missing"; exit 1; fi
  echo "  image layout: $dst"
done < <(sed -n 's#^COPY --from=build \(\S*\) \(\S*\)$#\1 \2#p' deploy/Dockerfile)
unset MDC_AUDIO_PLUGIN WEB_DIR
MDC_BIN=$root/usr/local/bin/md-converter
mdc_start_server || { echo "FAIL: could not start $MDC_BIN"; exit 1; }
bad=$MDC_SHARED_DIR/fixtures/audio/bad_random_bytes.mp3
good=$MDC_SHARED_DIR/fixtures/audio/edge_speech_0.5s.wav
if [ -f "$bad" ] && [ -f "$good" ]; then
  code=$(curl -sS -o "$root/bad.json" -w '%{http_code}' -F "file=@$bad" "$MDC_URL/relatorio/process-meeting")
  if [ "$code" = 415 ]; then echo "ok   image layout: the decoder plugin loads (random bytes -> 415 from FFmpeg's probe)"
  else echo "FAIL image layout: random bytes -> $code (500 = decoder plugin not found): $(cat "$root/bad.json")"
       grep -i "plugin\|mdc-audio" "$MDC_SERVER_LOG" | tail -3; exit 1; fi
  code=$(curl -sS -o "$root/good.md" -w '%{http_code}' --max-time 300 -F "file=@$good" -F language=pt \
         "$MDC_URL/relatorio/process-meeting")
  if [ "$code" = 200 ]; then echo "ok   image layout: a recording is transcribed (200, $(wc -c <"$root/good.md") bytes of Markdown)"
  else echo "FAIL image layout: transcription -> $code: $(head -c 300 "$root/good.md")"; exit 1; fi
else
  echo "skipped: image-layout transcription (fixtures not found under $MDC_SHARED_DIR)"
fi
for name in docker compose; do
  eval "cmd=\$hc_$name"
  if PORT=$MDC_PORT sh -c "$cmd"; then echo "ok   $name healthcheck passes on a live server: $cmd"
  else echo "FAIL $name healthcheck fails on a live server: $cmd"; exit 1; fi
done
mdc_stop_server
for name in docker compose; do
  eval "cmd=\$hc_$name"
  if PORT=$MDC_PORT sh -c "$cmd" 2>/dev/null; then echo "FAIL $name healthcheck passes with no server"; exit 1
  else echo "ok   $name healthcheck fails once the server is gone"; fi
done
echo "test_deploy_image: the runtime packages cover the binary and its plugin; the image layout transcribes; both health checks work"
exit 0
