//! The llmbench binary: parse the command line, run, map the outcome to an exit code.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = llmbench::cli::Cli::parse();
    llmbench::exec::shutdown::ignore_file_size_signal();
    match llmbench::app::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.code)
        }
    }
}
