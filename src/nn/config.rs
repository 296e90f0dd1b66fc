//! Network descriptions in TOML: a list of layers (conv, maxpool, inception, flatten,
//! linear, latent, bottleneck) turned into a `Network` by the builder. A bad description
//! gets an error naming the layer and the mismatch. The paper's two networks ship as
//! configs/small.toml and configs/inception.toml and are embedded in the binary.

use super::network::{Network, NetworkBuilder};
use crate::ops::conv2d::{Conv2dParams, PadMode};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Convolution padding: none, 'same' (k/2) or an explicit amount.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Padding {
    /// "none" or "same".
    Named(String),
    /// Pixels on each side.
    Pixels(usize),
}

/// Width of a linear layer: a number, or "sets" for the class count.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Features {
    /// A fixed width.
    Count(usize),
    /// "sets": one output per training set.
    Sets(String),
}

/// One layer of a description.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum LayerSpec {
    /// conv → ELU → Dropout2d.
    Conv {
        /// Output channels.
        channels: usize,
        /// Odd kernel size.
        kernel: usize,
        /// Stride (default 1).
        #[serde(default = "one")]
        stride: usize,
        /// "none" (default), "same" or pixels.
        #[serde(default = "no_padding")]
        padding: Padding,
        /// "replicate" (default, as in the paper) or "zeros".
        #[serde(default = "replicate")]
        pad_mode: String,
        /// Channel-dropout probability (default 0).
        #[serde(default)]
        dropout: f32,
    },
    /// Max-pool.
    Maxpool {
        /// Window size.
        kernel: usize,
        /// Stride (default: the kernel size).
        stride: Option<usize>,
        /// Padding (default 0).
        #[serde(default)]
        padding: usize,
    },
    /// An Inception block.
    Inception {
        /// Output channels (divisible by 16).
        channels: usize,
        /// Channel-dropout probability after every conv (default 0).
        #[serde(default)]
        dropout: f32,
    },
    /// N×C×H×W → N×(CHW).
    Flatten,
    /// linear → SELU → dropout.
    Linear {
        /// Output width, or "sets".
        features: Features,
        /// Dropout probability (default 0).
        #[serde(default)]
        dropout: f32,
    },
    /// Marks the latent z.
    Latent,
    /// Ordered bottleneck on the latent.
    Bottleneck,
}

fn one() -> usize {
    1
}
fn no_padding() -> Padding {
    Padding::Named("none".into())
}
fn replicate() -> String {
    "replicate".into()
}

/// A network description.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NetConfig {
    /// Architecture name.
    pub name: String,
    /// Layers in order.
    pub layers: Vec<LayerSpec>,
}

/// configs/small.toml, embedded.
pub const SMALL: &str = include_str!("../../configs/small.toml");
/// configs/inception.toml, embedded.
pub const INCEPTION: &str = include_str!("../../configs/inception.toml");
/// configs/small-same.toml, embedded.
pub const SMALL_SAME: &str = include_str!("../../configs/small-same.toml");
/// The names `--config` takes for the embedded networks.
pub const SHIPPED: [&str; 3] = ["small", "small-same", "inception"];

impl NetConfig {
    /// Parses TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<NetConfig> {
        toml::from_str(text).map_err(|e| anyhow::anyhow!("{origin}: {e}"))
    }

    /// `small`, `small-same`, `inception` (embedded) or a path to a TOML file.
    pub fn load(spec: &str) -> Result<NetConfig> {
        match spec {
            "small" => NetConfig::parse(SMALL, "configs/small.toml (embedded)"),
            "small-same" => NetConfig::parse(SMALL_SAME, "configs/small-same.toml (embedded)"),
            "inception" => NetConfig::parse(INCEPTION, "configs/inception.toml (embedded)"),
            path => {
                let text = std::fs::read_to_string(Path::new(path)).with_context(|| {
                    format!(
                        "network config {path}: not a shipped network ({}) and not a readable TOML file",
                        SHIPPED.join(", ")
                    )
                })?;
                NetConfig::parse(&text, path)
            }
        }
    }

    /// The smallest square map (side in pixels, up to 1024) this network takes with
    /// `channels` input channels, or None if none does.
    pub fn min_side(&self, channels: usize, n_sets: usize) -> Option<usize> {
        // Upwards from 1, not bisection: building at a large side allocates a flatten-wide
        // Linear layer (gigabytes for inception at 4096×4096).
        (1..=1024).find(|&s| self.build([channels, s, s], n_sets.max(2), 0).is_ok())
    }

    /// Builds the network for C×H×W inputs and `n_sets` classes, initialised from `seed`.
    pub fn build(&self, input: [usize; 3], n_sets: usize, seed: u64) -> Result<Network> {
        let mut b = NetworkBuilder::new(&self.name, input, seed);
        for (i, layer) in self.layers.iter().enumerate() {
            let at = || format!("{}: layer {} ({})", self.name, i + 1, kind(layer));
            b = add(b, layer, n_sets).with_context(at)?;
        }
        b.build()
    }
}

fn kind(l: &LayerSpec) -> &'static str {
    match l {
        LayerSpec::Conv { .. } => "conv",
        LayerSpec::Maxpool { .. } => "maxpool",
        LayerSpec::Inception { .. } => "inception",
        LayerSpec::Flatten => "flatten",
        LayerSpec::Linear { .. } => "linear",
        LayerSpec::Latent => "latent",
        LayerSpec::Bottleneck => "bottleneck",
    }
}

