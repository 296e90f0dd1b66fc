//! `dcc op`: runs one primitive forward and backward on .npy inputs and writes the
//! output and every input gradient as .npy, for comparison with any reference.

use crate::autograd::{Tape, Var};
use crate::data::npy;
use crate::ops;
use crate::ops::conv2d::{Conv2dParams, PadMode};
use crate::tensor::{Pool, Tensor, MAX_RANK};
use anyhow::{anyhow, bail, Context, Result};
use clap::Args as ClapArgs;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `dcc op` arguments.
#[derive(ClapArgs)]
pub struct Args {
    /// Primitive name (see `dcc op --list` or the README).
    #[arg(required_unless_present = "list")]
    name: Option<String>,
    /// Input arrays in the primitive's order (float32 or float64, C order).
    #[arg(long = "input", short = 'i')]
    inputs: Vec<PathBuf>,
    /// Parameters as key=value.
    #[arg(long = "param", short = 'p')]
    params: Vec<String>,
    /// Gradient of the output (default: ones, i.e. the gradient of sum(output)).
    #[arg(long)]
    grad: Option<PathBuf>,
    /// Output directory (created): output.npy and grad_input_<i>.npy.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Lists the primitives with their inputs and parameters.
    #[arg(long)]
    list: bool,
    /// Where the primitive runs: cpu, cuda, cuda:N or cuda-emu (auto: a GPU if usable).
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// Name, inputs, parameters of every primitive.
pub const CATALOG: &[(&str, &str, &str)] = &[
    (
        "conv2d",
        "x N×C×H×W, w O×C×k×k, [b O]",
        "stride=1 padding=0|none|same pad_mode=zeros|replicate",
    ),
    (
        "max_pool2d",
        "x N×C×H×W",
        "kernel=2 stride=kernel padding=0",
    ),
    ("linear", "x N×I, w O×I, [b O]", ""),
    ("elu", "x", ""),
    ("selu", "x", ""),
    ("relu", "x", ""),
    ("dropout", "x", "p=0.5 seed=0 training=1"),
    ("channel_dropout", "x N×C×…", "p=0.5 seed=0 training=1"),
    ("concat", "x1, x2, … (axis 1)", ""),
    (
        "split",
        "x (axis 1)",
        "sizes=a,b,… (grad: the pieces' gradients concatenated)",
    ),
    ("reshape", "x", "shape=a,b,…"),
    ("flatten", "x", ""),
    ("softmax", "x N×K (last axis)", ""),
    ("log_softmax", "x N×K (last axis)", ""),
    (
        "cross_entropy",
        "logits N×K",
        "labels=l0,l1,… (-1 = unlabelled row)",
    ),
    (
        "cclp",
        "Z N×D",
        "labels=l0,l1,… (-1 = unlabelled) classes=C steps=3",
    ),
    (
        "distance_anchor",
        "Z N×D",
        "sets=s0,s1,… targets=y0,y1,… (nan = unknown set)",
    ),
    ("mask_columns", "x N×D", "keep=k"),
    ("slice_columns", "x N×D", "start=a end=b"),
    ("transpose", "x N×M", ""),
    ("ln", "x", ""),
    ("add", "a, b (same shape)", ""),
    ("mul", "a, b (same shape)", ""),
    ("scale", "x", "s=1"),
    ("add_scalar", "x", "s=0"),
    ("sum", "x", ""),
    ("mean", "x", ""),
];

struct Params(BTreeMap<String, String>);

impl Params {
    fn parse(list: &[String]) -> Result<Params> {
        let mut m = BTreeMap::new();
        for kv in list {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| anyhow!("--param '{kv}': expected key=value"))?;
            m.insert(k.trim().to_string(), v.trim().to_string());
        }
        Ok(Params(m))
    }

    fn get<T: std::str::FromStr>(&self, key: &str, default: Option<T>) -> Result<T> {
        match self.0.get(key) {
            Some(v) => v
                .parse()
                .map_err(|_| anyhow!("--param {key}={v}: not a valid value for {key}")),
            None => default.ok_or_else(|| anyhow!("missing --param {key}=…")),
        }
    }

    fn list<T: std::str::FromStr>(&self, key: &str) -> Result<Vec<T>> {
        let v = self
            .0
            .get(key)
            .ok_or_else(|| anyhow!("missing --param {key}=a,b,…"))?;
        v.split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .map_err(|_| anyhow!("--param {key}: '{s}' is not a valid entry"))
            })
            .collect()
    }

    fn check_known(&self, op: &str, known: &[&str]) -> Result<()> {
        for k in self.0.keys() {
            if !known.contains(&k.as_str()) {
                bail!(
                    "{op} takes no parameter '{k}' (it takes: {})",
                    known.join(", ")
                );
            }
        }
        Ok(())
    }
}

