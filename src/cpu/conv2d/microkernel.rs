//! Version 3 of the conv GEMM core: an AVX-512 register-blocked kernel that reads its
//! right operand in the panel layout im2col writes directly (no second packing pass, as
//! a general GEMM must do). C (m×n) = A (m×k) · B (k×n) (+ bias per row), with
//! A packed as ⌈m/MR⌉ panels of k×MR and B as ⌈n/NR⌉ panels of k×NR. Used when the
//! CPU has AVX-512F; otherwise the caller falls back to `sgemm`.

/// Rows of C per register tile.
pub(super) const MR: usize = 8;
/// Columns of C per register tile (two 16-lane vectors).
pub(super) const NR: usize = 32;

/// Whether this CPU runs the kernel.
pub(super) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Floats of a packed operand with `rows` (m or n) and depth `k`, panel width `w`.
pub(super) fn packed_len(rows: usize, k: usize, w: usize) -> usize {
    rows.div_ceil(w) * k * w
}

/// Packs A (m×k, row-major `a` with row stride k, or read transposed from a k×m
/// row-major `a`) into MR-row panels, zero-padded.
pub(super) fn pack_a(a: &[f32], m: usize, k: usize, trans: bool, out: &mut [f32]) {
    assert!(
        out.len() >= packed_len(m, k, MR) && a.len() >= m * k,
        "pack_a sizes"
    );
    for (pi, panel) in out.chunks_mut(k * MR).take(m.div_ceil(MR)).enumerate() {
        for p in 0..k {
            for r in 0..MR {
                let i = pi * MR + r;
                panel[p * MR + r] = match (i < m, trans) {
                    (false, _) => 0.0,
                    (true, false) => a[i * k + p],
                    (true, true) => a[p * m + i],
                };
            }
        }
    }
}

/// Writes `row` (row `kk` of a k×n matrix) into NR-column panels; the last panel's
/// padding columns are zeroed.
pub(super) fn pack_b_row(row: &[f32], kk: usize, k: usize, out: &mut [f32]) {
    for (j, chunk) in row.chunks(NR).enumerate() {
        let dst = &mut out[(j * k + kk) * NR..][..NR];
        dst[..chunk.len()].copy_from_slice(chunk);
        dst[chunk.len()..].fill(0.0);
    }
}

/// Packs `nrows` rows of `len` floats (row stride `ld`) as one panel of width `width`:
/// out[p·width + r] = row r at p, rows past `nrows` zero. This is the transpose that lets
/// a pixel-depth product (backward-weight) run on the same kernel.
pub(super) fn interleave(
    src: &[f32],
    ld: usize,
    nrows: usize,
    width: usize,
    len: usize,
    out: &mut [f32],
) {
    let out = &mut out[..len * width];
    // Groups of 8 full rows go through the vector transpose for whole 16-pixel blocks.
    let vec_len = if available() && width.is_multiple_of(8) {
        len / 16 * 16
    } else {
        0
    };
    let vector_rows = if vec_len > 0 { nrows / 8 * 8 } else { 0 };
    for r0 in (0..vector_rows).step_by(8) {
        assert!(
            (r0 + 7) * ld + vec_len <= src.len(),
            "interleave: source rows"
        );
        // SAFETY: AVX-512F is present; rows r0..r0+8 hold `vec_len` floats at stride
        // `ld` (checked); `out` holds len·width floats and every store lands at
        // p·width + r0 + (0..8) with p < vec_len ≤ len.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            interleave8(
                src[r0 * ld..].as_ptr(),
                ld,
                vec_len,
                out[r0..].as_mut_ptr(),
                width,
            )
        };
    }
    for r in 0..width {
        let start = if r < vector_rows { vec_len } else { 0 };
        if start == len {
            continue;
        }
        let d = out[start * width + r..].iter_mut().step_by(width);
        if r < nrows {
            d.zip(&src[r * ld + start..r * ld + len])
                .for_each(|(d, &v)| *d = v);
        } else {
            d.for_each(|d| *d = 0.0);
        }
    }
}