fn check_dropout(p: f32) -> Result<()> {
    if !(0.0..1.0).contains(&p) {
        bail!("dropout {p} must be in [0, 1)");
    }
    Ok(())
}

fn add(b: NetworkBuilder, layer: &LayerSpec, n_sets: usize) -> Result<NetworkBuilder> {
    match layer {
        LayerSpec::Conv {
            channels,
            kernel,
            stride,
            padding,
            pad_mode,
            dropout,
        } => {
            check_dropout(*dropout)?;
            if kernel % 2 == 0 || *stride == 0 || *channels == 0 {
                bail!(
                    "kernel {kernel} must be odd, stride {stride} and channels {channels} positive"
                );
            }
            let pad_mode = match pad_mode.as_str() {
                "replicate" => PadMode::Replicate,
                "zeros" => PadMode::Zeros,
                m => bail!("pad_mode '{m}': expected replicate or zeros"),
            };
            let padding = match padding {
                Padding::Named(s) if s == "none" => 0,
                Padding::Named(s) if s == "same" => kernel / 2,
                Padding::Named(s) => bail!("padding '{s}': expected none, same or a number"),
                Padding::Pixels(p) => *p,
            };
            b.conv(
                *channels,
                *kernel,
                Conv2dParams {
                    stride: *stride,
                    padding,
                    pad_mode,
                },
                *dropout,
            )
        }
        LayerSpec::Maxpool {
            kernel,
            stride,
            padding,
        } => {
            let s = stride.unwrap_or(*kernel);
            if *kernel == 0 || s == 0 || 2 * padding > *kernel {
                bail!("kernel {kernel}, stride {s}, padding {padding}: need positive sizes and padding ≤ kernel/2");
            }
            b.max_pool(*kernel, s, *padding)
        }
        LayerSpec::Inception { channels, dropout } => {
            check_dropout(*dropout)?;
            b.inception(*channels, *dropout)
        }
        LayerSpec::Flatten => b.flatten(),
        LayerSpec::Linear { features, dropout } => {
            check_dropout(*dropout)?;
            let n = match features {
                Features::Count(n) if *n > 0 => *n,
                Features::Count(n) => bail!("features {n} must be positive"),
                Features::Sets(s) if s == "sets" => n_sets,
                Features::Sets(s) => bail!("features '{s}': expected a number or \"sets\""),
            };
            b.linear(n, *dropout)
        }
        LayerSpec::Latent => b.latent(),
        LayerSpec::Bottleneck => b.bottleneck(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_configs_parse_and_build() {
        let s = NetConfig::load("small")
            .unwrap()
            .build([1, 100, 100], 4, 0)
            .unwrap();
        assert_eq!(s.params.numel(), 232_139);
        let i = NetConfig::load("inception")
            .unwrap()
            .build([2, 100, 100], 4, 0)
            .unwrap();
        assert_eq!(i.params.numel(), 3_443_143);
    }

    #[test]
    fn shape_mismatch_names_the_layer() {
        let text = "name = \"bad\"\n[[layers]]\ntype = \"conv\"\nchannels = 4\nkernel = 3\n\
                    [[layers]]\ntype = \"linear\"\nfeatures = 3\n";
        let e = format!(
            "{:#}",
            NetConfig::parse(text, "bad.toml")
                .unwrap()
                .build([1, 8, 8], 2, 0)
                .err()
                .expect("must fail")
        );
        assert!(
            e.contains("layer 2 (linear)") && e.contains("flatten"),
            "{e}"
        );
    }

    #[test]
    fn unknown_fields_and_types_are_rejected_with_the_file_name() {
        let e = NetConfig::parse(
            "name = \"x\"\n[[layers]]\ntype = \"conv\"\nchanels = 4\nkernel = 3\n",
            "x.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("x.toml") && e.contains("chanels"), "{e}");
        let e = NetConfig::parse("name = \"x\"\n[[layers]]\ntype = \"deconv\"\n", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("deconv"), "{e}");
    }

    #[test]
    fn even_kernels_and_bad_dropout_are_rejected() {
        let t = "name = \"x\"\n[[layers]]\ntype = \"conv\"\nchannels = 4\nkernel = 2\n";
        let e = format!(
            "{:#}",
            NetConfig::parse(t, "x")
                .unwrap()
                .build([1, 8, 8], 2, 0)
                .err()
                .expect("must fail")
        );
        assert!(e.contains("layer 1 (conv)") && e.contains("odd"), "{e}");
        let t = "name = \"x\"\n[[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"linear\"\nfeatures = 2\ndropout = 1.5\n";
        let e = format!(
            "{:#}",
            NetConfig::parse(t, "x")
                .unwrap()
                .build([1, 8, 8], 2, 0)
                .err()
                .expect("must fail")
        );
        assert!(e.contains("dropout 1.5"), "{e}");
    }

    #[test]
    fn shipped_networks_take_the_map_sizes_docs_data_md_states() {
        let doc = include_str!("../../docs/data.md");
        for name in SHIPPED {
            let net = NetConfig::load(name).unwrap();
            let s = net
                .min_side(2, 4)
                .expect("a shipped network fits some size");
            let row = format!("| `{name}` | ≥ {s}×{s} |");
            assert!(doc.contains(&row), "docs/data.md lacks the row {row}");
            assert!(net.build([2, s - 1, s - 1], 4, 0).is_err());
        }
        assert_eq!(NetConfig::load("small").unwrap().min_side(1, 4), Some(78));
    }
}