fn arity(op: &str, v: &[Var], lo: usize, hi: usize) -> Result<()> {
    if v.len() < lo || v.len() > hi {
        let want = if lo == hi {
            lo.to_string()
        } else {
            format!("{lo} to {hi}")
        };
        bail!("{op} takes {want} --input arrays, found {}", v.len());
    }
    Ok(())
}

/// Builds primitive `op` on the tape; returns its (single) output.
fn apply(op: &str, tape: &mut Tape, v: &[Var], p: &Params) -> Result<Var> {
    let known: &[&str] = match op {
        "conv2d" => &["stride", "padding", "pad_mode"],
        "max_pool2d" => &["kernel", "stride", "padding"],
        "dropout" | "channel_dropout" => &["p", "seed", "training"],
        "split" => &["sizes"],
        "reshape" => &["shape"],
        "cross_entropy" => &["labels"],
        "cclp" => &["labels", "classes", "steps"],
        "distance_anchor" => &["sets", "targets"],
        "mask_columns" => &["keep"],
        "slice_columns" => &["start", "end"],
        "scale" | "add_scalar" => &["s"],
        _ => &[],
    };
    p.check_known(op, known)?;
    let unary = |v: &[Var]| arity(op, v, 1, 1).map(|_| v[0]);
    match op {
        "conv2d" => {
            arity(op, v, 2, 3)?;
            let pad_mode = match p.get("pad_mode", Some("zeros".to_string()))?.as_str() {
                "zeros" => PadMode::Zeros,
                "replicate" => PadMode::Replicate,
                m => bail!("--param pad_mode={m}: expected zeros or replicate"),
            };
            // The network TOML's padding words work here too: none, same (k/2), or a count.
            let padding = match p.get("padding", Some("0".to_string()))?.as_str() {
                "none" => 0,
                "same" => tape.value(v[1]).dims().get(2).copied().unwrap_or(1) / 2,
                n => n.parse().map_err(|_| {
                    anyhow!("--param padding={n}: expected none, same or a number of pixels")
                })?,
            };
            let cp = Conv2dParams {
                stride: p.get("stride", Some(1))?,
                padding,
                pad_mode,
            };
            ops::conv2d::conv2d(tape, v[0], v[1], v.get(2).copied(), cp)
        }
        "max_pool2d" => {
            let k = p.get("kernel", Some(2))?;
            ops::maxpool::max_pool2d(
                tape,
                unary(v)?,
                k,
                p.get("stride", Some(k))?,
                p.get("padding", Some(0))?,
            )
        }
        "linear" => {
            arity(op, v, 2, 3)?;
            ops::linear::linear(tape, v[0], v[1], v.get(2).copied())
        }
        "elu" => ops::activation::elu(tape, unary(v)?),
        "selu" => ops::activation::selu(tape, unary(v)?),
        "relu" => ops::activation::relu(tape, unary(v)?),
        "dropout" | "channel_dropout" => {
            let x = unary(v)?;
            let (pr, seed) = (p.get("p", Some(0.5f32))?, p.get("seed", Some(0u64))?);
            let training = p.get("training", Some(1u8))? != 0;
            if !(0.0..1.0).contains(&pr) {
                bail!("--param p={pr}: the drop probability must be in [0, 1)");
            }
            if op == "dropout" {
                ops::dropout::dropout(tape, x, pr, seed, training)
            } else {
                ops::dropout::channel_dropout(tape, x, pr, seed, training)
            }
        }
        "concat" => {
            arity(op, v, 1, usize::MAX)?;
            ops::concat::concat_channels(tape, v)
        }
        "split" => {
            let pieces = ops::concat::split_channels(tape, unary(v)?, &p.list("sizes")?)?;
            ops::concat::concat_channels(tape, &pieces)
        }
        "reshape" => ops::reshape::reshape(tape, unary(v)?, &p.list::<usize>("shape")?),
        "flatten" => ops::reshape::flatten(tape, unary(v)?),
        "softmax" => ops::softmax::softmax(tape, unary(v)?),
        "log_softmax" => ops::softmax::log_softmax(tape, unary(v)?),
        "cross_entropy" => {
            let labels: Vec<i64> = p.list("labels")?;
            let labels: Vec<Option<usize>> = labels
                .iter()
                .map(|&l| (l >= 0).then_some(l as usize))
                .collect();
            ops::softmax::cross_entropy(tape, unary(v)?, &labels)
        }
        "cclp" => {
            let labels: Vec<i64> = p.list("labels")?;
            let labels: Vec<Option<usize>> = labels
                .iter()
                .map(|&l| (l >= 0).then_some(l as usize))
                .collect();
            let classes = p.get(
                "classes",
                Some(labels.iter().flatten().max().map_or(1, |m| m + 1)),
            )?;
            ops::cclp::cclp_loss(
                tape,
                unary(v)?,
                &labels,
                classes,
                p.get("steps", Some(ops::cclp::STEPS))?,
            )
        }
        "distance_anchor" => {
            let sets: Vec<usize> = p.list("sets")?;
            let targets: Vec<f32> = p.list("targets")?;
            let targets: Vec<Option<f32>> = targets
                .iter()
                .map(|t| t.is_finite().then_some(*t))
                .collect();
            ops::anchor::distance_anchor(tape, unary(v)?, &sets, &targets)
        }
        "mask_columns" => ops::select::mask_columns(tape, unary(v)?, p.get("keep", None)?),
        "slice_columns" => {
            ops::select::slice_columns(tape, unary(v)?, p.get("start", None)?, p.get("end", None)?)
        }
        "add" | "mul" => {
            arity(op, v, 2, 2)?;
            if op == "add" {
                ops::arith::add(tape, v[0], v[1])
            } else {
                ops::arith::mul(tape, v[0], v[1])
            }
        }
        "scale" => ops::arith::scale(tape, unary(v)?, p.get("s", Some(1.0))?),
        "add_scalar" => ops::arith::add_scalar(tape, unary(v)?, p.get("s", Some(0.0))?),
        "transpose" => ops::transpose::transpose(tape, unary(v)?),
        "ln" => ops::arith::ln(tape, unary(v)?),
        "sum" => ops::arith::sum(tape, unary(v)?),
        "mean" => ops::arith::mean(tape, unary(v)?),
        _ => bail!("unknown primitive '{op}' (see dcc op --list)"),
    }
}

