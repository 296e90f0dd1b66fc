#!/usr/bin/env bash
# The one script that runs on a GPU machine (../shared/GPU.md, "Checking kernels on a GPU").
# Those machines have no Rust and no network, so it runs what tools/gpu-bundle.sh built:
#
#   bash tools/gpu-bundle.sh                      # on the build machine
#   GPU_CHECK_OUT=$OUT bash gpu-bundle/gpu-check.sh   # on the GPU machine, from the repo root
#
# Steps, each under `timeout` and all within GPU_CHECK_BUDGET seconds (default 450, so the
# whole check ends inside 8 minutes); a failing step is remembered and the next one runs:
#   a. GPU, driver, nvcc and NVRTC (libnvrtc.so.13 is looked for and put on
#      LD_LIBRARY_PATH for dcc only; PyTorch keeps its own CUDA libraries); `dcc devices`
#   b. `dcc kernels --arch sm_90`: every kernel's registers, shared memory and spills
#   c. the GPU-vs-CPU differential tests (tests/gpu.rs) with DCC_TEST_DEVICE=cuda
#   d. training throughput: `dcc bench train --device cuda` for both networks, and the same
#      step in PyTorch (tools/torch_bench.py: eager fp32, AMP bf16 + channels_last, compile);
#      tools/dcc_torch.py's latents against dcc's (tools/test_dcc_torch.py); the DCC kernels
#      (`dcc bench cclp|knn --device cuda`, each checked against the CPU) beside PyTorch's
#      composed CCLP and torch.cdist + topk (tools/torch_dcc_bench.py)
#   e. one summary table; the full log and a JSON of the figures in $GPU_CHECK_OUT
#      (gpu-check.log, gpu-check.json, steps/<step>.txt), default a new temporary folder.
# Exits non-zero if any step failed or timed out.
set -uo pipefail

ROOT=$PWD
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ -n ${GPU_BUNDLE:-} ]]; then
    BUNDLE=$GPU_BUNDLE
elif [[ -x $HERE/dcc ]]; then
    BUNDLE=$HERE                  # run as gpu-bundle/gpu-check.sh
else
    BUNDLE=$ROOT/gpu-bundle       # run as tools/gpu-check.sh from the repo root
fi
BUNDLE=$(cd "$BUNDLE" 2>/dev/null && pwd || echo "$BUNDLE")
OUT=${GPU_CHECK_OUT:-$(mktemp -d -t gpu-check-out.XXXXXX)}
mkdir -p "$OUT/steps"
OUT=$(cd "$OUT" && pwd)
LOG=$OUT/gpu-check.log
WORK=$(mktemp -d -t gpu-check-work.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
BUDGET=${GPU_CHECK_BUDGET:-450}
ARCH=${GPU_CHECK_ARCH:-sm_90}
if [[ -f $BUNDLE/torch_bench.py ]]; then TORCH_BENCH=$BUNDLE/torch_bench.py; else TORCH_BENCH=$ROOT/tools/torch_bench.py; fi
if [[ -f $BUNDLE/torch_dcc_bench.py ]]; then TORCH_DCC_BENCH=$BUNDLE/torch_dcc_bench.py; else TORCH_DCC_BENCH=$ROOT/tools/torch_dcc_bench.py; fi

# PyTorch runs under the environment this script was given: the NVRTC folder found below
# could otherwise shadow the CUDA libraries of its own wheels.
if [[ -n ${LD_LIBRARY_PATH+x} ]]; then
    TORCH_ENV=(env "LD_LIBRARY_PATH=$LD_LIBRARY_PATH")
else
    TORCH_ENV=(env -u LD_LIBRARY_PATH)
fi

FAILED=()
: >"$OUT/steps.tsv"

# step [--info] NAME TIMEOUT_S CMD...: runs CMD under `timeout`, clamped to what is left of
# the budget; output to the log and to steps/NAME.txt; the status and time to steps.tsv.
# A failure is remembered unless --info (informational steps such as nvcc --version).
step() {
    local info=0
    if [[ $1 == --info ]]; then info=1; shift; fi
    local name=$1 limit=$2
    shift 2
    local left=$((DEADLINE - SECONDS))
    if ((limit > left)); then limit=$left; fi
    echo
    echo "=== [$name] $* (timeout ${limit}s; $((SECONDS - STARTED)) s elapsed)"
    if ((limit < 15)); then
        echo "=== [$name] SKIPPED: out of time (GPU_CHECK_BUDGET=${BUDGET}s)"
        printf '%s\t%s\t%s\t%s\n' "$name" skipped 0 "$limit" >>"$OUT/steps.tsv"
        ((info)) || FAILED+=("$name(skipped)")
        return 0
    fi
    local t0=$SECONDS rc
    timeout --kill-after=5 "$limit" "$@" 2>&1 | tee "$OUT/steps/$name.txt"
    rc=${PIPESTATUS[0]}
    local dt=$((SECONDS - t0))
    case $rc in
        0) echo "=== [$name] ok in ${dt}s" ;;
        124 | 137) echo "=== [$name] TIMED OUT after ${dt}s (limit ${limit}s)" ;;
        *) echo "=== [$name] FAILED with status $rc after ${dt}s" ;;
    esac
    printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$dt" "$limit" >>"$OUT/steps.tsv"
    if ((rc != 0 && !info)); then FAILED+=("$name(rc=$rc)"); fi
    return 0
}

