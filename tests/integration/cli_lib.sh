# Helpers of the shell tests that run the md-converter binary (sourced; needs $TMP).
#   run NAME EXPECTED_RC|nonzero CMD...  runs CMD, keeps stdout/stderr in $TMP/NAME.{out,err}
#   has NAME out|err TEXT                that stream of run NAME contains TEXT
#   one_line NAME                        its stderr is exactly one line (a clear message)
# Counts failures in $fails; ok/bad print one line per check.
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails+1)); }

run() {
  local name=$1 want=$2; shift 2
  "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
  local rc=$?
  if [ "$want" = nonzero ]; then
    [ $rc -ne 0 ] && ok "$name (rc=$rc)" || bad "$name: expected a non-zero exit, got 0"
  elif [ $rc -eq "$want" ]; then ok "$name"
  else bad "$name: exit $rc, expected $want; stderr: $(head -c 400 "$TMP/$name.err")"; fi
}
has() {
  grep -qF -- "$3" "$TMP/$1.$2" && ok "$1 $2 has \"$3\"" || {
    bad "$1: $2 lacks \"$3\""; head -c 600 "$TMP/$1.$2" | sed 's/^/    /'; }
}
one_line() {
  local n; n=$(wc -l <"$TMP/$1.err")
  [ "$n" -eq 1 ] && ok "$1 error is one line" || { bad "$1: stderr has $n lines"; sed 's/^/    /' "$TMP/$1.err"; }
}