fn load(path: &Path) -> Result<Tensor> {
    let a = npy::NpyArray::open(path)?;
    if a.dims().len() > MAX_RANK {
        bail!(
            "{}: {} dimensions, dcc tensors have at most {MAX_RANK}",
            path.display(),
            a.dims().len()
        );
    }
    Tensor::from_vec(a.dims(), a.to_vec_f32()).with_context(|| format!("{}", path.display()))
}

/// Runs `dcc op`.
pub fn run(a: Args) -> Result<()> {
    if a.list {
        println!("{:<16} {:<36} parameters", "primitive", "inputs");
        for (n, i, p) in CATALOG {
            println!("{n:<16} {i:<36} {p}");
        }
        return Ok(());
    }
    let name = a.name.expect("clap requires a name unless --list");
    let out_dir = a
        .out
        .ok_or_else(|| anyhow!("dcc op {name}: --out DIR is required"))?;
    let params = Params::parse(&a.params)?;
    let inputs: Vec<Tensor> = a.inputs.iter().map(|p| load(p)).collect::<Result<_>>()?;
    let pool = Pool::on(crate::tensor::Device::select(&a.device)?)?;
    let mut tape = Tape::new(&pool);
    let vars: Vec<Var> = inputs
        .into_iter()
        .map(|t| Ok(tape.input(t.to_pool(&pool)?)))
        .collect::<Result<_>>()?;
    let y = apply(&name, &mut tape, &vars, &params).with_context(|| format!("dcc op {name}"))?;
    let seed = match &a.grad {
        Some(g) => {
            let t = load(g)?;
            if t.shape() != tape.shape(y) {
                bail!(
                    "{}: gradient has shape {}, the output of {name} has shape {}",
                    g.display(),
                    t.shape(),
                    tape.shape(y)
                );
            }
            t.to_pool(&pool)?
        }
        None => Tensor::full(tape.shape(y), 1.0).to_pool(&pool)?,
    };
    let grads = tape.backward_with(y, seed)?;
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let out = tape.value(y).to_host()?;
    npy::write_npy_f32(&out_dir.join("output.npy"), out.dims(), out.data())?;
    for (i, v) in vars.iter().enumerate() {
        let g = match grads.get(*v) {
            Some(g) => g.to_host()?,
            None => Tensor::zeros(tape.shape(*v)),
        };
        npy::write_npy_f32(
            &out_dir.join(format!("grad_input_{i}.npy")),
            g.dims(),
            g.data(),
        )?;
    }
    println!(
        "{name}: output {} and {} input gradients written to {}",
        out.shape(),
        vars.len(),
        out_dir.display()
    );
    Ok(())
}