/// Transposes 8 rows × `len` (a multiple of 16) pixels into pixel-major order (pixel p
/// at `out + p·ostride`), 16
/// pixels at a time: unpack and shuffle build, per 128-bit lane, rows 0–3 and 4–7 of
/// each pixel, which are stored as two 4-float halves of that pixel's 8 floats.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn interleave8(src: *const f32, ld: usize, len: usize, out: *mut f32, ostride: usize) {
    use std::arch::x86_64::*;
    let mut p = 0;
    while p < len {
        let r: [__m512; 8] = std::array::from_fn(|i| _mm512_loadu_ps(src.add(i * ld + p)));
        let a: [__m512; 4] = std::array::from_fn(|k| _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]));
        let b: [__m512; 4] = std::array::from_fn(|k| _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]));
        // Per lane l: x[q] = rows 0–3 at pixel 4l+q, y[q] = rows 4–7 at pixel 4l+q.
        let x = [
            _mm512_shuffle_ps::<0x44>(a[0], a[1]),
            _mm512_shuffle_ps::<0xEE>(a[0], a[1]),
            _mm512_shuffle_ps::<0x44>(b[0], b[1]),
            _mm512_shuffle_ps::<0xEE>(b[0], b[1]),
        ];
        let y = [
            _mm512_shuffle_ps::<0x44>(a[2], a[3]),
            _mm512_shuffle_ps::<0xEE>(a[2], a[3]),
            _mm512_shuffle_ps::<0x44>(b[2], b[3]),
            _mm512_shuffle_ps::<0xEE>(b[2], b[3]),
        ];
        let o = out.add(p * ostride);
        for q in 0..4 {
            let lanes_x = [
                _mm512_extractf32x4_ps::<0>(x[q]),
                _mm512_extractf32x4_ps::<1>(x[q]),
                _mm512_extractf32x4_ps::<2>(x[q]),
                _mm512_extractf32x4_ps::<3>(x[q]),
            ];
            let lanes_y = [
                _mm512_extractf32x4_ps::<0>(y[q]),
                _mm512_extractf32x4_ps::<1>(y[q]),
                _mm512_extractf32x4_ps::<2>(y[q]),
                _mm512_extractf32x4_ps::<3>(y[q]),
            ];
            for l in 0..4 {
                let px = 4 * l + q;
                _mm_storeu_ps(o.add(px * ostride), lanes_x[l]);
                _mm_storeu_ps(o.add(px * ostride + 4), lanes_y[l]);
            }
        }
        p += 16;
    }
}

/// What C starts from.
#[derive(Clone, Copy)]
pub(super) enum Init<'a> {
    /// C = A·B.
    Zero,
    /// C = A·B + bias[row].
    Bias(&'a [f32]),
    /// C += A·B.
    Accumulate,
}