# Finds every libnvrtc.so.13 (ldconfig, the CUDA toolkit folders, Python's site-packages
# nvidia/cu13/lib and nvidia/cuda_nvrtc/lib, else a search of /), asks each its version
# and picks the newest one the driver accepts (a PTX from a newer NVRTC than the driver
# is refused at load time). Last line: "CHOSEN <path> <version>".
write_find_nvrtc() {
    cat >"$WORK/find_nvrtc.py" <<'PY'
import ctypes, glob, os, site, subprocess, sys

paths, seen = [], set()
def add(p):
    if os.path.isfile(p):
        rp = os.path.realpath(p)
        if rp not in seen:
            seen.add(rp)
            paths.append(p)

try:
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, timeout=20).stdout
    for line in out.splitlines():
        if "libnvrtc.so.13" in line and "=>" in line:
            add(line.split("=>", 1)[1].strip())
except Exception as e:
    print(f"ldconfig -p: {e}")
dirs = ["/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib"]
dirs += sorted(glob.glob("/usr/local/cuda-13*/lib64")) + sorted(glob.glob("/usr/local/cuda-13*/targets/x86_64-linux/lib"))
dirs += ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"]
try:
    sp = site.getsitepackages() + [site.getusersitepackages()]
except Exception:
    sp = []
for d in dirs:
    add(os.path.join(d, "libnvrtc.so.13"))
for s in sp + sys.path:
    for sub in ("nvidia/cu13/lib", "nvidia/cuda_nvrtc/lib"):
        add(os.path.join(s, sub, "libnvrtc.so.13"))
if not paths:
    print("not in the usual places; searching / ...")
    try:
        out = subprocess.run(["find", "/", "-xdev", "-name", "libnvrtc.so.13*", "-not", "-path", "/proc/*"],
                             capture_output=True, text=True, timeout=60).stdout
        for p in out.split():
            if os.path.basename(p).startswith("libnvrtc.so.13"):
                add(p)
    except Exception as e:
        print(f"find: {e}")

driver = None
try:
    cu = ctypes.CDLL("libcuda.so.1")
    v = ctypes.c_int()
    if cu.cuDriverGetVersion(ctypes.byref(v)) == 0:
        driver = v.value
except OSError as e:
    print(f"libcuda.so.1: {e}")
print(f"driver CUDA API: {driver // 1000}.{driver % 1000 // 10}" if driver else "driver CUDA API: unknown")

found = []
for p in paths:
    try:
        lib = ctypes.CDLL(p)
        ma, mi = ctypes.c_int(), ctypes.c_int()
        if lib.nvrtcVersion(ctypes.byref(ma), ctypes.byref(mi)) != 0:
            raise OSError("nvrtcVersion failed")
        found.append((ma.value * 1000 + mi.value * 10, f"{ma.value}.{mi.value}", p))
        print(f"  {p}: NVRTC {ma.value}.{mi.value}")
    except OSError as e:
        print(f"  {p}: unusable ({e})")
if not found:
    print("no usable libnvrtc.so.13 found")
    sys.exit(1)
