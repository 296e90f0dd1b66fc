//! `dcc inspect DIR`: a per-set summary table and a PNG mosaic of example maps.

use crate::data::dataset::{Dataset, OpenOptions};
use crate::data::inspect;
use crate::report::mosaic;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `dcc inspect`.
#[derive(Args)]
pub struct InspectArgs {
    /// Dataset directory (images.npy + catalog.csv).
    pub dir: PathBuf,
    /// Where to write the mosaic PNG (default: DIR/inspect.png).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Example images per set in the mosaic.
    #[arg(long, default_value_t = 4)]
    pub examples: usize,
    /// Skip images holding NaN/Inf instead of refusing the dataset.
    #[arg(long)]
    pub skip_bad: bool,
}

/// Prints the summary and writes the mosaic.
pub fn run(args: InspectArgs) -> Result<()> {
    let ds = Dataset::open(
        &args.dir,
        &OpenOptions {
            skip_bad: args.skip_bad,
        },
    )?;
    let sets = inspect::summarise(&ds)?;
    print!("{}", inspect::format_summary(&ds, &sets));
    let out = args.out.unwrap_or_else(|| args.dir.join("inspect.png"));
    let (w, h) = mosaic::write_mosaic(&ds, &out, args.examples)?;
    println!(
        "\nmosaic: {} ({w}×{h} px; rows = sets, columns = {} example(s) per channel, log stretch over 3 decades)",
        out.display(),
        args.examples.max(1)
    );
    Ok(())
}
