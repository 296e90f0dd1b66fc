#!/usr/bin/env bash
# Builds, on the build machine, everything tools/gpu-check.sh runs on a GPU machine (which
# has no Rust and no network; ../shared/GPU.md, "Checking kernels on a GPU"), into the
# git-ignored folder gpu-bundle/ (or $GPU_BUNDLE):
#
#   dcc               the release binary
#   test-lib          the library's unit tests      (cargo test --release --no-run)
#   test-gpu          tests/gpu.rs, the GPU-vs-CPU differential tests
#   bench-primitives  benches/primitives.rs         (cargo bench --no-run)
#   bench-conv        benches/conv.rs
#   gpu-check.sh, torch_bench.py, torch_dcc_bench.py, MANIFEST.txt (commit, build date, sizes, sha256)
#
# Executables are found from cargo's JSON messages, debug info is stripped (the profiles
# keep line tables) so the folder stays well under the 64 MiB a GPU run can carry.
# Any failed build stops the script with a non-zero status.
#
#   bash tools/gpu-bundle.sh && <run on the GPU machine, carrying gpu-bundle>:
#   GPU_CHECK_OUT=$OUT bash gpu-bundle/gpu-check.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
BUNDLE=${GPU_BUNDLE:-$ROOT/gpu-bundle}
LIMIT_MIB=64
TMP=$(mktemp -d -t gpu-bundle.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

die() {
    echo "gpu-bundle: ERROR: $*" >&2
    exit 1
}
command -v cargo >/dev/null || die "cargo not found"
command -v python3 >/dev/null || die "python3 not found (parses cargo's JSON messages)"
if command -v strip >/dev/null; then
    STRIP=(strip --strip-debug)
elif command -v objcopy >/dev/null; then
    STRIP=(objcopy --strip-debug)
else
    die "neither strip nor objcopy found (binutils)"
fi

# cargo_json NAME ARGS...: runs cargo with JSON messages into $TMP/NAME.json; diagnostics
# are rendered on stderr as usual, so a build failure reads as one.
cargo_json() {
    local name=$1
    shift
    echo "== cargo $* --message-format=json-render-diagnostics"
    if ! cargo "$@" --message-format=json-render-diagnostics >"$TMP/$name.json"; then
        die "cargo $* failed"
    fi
}
cargo_json build build --release
cargo_json test test --release --no-run
cargo_json bench bench --no-run

# pick FILE.json KIND NAME [test]: the executable cargo reported for target NAME of KIND
# (lib, bin, test, bench); with "test", only one built in test mode (profile.test).
pick() {
    python3 - "$@" <<'PY'
import json, sys
path, kind, name = sys.argv[1:4]
want_test = len(sys.argv) > 4
hits = []
with open(path) as f:
    for line in f:
        line = line.strip()
        if not line.startswith("{"):
            continue
        m = json.loads(line)
        if m.get("reason") != "compiler-artifact" or not m.get("executable"):
            continue
        t = m.get("target", {})
        if t.get("name") != name or kind not in t.get("kind", []):
            continue
        if want_test and not m.get("profile", {}).get("test"):
            continue
        hits.append(m["executable"])
if len(set(hits)) != 1:
    sys.exit(f"{path}: expected one executable for {kind} target '{name}', found {sorted(set(hits)) or 'none'}")
print(hits[0])
PY
}

rm -rf "$BUNDLE"
mkdir -p "$BUNDLE"
# Stable name, source executable.
declare -A FROM
FROM[dcc]=$(pick "$TMP/build.json" bin dcc) || die "no dcc binary in cargo's messages"
FROM[test-lib]=$(pick "$TMP/test.json" lib dcc test) || die "no library test executable"
FROM[test-gpu]=$(pick "$TMP/test.json" test gpu test) || die "no tests/gpu.rs executable"
FROM[bench-primitives]=$(pick "$TMP/bench.json" bench primitives test) || die "no primitives bench executable"
FROM[bench-conv]=$(pick "$TMP/bench.json" bench conv test) || die "no conv bench executable"

for name in dcc test-lib test-gpu bench-primitives bench-conv; do
    src=${FROM[$name]}
    [[ -x $src ]] || die "$src is not an executable"
    "${STRIP[@]}" -o "$BUNDLE/$name" "$src" || die "${STRIP[*]} $src failed"
    chmod +x "$BUNDLE/$name"
    printf '  %-17s %7.1f MiB  <- %s\n' "$name" "$(stat -c %s "$BUNDLE/$name" | awk '{print $1 / 1048576}')" "${src#"$ROOT"/}"
done
cp tools/gpu-check.sh tools/torch_bench.py tools/torch_dcc_bench.py "$BUNDLE/"

# Still too big: drop the symbol tables too (panics then print no function names).
size=$(du -sb "$BUNDLE" | cut -f1)
if ((size > (LIMIT_MIB - 8) * 1048576)); then
    echo "gpu-bundle: $((size / 1048576)) MiB with symbols; stripping them as well"
    for name in dcc test-lib test-gpu bench-primitives bench-conv; do
        strip "$BUNDLE/$name" || die "strip $name failed"
    done
fi

{
    echo "gpu-bundle of $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes'), built $(date -u +%FT%TZ) on $(hostname)"
    echo "$(cargo --version), $(rustc --version)"
    echo "glibc needed: $(objdump -T "$BUNDLE/dcc" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
    (cd "$BUNDLE" && sha256sum dcc test-lib test-gpu bench-primitives bench-conv gpu-check.sh torch_bench.py torch_dcc_bench.py)
} >"$BUNDLE/MANIFEST.txt"
cat "$BUNDLE/MANIFEST.txt"

size=$(du -sb "$BUNDLE" | cut -f1)
echo "gpu-bundle: $BUNDLE is $(du -sh "$BUNDLE" | cut -f1) ($size bytes; limit ${LIMIT_MIB} MiB)"
if ((size > LIMIT_MIB * 1048576)); then
    die "the bundle is over ${LIMIT_MIB} MiB and cannot travel to the GPU machine"
fi
