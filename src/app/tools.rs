//! The small commands that fit llmbench into a user's tools: the experiment
//! file's JSON Schema (`schema`), shell completions (`completions`) and the
//! man page (`man`), all generated from the same types and clap definition
//! the rest of llmbench uses, so none of them is edited by hand.

use super::AppError;
use crate::cli::{exit, Cli, CompletionsArgs, SchemaArgs, SchemaKind};
use clap::CommandFactory;
use std::io::Write;

/// `llmbench schema experiment`: the JSON Schema, as committed in schemas/.
pub(crate) fn schema(args: SchemaArgs) -> Result<u8, AppError> {
    let text = match args.format {
        SchemaKind::Experiment => crate::experiment::schema::experiment_schema_json(),
    };
    write_stdout(text.as_bytes())
}

/// `llmbench completions SHELL`: the completion script on stdout.
pub(crate) fn completions(args: CompletionsArgs) -> Result<u8, AppError> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "llmbench", &mut script);
    write_stdout(&script)
}

/// `llmbench man`: the man page (roff) on stdout, subcommands included.
pub(crate) fn man() -> Result<u8, AppError> {
    let mut page = Vec::new();
    render_man(&mut page)
        .map_err(|e| AppError::new(exit::ERROR, format!("cannot render the man page: {e}")))?;
    write_stdout(&page)
}

/// One page: the top-level command, then a section per subcommand (its own
/// options and examples), as in `git help -a`-style single pages.
fn render_man(out: &mut Vec<u8>) -> std::io::Result<()> {
    let command = Cli::command();
    let man = clap_mangen::Man::new(command.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    man.render_subcommands_section(out)?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("llmbench {}", sub.get_name());
        let sub_man = clap_mangen::Man::new(
            sub.clone()
                .bin_name(name.clone())
                .display_name(name.clone()),
        );
        writeln!(out, ".SH \"{}\"", name.to_uppercase())?;
        let mut body = Vec::new();
        sub_man.render_synopsis_section(&mut body)?;
        sub_man.render_description_section(&mut body)?;
        sub_man.render_options_section(&mut body)?;
        sub_man.render_extra_section(&mut body)?;
        // Demote the subcommand's own section headings under its heading.
        out.extend_from_slice(
            String::from_utf8_lossy(&body)
                .replace(".SH ", ".SS ")
                .as_bytes(),
        );
    }
    man.render_extra_section(out)?;
    man.render_version_section(out)?;
    Ok(())
}

/// Writes `bytes` to stdout; a closed pipe (`| head`) is not an error.
pub(super) fn write_stdout(bytes: &[u8]) -> Result<u8, AppError> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(exit::OK),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(exit::OK),
        Err(e) => Err(AppError::new(
            exit::ERROR,
            format!("cannot write to stdout: {e}"),
        )),
    }
}
