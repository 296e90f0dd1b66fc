//! Progress bars (indicatif) for the commands that train: the command line's side of
//! `dcc::train::Progress`.

use crate::dcc::train::Progress;
use indicatif::{ProgressBar, ProgressStyle};

/// A bar of training steps with the latest step's status; epoch lines print above it.
pub struct Bar(ProgressBar);

impl Bar {
    /// A bar that appears when training starts.
    pub fn new() -> Bar {
        Bar(ProgressBar::hidden())
    }
}

impl Default for Bar {
    fn default() -> Self {
        Bar::new()
    }
}

impl Progress for Bar {
    fn start(&self, steps: u64) {
        self.0
            .set_draw_target(indicatif::ProgressDrawTarget::stderr());
        self.0.set_length(steps);
        self.0.set_position(0);
        self.0.set_style(
            ProgressStyle::with_template(
                "{bar:30} {pos}/{len} {msg} [{elapsed_precise} ETA {eta}]",
            )
            .expect("valid progress template"),
        );
        self.0.reset_elapsed();
    }

    fn step(&self, status: &str) {
        self.0.set_message(status.to_string());
        self.0.inc(1);
    }

    fn epoch(&self, line: &str) {
        self.0.suspend(|| eprintln!("{line}"));
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}
