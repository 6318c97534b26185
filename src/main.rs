//! The llmbench binary: parse the command line, run, map the outcome to an exit code.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    quiet_on_closed_stdout();
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

/// Output goes through `llmbench::util::print`, which drops it quietly once
/// stdout's reader is gone; this catches any `print!` left elsewhere (a
/// library's): a closed pipe ends the process quietly, any other failed
/// write to stdout (a full disk) with a clear error, never a panic's trace.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if let Some(cause) = message.strip_prefix("failed printing to stdout: ") {
            if cause.contains("Broken pipe") {
                std::process::exit(0);
            }
            eprintln!("error: {}", llmbench::util::stdout_error(cause));
            std::process::exit(1);
        }
        default(info);
    }));
}
