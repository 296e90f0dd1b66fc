//! The `dcc` command line (the commands live in the library's `cli`, which the Python
//! package calls too).

use clap::Parser;

#[cfg(unix)]
extern "C" {
    fn signal(signum: i32, handler: usize) -> usize;
}

fn main() {
    // `dcc … | head` ends quietly like any Unix tool: Rust ignores SIGPIPE, so a write to a
    // closed pipe would otherwise panic inside println!.
    #[cfg(unix)]
    // SAFETY: SIGPIPE (13) back to SIG_DFL (0) before any thread exists.
    unsafe {
        signal(13, 0);
    }
    let args = dcc::cli::Cli::parse();
    match dcc::cli::run(args) {
        Ok(0) => {}
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
