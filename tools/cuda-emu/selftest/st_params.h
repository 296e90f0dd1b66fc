// Parameter structs of the emulator's self-test kernels (same conventions as
// kernels/params.h, including its typedefs, to check that emu.h does not clash).
#pragma once

typedef unsigned long long u64;
typedef unsigned int u32;

struct StParams { u64 n; u32 k; float s; };
struct GemmP { u32 m, n, k; u32 pad_; };