ok = [f for f in found if driver is None or f[0] <= driver]
if not ok:
    print("every NVRTC found is newer than the driver: its PTX will be refused; taking the oldest")
    ok = [min(found)]
best = max(ok, key=lambda f: f[0])  # first listed wins a tie (max keeps the first)
print(f"CHOSEN {best[2]} {best[1]}")
PY
}

main() {
    STARTED=$SECONDS
    DEADLINE=$((SECONDS + BUDGET))
    echo "gpu-check: $(date -u +%FT%TZ) on $(hostname); repo $ROOT; bundle $BUNDLE; out $OUT; budget ${BUDGET}s"
    if [[ -f $BUNDLE/MANIFEST.txt ]]; then
        cat "$BUNDLE/MANIFEST.txt"
    else
        echo "no $BUNDLE/MANIFEST.txt: was the bundle built with tools/gpu-bundle.sh?"
    fi
    for f in dcc test-gpu; do
        [[ -x $BUNDLE/$f ]] || echo "MISSING: $BUNDLE/$f (its steps will fail)"
    done

    # a. the machine
    step a-gpu 30 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    local nvcc
    nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
    step --info a-nvcc 20 "$nvcc" --version
    write_find_nvrtc
    step a-nvrtc 90 "${TORCH_ENV[@]}" python3 "$WORK/find_nvrtc.py"
    local chosen dir
    chosen=$(awk '$1 == "CHOSEN" {print $2}' "$OUT/steps/a-nvrtc.txt" 2>/dev/null | tail -1)
    if [[ -n $chosen ]]; then
        # A folder holding only NVRTC, first on the path: cudarc asks for libnvrtc.so before
        # libnvrtc.so.13, and that name must not find another version.
        dir=$(dirname "$chosen")
        mkdir -p "$WORK/nvrtc"
        ln -sf "$chosen" "$WORK/nvrtc/libnvrtc.so.13"
        ln -sf "$chosen" "$WORK/nvrtc/libnvrtc.so"
        for b in "$dir"/libnvrtc-builtins.so*; do
            [[ -e $b ]] && ln -sf "$b" "$WORK/nvrtc/$(basename "$b")"
        done
        export LD_LIBRARY_PATH="$WORK/nvrtc:$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH (for dcc)"
    fi
    # Kernels compile afresh with this machine's NVRTC.
    export DCC_CACHE_DIR=$WORK/dcc-cache
    step a-devices 60 "$BUNDLE/dcc" devices

    # b. every kernel through NVRTC + ptxas: resources and spills
    step b-kernels 120 "$BUNDLE/dcc" kernels --arch "$ARCH"

    # c. the differential tests on the real GPU (a missing GPU fails them)
    step c-tests 240 env DCC_TEST_DEVICE=cuda RUST_BACKTRACE=1 "$BUNDLE/test-gpu" --test-threads 1 --include-ignored

    # d. every primitive's kernels at the networks' shapes (batch 120): ms, TFLOP/s and
    #    GB/s beside the measured device copy and the bf16 ceiling, checked against the CPU
    step d-dcc-ops 120 "$BUNDLE/dcc" bench ops --device cuda --batch 120

    # d. training throughput, dcc and PyTorch on the same GPU
    step d-dcc-small 60 "$BUNDLE/dcc" bench train --device cuda --net small --batch 120 --steps 30 --warmup 5
    step d-dcc-inception 90 "$BUNDLE/dcc" bench train --device cuda --net inception --channels 2 --batch 120 --steps 10 --warmup 3
    step d-torch-small 150 "${TORCH_ENV[@]}" python3 -u "$TORCH_BENCH" --device cuda --net small --mode all
    step d-torch-inception 240 "${TORCH_ENV[@]}" python3 -u "$TORCH_BENCH" --device cuda --net inception --channels 2 --mode all

    # d. the DCC kernels against PyTorch on the same GPU: fused CCLP fwd+bwd (N up to 8192)
    #    and kNN of 10⁵ latents among 10⁶ (k = 10), each dcc result checked against the CPU
    step d-dcc-cclp 60 "$BUNDLE/dcc" bench cclp --device cuda --n 120,1024,4096,8192 --reps 5
    step d-torch-cclp 90 "${TORCH_ENV[@]}" python3 -u "$TORCH_DCC_BENCH" cclp --device cuda --n 120,1024,4096,8192 --reps 5
    step d-dcc-knn 60 "$BUNDLE/dcc" bench knn --device cuda --queries 100000 --refs 1000000
    step d-torch-knn 120 "${TORCH_ENV[@]}" python3 -u "$TORCH_DCC_BENCH" knn --device cuda --queries 100000 --refs 1000000

    # d. a run's weights in PyTorch: tools/dcc_torch.py rebuilds four networks trained by
    #    dcc here (tiny CPU runs) and must give dcc's latents (tools/test_dcc_torch.py)
    if "${TORCH_ENV[@]}" python3 -c "import torch, pytest, safetensors" 2>/dev/null; then
        step d-dcc-torch 90 "${TORCH_ENV[@]}" DCC_BIN="$BUNDLE/dcc" PYTHONDONTWRITEBYTECODE=1 \
            python3 -m pytest -q -s -p no:cacheprovider "$ROOT/tools/test_dcc_torch.py"
    else
        echo "d-dcc-torch skipped: python3 lacks torch, pytest or safetensors"
    fi

    # e. the summary table and the JSON
    echo
    echo "=== summary ($((SECONDS - STARTED)) s)"
    local failed_csv
    failed_csv=$(IFS=,; echo "${FAILED[*]}")
    GPU_CHECK_FAILED=$failed_csv GPU_CHECK_SECONDS=$((SECONDS - STARTED)) GPU_CHECK_ARCH=$ARCH \
        NVRTC_PATH=${chosen:-} "${TORCH_ENV[@]}" python3 - "$OUT" <<'PY'
import json, os, re, sys

out = sys.argv[1]
def text(name):
    try:
        with open(os.path.join(out, "steps", name + ".txt"), errors="replace") as f:
            return f.read()
    except OSError:
        return ""

problems = [s for s in os.environ.get("GPU_CHECK_FAILED", "").split(",") if s]
steps = []
with open(os.path.join(out, "steps.tsv")) as f:
    for line in f:
        name, rc, secs, limit = line.rstrip("\n").split("\t")
        steps.append({"name": name, "status": rc, "seconds": int(secs), "timeout_s": int(limit)})
ran = {s["name"]: s["status"] for s in steps}

# a. GPU, driver, NVRTC
gpu = {}
rows = [l for l in text("a-gpu").splitlines() if l.strip()]
if len(rows) >= 2 and "," in rows[1]:
    name, driver, mem = [c.strip() for c in rows[1].split(",")[:3]]
    gpu = {"name": name, "driver": driver, "memory": mem}
m = re.search(r"^CHOSEN (\S+) (\S+)$", text("a-nvrtc"), re.M)
nvrtc = {"path": m.group(1), "version": m.group(2)} if m else {"path": None, "version": None}
m = re.search(r"^nvrtc: (.*)$", text("a-devices"), re.M)
nvrtc["dcc_sees"] = m.group(1).strip() if m else None
m = re.search(r"^cuda:0: (.*)$", text("a-devices"), re.M)
dcc_device = m.group(1).strip() if m else None
m = re.search(r"release (\S+),", text("a-nvcc"))
nvcc = m.group(1) if m else None

# b. kernels
kt = text("b-kernels")
kernels = {"arch": os.environ.get("GPU_CHECK_ARCH"), "count": None, "compile_failures": None, "spills": None, "table": []}
m = re.search(r"^(\d+) kernels, (\d+) compile failures, (\d+) with spills", kt, re.M)
if m:
    kernels.update(count=int(m.group(1)), compile_failures=int(m.group(2)), spills=int(m.group(3)))
row = re.compile(r"^(\S+)\s+(\S+\.cu)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/(\d+)\s+([0-9.]+)")
for line in kt.splitlines():
    r = row.match(line)
    if r:
        kernels["table"].append({"kernel": r.group(1), "file": r.group(2), "registers": int(r.group(3)),
                                 "smem_bytes": int(r.group(4)), "stack_bytes": int(r.group(5)),
                                 "spill_stores": int(r.group(6)), "spill_loads": int(r.group(7)),
                                 "compile_s": float(r.group(8))})

# c. tests: the libtest summary, else the per-test lines seen before a crash or timeout
tt = text("c-tests")
per = re.findall(r"^test (\S+) \.\.\. (ok|FAILED|ignored)", tt, re.M)
tests = {"passed": None, "failed": None, "ignored": None, "summary_line": False,
         "failed_names": [n for n, r in per if r == "FAILED"]}
m = re.search(r"test result: (\w+)\. (\d+) passed; (\d+) failed; (\d+) ignored", tt)
if m:
    tests.update(passed=int(m.group(2)), failed=int(m.group(3)), ignored=int(m.group(4)), summary_line=True)
elif per:
    tests.update(passed=sum(r == "ok" for _, r in per), failed=sum(r == "FAILED" for _, r in per),
                 ignored=sum(r == "ignored" for _, r in per))
    problems.append("c-tests: no libtest summary line (crash or timeout); counts are of the tests that finished")
if not m:
    # With one test thread libtest names each test before running it.
    last = re.findall(r"^test (\S+) \.\.\. *$", tt, re.M)
    tests["running_when_stopped"] = last[-1] if last else None

# d. throughput
def dcc_ips(name):
    m = re.search(r"^\s+([0-9.]+) images/s", text(name), re.M)
    return float(m.group(1)) if m else None
def torch_modes(name):
    ips, errors = {}, {}
    for line in text(name).splitlines():
        m = re.match(r"^\s+(eager|amp|compile|channels_last)\s+([0-9.]+) images/s", line)
        if m:
            ips[m.group(1)] = float(m.group(2))
        m = re.match(r"^\s+(eager|amp|compile|channels_last)\s+failed: (.*)$", line)
        if m:
            errors[m.group(1)] = m.group(2)
    return ips, errors
train = {}
for net, label in (("small", "small"), ("inception", "inception, 2 channels")):
    d = dcc_ips(f"d-dcc-{net}")
    t, errs = torch_modes(f"d-torch-{net}")
    ratio = {k: (round(d / v, 3) if d and v else None) for k, v in t.items()}
    train[net] = {"label": label, "batch": 120, "dcc": d, "torch": t, "torch_errors": errs, "dcc_over_torch": ratio}
    if d is None and ran.get(f"d-dcc-{net}") == "0":
        problems.append(f"d-dcc-{net}: no images/s line")
    # Eager fp32 is the comparison that must exist; amp and compile failures are reported.
    for mode in ("eager",):
        if mode not in t and ran.get(f"d-torch-{net}") == "0":
            problems.append(f"d-torch-{net}: no {mode} figure" + (f" ({errs[mode][:80]})" if mode in errs else ""))

# d. kernel benchmarks: the table rows as printed
ops_rows = [l.rstrip() for l in text("d-dcc-ops").splitlines()
            if re.match(r"^(conv|linear|maxpool|elu)", l)]
m = re.search(r"^device copy: (\d+) GB/s", text("d-dcc-ops"), re.M)
kernel_bench = {"device_copy_gbps": float(m.group(1)) if m else None, "rows": ops_rows}
if any("MISMATCH" in r for r in ops_rows):
    problems.append("d-dcc-ops: a primitive disagrees with the CPU")

# d. the DCC kernels: dcc and PyTorch per size, and their ratio
def times(name, pat):
    return {m.group(1): float(m.group(2)) for m in re.finditer(pat, text(name), re.M)}
dcc_kernels = {
    "cclp_ms": {"dcc": times("d-dcc-cclp", r"^dcc cclp n=(\d+) on \S+: ([0-9.]+) ms"),
                "torch": times("d-torch-cclp", r"^torch cclp n=(\d+) .*?: ([0-9.]+) ms")},
    "knn_s": {"dcc": times("d-dcc-knn", r"^dcc knn (\S+) .*?: ([0-9.]+) s,"),
              "torch": times("d-torch-knn", r"^torch knn (\S+) .*?: ([0-9.]+) s,")},
}
for step_name in ("d-dcc-cclp", "d-dcc-knn"):
    if ran.get(step_name) == "0" and not dcc_kernels["cclp_ms" if "cclp" in step_name else "knn_s"]["dcc"]:
        problems.append(f"{step_name}: no timing line")

def fmt(v, spec):
    """format(v, spec), or a dash as wide as the field when there is no figure."""
    width = int(re.match(r"\d*", spec).group() or 0)
    return ("-" if v is None else format(v, spec)).rjust(width)
print()
print("GPU check summary")
print(f"  GPU       {gpu.get('name', '?')}, driver {gpu.get('driver', '?')}, {gpu.get('memory', '?')}; nvcc {nvcc or '?'}")
print(f"  NVRTC     {nvrtc['version'] or 'NOT FOUND'} ({nvrtc['path'] or '-'}); dcc sees: {nvrtc['dcc_sees'] or '-'}")
print(f"  dcc       cuda:0 {dcc_device or 'NOT USABLE'}")
print(f"  kernels   {fmt(kernels['count'], 'd')} kernels at {kernels['arch']}, {fmt(kernels['compile_failures'], 'd')} compile failures, "
      f"{fmt(kernels['spills'], 'd')} with spills")
print(f"  tests     {fmt(tests['passed'], 'd')} passed, {fmt(tests['failed'], 'd')} failed"
      + (f" ({', '.join(tests['failed_names'])})" if tests["failed_names"] else "")
      + (f"; stopped while running {tests['running_when_stopped']}" if tests.get("running_when_stopped") else ""))
print()
print(f"  device copy {fmt(kernel_bench['device_copy_gbps'], '.0f')} GB/s (GPU.md: ≈4300 on an H200); kernels at batch 120 (fwd ms, fwd TF/s, bwd ms, bwd TF/s, fwd GB/s, % of bf16 790):")
for r in ops_rows:
    print("    " + r)
print()
hdr = ("training images/s, batch 120", "dcc", "eager fp32", "amp bf16 CL", "compile")
print(f"  {hdr[0]:<30} {hdr[1]:>9} {hdr[2]:>11} {hdr[3]:>12} {hdr[4]:>9}")
for net, r in train.items():
    t = r["torch"]
    print(f"  {r['label']:<30} {fmt(r['dcc'], '9.1f')} {fmt(t.get('eager'), '11.1f')} {fmt(t.get('amp'), '12.1f')} {fmt(t.get('compile'), '9.1f')}")
    q = r["dcc_over_torch"]
    print(f"  {'  dcc ÷ torch':<30} {'':>9} {fmt(q.get('eager'), '11.3f')} {fmt(q.get('amp'), '12.3f')} {fmt(q.get('compile'), '9.3f')}")
    for mode, e in r["torch_errors"].items():
        print(f"    torch {mode} failed: {e[:120]}")
print()
print("  DCC kernels (dcc on the GPU, checked against the CPU; PyTorch's composition on the same GPU)")
for key, unit in (("cclp_ms", "ms"), ("knn_s", "s")):
    r = dcc_kernels[key]
    for size in sorted(set(r["dcc"]) | set(r["torch"]), key=lambda v: (len(v), v)):
        d, t = r["dcc"].get(size), r["torch"].get(size)
        q = t / d if d and t else None
        print(f"    {key.split('_')[0]:<5} {size:<16} dcc {fmt(d, '10.3f')} {unit}  torch {fmt(t, '10.3f')} {unit}  torch ÷ dcc {fmt(q, '8.1f')}")
print()
ok = not problems
print("  steps     " + ", ".join(f"{s['name']} {'ok' if s['status'] == '0' else s['status']} {s['seconds']}s" for s in steps))
print(f"  result    {'OK' if ok else 'FAILED: ' + '; '.join(problems)}  ({os.environ.get('GPU_CHECK_SECONDS')} s)")

figures = {"ok": ok, "problems": problems, "seconds": int(os.environ.get("GPU_CHECK_SECONDS", "0")),
           "gpu": gpu, "nvcc": nvcc, "nvrtc": nvrtc, "dcc_device": dcc_device, "kernels": kernels,
           "tests": tests, "kernel_bench": kernel_bench, "train": train, "dcc_kernels": dcc_kernels, "steps": steps}
with open(os.path.join(out, "gpu-check.json"), "w") as f:
    json.dump(figures, f, indent=1)
print(f"  figures   {os.path.join(out, 'gpu-check.json')}; log {os.path.join(out, 'gpu-check.log')}")
sys.exit(0 if ok else 1)
PY
    local summary_rc=$?
    if ((${#FAILED[@]} > 0 || summary_rc != 0)); then
        return 1
    fi
    return 0
}

main 2>&1 | tee "$LOG"
exit "${PIPESTATUS[0]}"
