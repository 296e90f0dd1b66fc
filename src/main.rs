//! The `dcc` command line (the commands live in the library's `cli`, which the Python
//! package calls too).

use clap::Parser;

fn main() {
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
