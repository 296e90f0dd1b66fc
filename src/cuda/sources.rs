//! The kernel sources, embedded in the binary (`kernels/*.cu` and `kernels/params.h`),
//! and the kernel names each one defines. NVRTC and the emulator compile these texts;
//! nothing reads the source tree at run time.

use std::sync::OnceLock;

/// The shared parameter header every kernel file includes.
pub const PARAMS_H: &str = include_str!("../../kernels/params.h");

const FILES: &[(&str, &str)] = &[
    (
        "elementwise.cu",
        include_str!("../../kernels/elementwise.cu"),
    ),
    ("dropout.cu", include_str!("../../kernels/dropout.cu")),
    ("pool.cu", include_str!("../../kernels/pool.cu")),
    ("channels.cu", include_str!("../../kernels/channels.cu")),
    ("softmax.cu", include_str!("../../kernels/softmax.cu")),
    ("gemm.cu", include_str!("../../kernels/gemm.cu")),
    ("conv2d.cu", include_str!("../../kernels/conv2d.cu")),
    ("optim.cu", include_str!("../../kernels/optim.cu")),
    ("cclp.cu", include_str!("../../kernels/cclp.cu")),
    ("knn.cu", include_str!("../../kernels/knn.cu")),
    ("kde.cu", include_str!("../../kernels/kde.cu")),
];

/// One kernel source file.
pub struct KernelFile {
    /// File name under `kernels/`.
    pub name: &'static str,
    /// Its text as written (with `#include "params.h"`).
    pub source: &'static str,
    /// The `extern "C" __global__` kernels it defines, in order.
    pub kernels: Vec<&'static str>,
}

impl KernelFile {
    /// The text NVRTC compiles: `params.h` pasted in place of its include (NVRTC is
    /// given no include path, so the result depends on nothing outside the binary).
    pub fn standalone(&self) -> String {
        self.source.replacen("#include \"params.h\"", PARAMS_H, 1)
    }
}

/// Kernel names in the order they are defined: `extern "C" __global__ [__launch_bounds__(…)] void NAME(`.
pub fn kernel_names(src: &'static str) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut rest = src;
    const TAG: &str = "extern \"C\" __global__";
    while let Some(i) = rest.find(TAG) {
        rest = &rest[i + TAG.len()..];
        let mut s = rest.trim_start();
        if let Some(lb) = s.strip_prefix("__launch_bounds__") {
            let close = lb.find(')').map_or(lb.len(), |j| j + 1);
            s = lb[close..].trim_start();
        }
        if let Some(after) = s.strip_prefix("void") {
            let name = after.trim_start();
            let end = name
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(name.len());
            if end > 0 {
                out.push(&name[..end]);
            }
        }
    }
    out
}

/// Every kernel file.
pub fn files() -> &'static [KernelFile] {
    static F: OnceLock<Vec<KernelFile>> = OnceLock::new();
    F.get_or_init(|| {
        FILES
            .iter()
            .map(|&(name, source)| KernelFile {
                name,
                source,
                kernels: kernel_names(source),
            })
            .collect()
    })
}

/// The file defining `kernel`.
pub fn file_of(kernel: &str) -> Option<&'static KernelFile> {
    files().iter().find(|f| f.kernels.contains(&kernel))
}

/// FNV-1a 64 of some texts: a stable cache key (std's hasher may change across releases).
pub fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_names_are_found_with_and_without_launch_bounds() {
        let src = "extern \"C\" __global__ void a_k(int x) {}\n// extern \"C\" __global__\nextern \"C\" __global__ __launch_bounds__(256, 2) void b_k2() {}";
        assert_eq!(kernel_names(src), vec!["a_k", "b_k2"]);
    }

    #[test]
    fn every_kernel_of_the_contract_is_defined_once() {
        let mut all: Vec<&str> = files()
            .iter()
            .flat_map(|f| f.kernels.iter().copied())
            .collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n, "a kernel name is defined twice: {all:?}");
        for k in super::super::ops::KERNELS {
            assert!(
                file_of(k).is_some(),
                "kernel {k} is launched but defined in no kernels/*.cu"
            );
        }
        for f in files() {
            assert!(
                f.source.contains("#include \"params.h\""),
                "{} must include params.h",
                f.name
            );
        }
    }
}
