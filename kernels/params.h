// Parameter structs shared by every kernel and by the Rust launchers (src/kparams.rs
// mirrors each struct field for field, #[repr(C)]). Each kernel takes its struct by
// value as the first argument, then its pointers. Only fixed-width types, 8-byte fields
// first, so the layout is the same under NVRTC, g++ (the CPU emulator) and rustc.
#pragma once

typedef unsigned long long u64;
typedef unsigned int u32;

// elementwise.cu: y[i] = f(x[i]) / f(a[i], b[i]) for i < n.
// unary ops: 0 copy, 1 scale (s·x), 2 add_scalar (x + s), 3 ln, 4 fill (y = s, x unread)
// binary ops: 0 add, 1 mul, 2 div (a / b), 3 axpy (a + s·b)
struct EwParams { u64 n; int op; float s; };

// act_forward / act_backward: kind 0 relu, 1 elu (α = 1), 2 selu (PyTorch constants).
struct ActParams { u64 n; int kind; int pad_; };

// dropout_apply: y[i] = x[i]·factor(i / inner); the mask hash of src/cpu/dropout.rs.
struct DropoutParams { u64 n; u64 inner; u32 k0; u32 k1; u32 threshold; float scale; };

// elu_dropout_slab_forward: y[o, offset + j, i] = elu(x[o, j, i])·factor(o·c + j) for x
// outer×c×inner and y outer×c_total×inner (channel dropout's mask, ELU as act_forward).
// elu_dropout_slab_backward: dx[o, j, i] = elu′(dy·f) read at (o, offset + j, i) of dy
// and y, ELU's output recovered as y / f (f = 0: dropped, dx = dy·0).
struct SlabParams { u64 outer; u64 inner; u32 c, c_total, offset, k0, k1, threshold; float scale; u32 pad_; };

// maxpool_*: N×C×H×W → N×C×Ho×Wo, window k, stride s, padding p (-inf); argmax byte
// = ky·k + kx of the chosen element (first maximum in row-major window order; NaN wins).
struct PoolParams { u32 n, c, h, w, k, s, p, ho, wo; u32 pad_; };

// copy_channels: dst[o, dst_start + j, i] = src[o, src_start + j, i] for o < outer,
// j < len, i < inner; src has src_c channels, dst has dst_c.
struct CopyChannelsParams { u64 outer; u64 inner; u32 src_c, dst_c, src_start, dst_start, len; u32 pad_; };

// mask_columns: y[r, j] = j < keep ? x[r, j] : 0 for an rows×cols matrix.
// transpose: y[j, r] = x[r, j].
struct MatrixParams { u32 rows, cols, keep; u32 pad_; };

// sum_axis1: out[j] = beta·out[j] + Σ_{o, i} x[o, j, i] for x outer×c×inner (bias grads).
struct AxisSumParams { u64 outer; u64 inner; u32 c; float beta; };

// reduce_sum: out[0] = s·Σ x[i] (f64 accumulation, one block, deterministic).
// fill_scaled: y[i] = s·g[0] for i < n.
// (both use EwParams; op unused)

// softmax.cu: rows×k matrices, along the last axis.
// cross_entropy_forward: lse[r] = logsumexp(x[r]); loss[0] = scale·Σ_{labels[r] ≥ 0}
//   (lse[r] − x[r, labels[r]]). cross_entropy_backward: dx[r] = gy[0]·scale·(softmax(x[r])
//   − onehot(labels[r])), zero rows where labels[r] < 0.
struct SoftmaxParams { u32 rows, k; float scale; u32 pad_; };

// gemm.cu: C = alpha·op(A)·op(B) + beta·C, row-major; op(A) is m×k, op(B) k×n;
// trans_a: A is stored k×m (lda its row length), trans_b: B stored n×k.
// add_bias_rows: y[r, j] += b[j] for an rows×cols matrix (MatrixParams, keep unused).
struct GemmParams { u32 m, n, k, lda, ldb, ldc; int trans_a, trans_b; float alpha, beta; };

// conv2d.cu: x N×C×H×W, w O×C×kh×kw, y N×O×Ho×Wo. replicate = 1: padded pixels repeat
// the nearest edge pixel, else 0. backward_weight writes splits partial sums
// (partial[s][O·C·kh·kw], s = blockIdx.z) that sum_splits adds (deterministic order).
struct ConvParams { u32 n, c, h, w, o, kh, kw, stride, pad, replicate, ho, wo, splits; u32 pad_; };

// sum_splits: out[i] = Σ_{s < splits} partial[s·len + i].
struct SplitsParams { u64 len; u32 splits; u32 pad_; };

// optim.cu: one launch updates every parameter; blockIdx.y = tensor index, grid-stride
// over its elements. A slot whose g is null is skipped (no gradient, as in PyTorch).
struct ParamSlot { float* p; const float* g; float* m; float* v; u64 n; };
// AdamW, PyTorch's rule in f32: m = b1·m + (1−b1)·g; v = b2·v + (1−b2)·g²;
// p = p·decay − step_size·m / (√v·inv_bc2_sqrt + eps).
struct AdamWParams { u32 tensors; float beta1, beta2, eps, decay, step_size, inv_bc2_sqrt; u32 pad_; };
// SGD (dampening 0, no Nesterov), m is the momentum buffer: m = μ·m + (g + wd·p); p −= lr·m.
struct SgdParams { u32 tensors; float lr, momentum, weight_decay; };
// knn_topk / gaussian_sums: nq queries, nr references of width d (≤ 16), need neighbours
// kept (≤ 64), scale = −1/(2h²) for the Gaussian sums.
struct KnnParams { u32 nq, nr, d, need; float scale; u32 pad_; };
// The CCLP kernels: n rows of width d (≤ 16), classes, steps; partials = entries of the
// loss partial-sum array; floor = ε/N, keep = 1 − ε, scale = −1/(S·N²).
struct CclpParams { u32 n, d, classes, steps, partials, pad_; float floor, keep, scale; u32 pad2_; };
// kde_grid: `jobs` densities of `points` grid points each.
struct KdeParams { u32 jobs, points; };
