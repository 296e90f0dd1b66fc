#!/usr/bin/env bash
# Builds the self-test kernels (selftest/*.cu) with build.sh into a temporary directory,
# plus a second library whose runtime uses ucontext instead of the assembly context
# switch, and runs selftest_main against both (default EMU_THREADS, then 3 threads).
# Prints "N passed, M failed"; exits non-zero on failure.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EMU=$(dirname "$HERE")
CXX=${CXX:-g++}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
start=$(date +%s.%N)

bash "$EMU/build.sh" "$HERE" "$TMP/lib"

# Same kernels, ucontext runtime (the fallback used on non-x86-64 hosts).
mkdir -p "$TMP/uctx"
set -x
"$CXX" -std=c++20 -O2 -fPIC -pthread -fno-strict-aliasing -ffp-contract=off -fstack-clash-protection -DEMU_USE_UCONTEXT -I "$EMU" -c "$EMU/emu_runtime.cpp" -o "$TMP/uctx/emu_runtime.o" &
"$CXX" -std=c++20 -O2 -pthread -I "$HERE" "$HERE/selftest_main.cpp" -o "$TMP/selftest_main" -ldl
wait $!
"$CXX" -shared -pthread -Wl,--no-undefined -o "$TMP/uctx/libdcc_cuda_emu.so" "$TMP"/lib/gen_*.o "$TMP/uctx/emu_runtime.o"
{ set +x; } 2>/dev/null

# A hang (a deadlock the emulator failed to detect) must not stall CI.
timeout 300 "$TMP/selftest_main" "$TMP/lib/libdcc_cuda_emu.so" "$TMP/uctx/libdcc_cuda_emu.so:3"
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" 'BEGIN { printf "selftest took %.1f s\n", b - a }'
