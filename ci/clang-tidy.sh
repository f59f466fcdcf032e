#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy at the repository root) on the first-party sources under core/,
# harness/, transports/, suites/ and results/ (tests/ and bench/ are left out) that are in the
# release build's compilation database, so a part that is not built here (verbs without
# libibverbs) is not linted. Prints every finding once, a summary by check, and exits non-zero
# on any finding or clang-tidy failure.
#
# Usage: ci/clang-tidy.sh [BUILD_DIR]   (default build/release; needs its compile_commands.json,
#                                        written by `cmake --preset release`)
# Environment: CLANG_TIDY_JOBS (default nproc); CLANG_TIDY_XARGS=1 uses xargs even where
# run-clang-tidy is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd -P)
build_dir=${1:-build/release}
db="${build_dir}/compile_commands.json"
jobs=${CLANG_TIDY_JOBS:-$(nproc)}
dirs='core|harness|transports|suites|results'

if [ ! -f "${db}" ]; then
  echo "clang-tidy.sh: ${db} not found; run 'cmake --preset release' first" >&2
  exit 2
fi
tidy=$(command -v clang-tidy || true)
if [ -z "${tidy}" ]; then
  echo "clang-tidy.sh: clang-tidy not found (Debian package clang-tidy, ci/install-deps.sh)" >&2
  exit 2
fi

# The translation units to lint: first-party .cpp files of the compilation database.
mapfile -t files < <(python3 - "${db}" "${root}" "${dirs}" <<'EOF'
import json, os, re, sys
db, root, dirs = sys.argv[1:4]
pattern = re.compile("^" + re.escape(root) + "/(" + dirs + ")/")
names = set()
for entry in json.load(open(db)):
    # As run-clang-tidy names it; selected by where it really is.
    name = os.path.normpath(os.path.join(entry["directory"], entry["file"]))
    if pattern.match(os.path.realpath(name)):
        names.add(name)
print("\n".join(sorted(names)))
EOF
)
if [ ${#files[@]} -eq 0 ]; then
  echo "clang-tidy.sh: no first-party sources in ${db}" >&2
  exit 2
fi

# Headers of the same folders, anchored at the root: leaves out build/ (the generated
# core/version.hpp) and third-party headers.
roots=$(printf '%s\n' "${root}" "$(pwd -L)" | sort -u |
  python3 -c 'import re, sys; print("|".join(re.escape(l.strip()) for l in sys.stdin))')
header_filter="^(${roots})/(${dirs})/"
log=$(mktemp)
trap 'rm -f "${log}"' EXIT

echo "clang-tidy.sh: $("${tidy}" --version | grep -i version | head -1 | sed 's/^ *//')"
echo "clang-tidy.sh: ${#files[@]} translation units from ${db}, ${jobs} jobs, checks from .clang-tidy"
start=$(date +%s)
status=0
runner=""
[ "${CLANG_TIDY_XARGS:-0}" = 1 ] || runner=$(command -v run-clang-tidy || true)
if [ -n "${runner}" ]; then
  echo "clang-tidy.sh: running ${runner}"
  # run-clang-tidy takes regexes on the file names; the exact names, escaped, select the list.
  mapfile -t regexes < <(printf '%s\n' "${files[@]}" |
    python3 -c 'import re, sys; print("\n".join("^" + re.escape(l.strip()) + "$" for l in sys.stdin))')
  "${runner}" -quiet -p "${build_dir}" -clang-tidy-binary "${tidy}" -j "${jobs}" \
    -header-filter "${header_filter}" "${regexes[@]}" >"${log}" 2>&1 || status=$?
else
  echo "clang-tidy.sh: running clang-tidy through xargs -P${jobs} (no run-clang-tidy, or CLANG_TIDY_XARGS=1)"
  printf '%s\0' "${files[@]}" |
    xargs -0 -n 1 -P "${jobs}" "${tidy}" --quiet -p "${build_dir}" \
      --header-filter="${header_filter}" >"${log}" 2>&1 || status=$?
fi
elapsed=$(($(date +%s) - start))
# run-clang-tidy 14 always passes --use-color: drop the escape sequences.
sed -i 's/\x1b\[[0-9;]*m//g' "${log}"

# Every diagnostic once (a header's findings repeat in each unit that includes it), with its
# notes; then the count per check.
findings=0
python3 - "${log}" "${root}" <<'EOF' || findings=$?
import collections, re, sys
log, root = sys.argv[1], sys.argv[2] + "/"
diag = re.compile(r"^(/[^:]+):(\d+):(\d+): (warning|error): (.*?)(?: \[([^\]]+)\])?$")
note = re.compile(r"^(/[^:]+):(\d+):(\d+): note: (.*)$")
findings = collections.OrderedDict()
current = None
for line in open(log, encoding="utf-8", errors="replace"):
    line = line.rstrip("\n")
    m = diag.match(line)
    if m:
        path, ln, col, _, msg, check = m.groups()
        checks = (check or "clang-diagnostic-error").split(",")
        check = next((c for c in checks if c != "-warnings-as-errors"), checks[0])
        key = (path.replace(root, "", 1), int(ln), int(col), msg, check)
        current = findings.setdefault(key, [])
        continue
    m = note.match(line)
    if m and current is not None:
        text = m.group(4)
        if text not in current:
            current.append(text)
by_check = collections.Counter()
for (path, ln, col, msg, check), notes in sorted(findings.items()):
    by_check[check] += 1
    extra = "; ".join(notes)
    print(f"{path}:{ln}:{col}: [{check}] {msg}" + (f" ({extra})" if extra else ""))
if findings:
    print("clang-tidy.sh: findings by check:")
    for check, n in sorted(by_check.items()):
        print(f"  {n:4d} {check}")
print(f"clang-tidy.sh: {len(findings)} finding(s)")
sys.exit(1 if findings else 0)
EOF

if [ "${status}" -ne 0 ] || [ "${findings}" -ne 0 ]; then
  # clang-tidy failed without a parsable diagnostic (crash, bad flags): show its output.
  if ! grep -qE ': (warning|error): ' "${log}"; then
    cat "${log}"
  fi
  echo "clang-tidy.sh: FAILED after ${elapsed} s (clang-tidy exit ${status}); fix the findings above," \
    "or see .clang-tidy"
  exit 1
fi
echo "clang-tidy.sh: clean, ${#files[@]} translation units in ${elapsed} s"