/// C (m×n, row stride `ldc`) = A·B from packed A and B, starting from `init`.
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm_packed(
    m: usize,
    n: usize,
    k: usize,
    ap: &[f32],
    bp: &[f32],
    init: Init,
    c: &mut [f32],
    ldc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(ap.len() >= packed_len(m, k, MR), "gemm_packed: A panels");
    assert!(bp.len() >= packed_len(n, k, NR), "gemm_packed: B panels");
    assert!((m - 1) * ldc + n <= c.len() && n <= ldc, "gemm_packed: C");
    if let Init::Bias(b) = init {
        assert!(b.len() >= m, "gemm_packed: bias");
    }
    assert!(available(), "gemm_packed without AVX-512F");
    for j in 0..n.div_ceil(NR) {
        let cols = (n - j * NR).min(NR);
        let b = &bp[j * k * NR..][..k * NR];
        for i in 0..m.div_ceil(MR) {
            let rows = (m - i * MR).min(MR);
            let mut start = [0.0f32; MR];
            if let Init::Bias(bias) = init {
                start[..rows].copy_from_slice(&bias[i * MR..i * MR + rows]);
            }
            let acc = matches!(init, Init::Accumulate);
            let a = &ap[i * k * MR..][..k * MR];
            let c = &mut c[i * MR * ldc + j * NR..];
            // SAFETY: AVX-512F is present (checked above); A and B panels hold k·MR and
            // k·NR floats; C holds `rows` rows of `cols` floats at stride ldc (checked
            // against m, n and ldc above).
            #[cfg(target_arch = "x86_64")]
            unsafe {
                tile(
                    k,
                    a.as_ptr(),
                    b.as_ptr(),
                    &start,
                    acc,
                    c.as_mut_ptr(),
                    ldc,
                    rows,
                    cols,
                )
            };
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn tile(
    k: usize,
    a: *const f32,
    b: *const f32,
    init: &[f32; MR],
    accumulate: bool,
    c: *mut f32,
    ldc: usize,
    rows: usize,
    cols: usize,
) {
    use std::arch::x86_64::*;
    let m0: __mmask16 = if cols >= 16 {
        0xFFFF
    } else {
        (1u16 << cols) - 1
    };
    let m1: __mmask16 = if cols >= 32 {
        0xFFFF
    } else if cols > 16 {
        (1u16 << (cols - 16)) - 1
    } else {
        0
    };
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    for (i, (r, v)) in acc.iter_mut().zip(init).enumerate() {
        *r = if accumulate && i < rows {
            [
                _mm512_maskz_loadu_ps(m0, c.wrapping_add(i * ldc)),
                _mm512_maskz_loadu_ps(m1, c.wrapping_add(i * ldc + 16)),
            ]
        } else {
            let s = _mm512_set1_ps(*v);
            [s, s]
        };
    }
    for p in 0..k {
        let b0 = _mm512_loadu_ps(b.add(p * NR));
        let b1 = _mm512_loadu_ps(b.add(p * NR + 16));
        let ap = a.add(p * MR);
        for (i, r) in acc.iter_mut().enumerate() {
            let ai = _mm512_set1_ps(*ap.add(i));
            r[0] = _mm512_fmadd_ps(ai, b0, r[0]);
            r[1] = _mm512_fmadd_ps(ai, b1, r[1]);
        }
    }
    let m0: __mmask16 = if cols >= 16 {
        0xFFFF
    } else {
        (1u16 << cols) - 1
    };
    let m1: __mmask16 = if cols >= 32 {
        0xFFFF
    } else if cols > 16 {
        (1u16 << (cols - 16)) - 1
    } else {
        0
    };
    for (i, r) in acc.iter().enumerate().take(rows) {
        _mm512_mask_storeu_ps(c.wrapping_add(i * ldc), m0, r[0]);
        _mm512_mask_storeu_ps(c.wrapping_add(i * ldc + 16), m1, r[1]);
    }
}

/// Output channels per dot-product block.
const DO: usize = 4;
/// im2col rows per dot-product block.
const DK: usize = 6;

/// acc (m×n, row stride n) += A · Bᵀ where A is m rows and B is n rows of `len` floats,
/// at row strides `lda` and `ldb`: every entry is a dot product over pixels, so both
/// operands are read in the layout they already have (no packing).
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm_nt_acc(
    m: usize,
    n: usize,
    len: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    acc: &mut [f32],
) {
    if m == 0 || n == 0 || len == 0 {
        return;
    }
    assert!((m - 1) * lda + len <= a.len(), "gemm_nt_acc: A");
    assert!((n - 1) * ldb + len <= b.len(), "gemm_nt_acc: B");
    assert!(acc.len() >= m * n, "gemm_nt_acc: acc");
    assert!(available(), "gemm_nt_acc without AVX-512F");
    // Rows past the end of a block read this zero row; their sums are dropped.
    let zero = vec![0.0f32; len];
    for j0 in (0..n).step_by(DK) {
        let bp: [*const f32; DK] = std::array::from_fn(|j| {
            if j0 + j < n {
                b[(j0 + j) * ldb..].as_ptr()
            } else {
                zero.as_ptr()
            }
        });
        for i0 in (0..m).step_by(DO) {
            let ap: [*const f32; DO] = std::array::from_fn(|i| {
                if i0 + i < m {
                    a[(i0 + i) * lda..].as_ptr()
                } else {
                    zero.as_ptr()
                }
            });
            let mut out = [[0.0f32; DK]; DO];
            // SAFETY: AVX-512F is present; every pointer starts `len` readable floats
            // (checked above, or the zero row).
            #[cfg(target_arch = "x86_64")]
            unsafe {
                dot_block(len, &ap, &bp, &mut out)
            };
            for (i, row) in out.iter().enumerate().take(m - i0) {
                for (j, v) in row.iter().enumerate().take(n - j0) {
                    acc[(i0 + i) * n + j0 + j] += v;
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dot_block(
    len: usize,
    a: &[*const f32; DO],
    b: &[*const f32; DK],
    out: &mut [[f32; DK]; DO],
) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); DK]; DO];
    let full = len / 16 * 16;
    let mut p = 0;
    while p < full {
        let bv: [__m512; DK] = std::array::from_fn(|j| _mm512_loadu_ps(b[j].add(p)));
        for (r, &ai) in acc.iter_mut().zip(a) {
            let av = _mm512_loadu_ps(ai.add(p));
            for (c, bj) in r.iter_mut().zip(&bv) {
                *c = _mm512_fmadd_ps(av, *bj, *c);
            }
        }
        p += 16;
    }
    if p < len {
        let mask: __mmask16 = (1u16 << (len - p)) - 1;
        let bv: [__m512; DK] = std::array::from_fn(|j| _mm512_maskz_loadu_ps(mask, b[j].add(p)));
        for (r, &ai) in acc.iter_mut().zip(a) {
            let av = _mm512_maskz_loadu_ps(mask, ai.add(p));
            for (c, bj) in r.iter_mut().zip(&bv) {
                *c = _mm512_fmadd_ps(av, *bj, *c);
            }
        }
    }
    for (o, r) in out.iter_mut().zip(&acc) {
        for (v, c) in o.iter_mut().zip(r) {
            *v = _mm512_reduce_add_ps(*c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_transposes_rows_into_pixel_major_panels() {
        for (nrows, width, len) in [
            (8, 8, 48),
            (8, 8, 53),
            (5, 8, 20),
            (8, 8, 7),
            (30, 32, 17),
            (32, 32, 40),
            (21, 32, 35),
        ] {
            let ld = len + 3;
            let src: Vec<f32> = (0..nrows * ld).map(|i| i as f32).collect();
            let mut out = vec![f32::NAN; len * width];
            interleave(&src, ld, nrows, width, len, &mut out);
            for p in 0..len {
                for r in 0..width {
                    let want = if r < nrows { src[r * ld + p] } else { 0.0 };
                    assert_eq!(out[p * width + r], want, "{nrows}×{len} at p {p} r {r}");
                }
            }
        }
    }
}
