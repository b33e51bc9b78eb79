//! `adoport jq FILTER [FILE]`: runs a jq filter with the very engine and preprocessing that
//! mappings use (Port's single-quote rewrite, jq 1.8 compatibility, an empty `$ENV`, limits).

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;

use super::{Ctx, Exit};
use adoport::jq::{Engine, EngineOptions, Input};

/// Runs a jq filter on JSON input, as a mapping leaf would evaluate it.
#[derive(Debug, clap::Args)]
pub(crate) struct JqArgs {
    /// The jq filter. Single-quoted strings are rewritten as Port does; `$ENV` and `env`
    /// are empty, as in a mapping without an environment allow-list.
    #[arg(allow_hyphen_values = true)]
    filter: String,
    /// File with the JSON input: one or more whitespace-separated values. Reads stdin
    /// when absent.
    file: Option<PathBuf>,
    /// Print each output on one line instead of pretty-printed with two-space indents.
    #[arg(short, long)]
    compact: bool,
    /// Mapping semantics: print only the first output of each input, or `null` when the
    /// filter yields nothing.
    #[arg(long)]
    first: bool,
}

/// Compiles the filter, runs it on every input value and prints the outputs; a jq error
/// exits with status 5, unreadable input with status 2.
pub(crate) fn run(args: JqArgs, ctx: &Ctx) -> anyhow::Result<Exit> {
    let text = match read_input(args.file.as_ref()) {
        Ok(text) => text,
        Err(err) => {
            ctx.out.error(&err);
            return Ok(Exit::Changes);
        }
    };
    let mut values = Vec::new();
    for value in serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>() {
        match value {
            Ok(v) => values.push(v),
            Err(err) => {
                ctx.out
                    .error(&anyhow::Error::new(err).context("input is not JSON"));
                return Ok(Exit::Changes);
            }
        }
    }
    let engine = Engine::new(EngineOptions::default());
    let program = match engine.compile(&args.filter) {
        Ok(p) => p,
        Err(err) => {
            let at = err
                .offset
                .map(|o| format!(" (at byte {o})"))
                .unwrap_or_default();
            ctx.out
                .error(&anyhow::anyhow!("jq: compile error{at}: {}", err.message));
            return Ok(Exit::JqError);
        }
    };
    let render = |v: &serde_json::Value| -> anyhow::Result<String> {
        let mut s = if args.compact {
            serde_json::to_string(v)?
        } else {
            serde_json::to_string_pretty(v)?
        };
        s.push('\n');
        Ok(s)
    };
    for value in &values {
        let input = Input::new(value);
        if args.first {
            match program.first(&input) {
                Ok(out) => ctx
                    .out
                    .data(&render(&out.unwrap_or(serde_json::Value::Null))?)?,
                Err(err) => {
                    ctx.out
                        .error(&anyhow::anyhow!("jq: error: {}", err.message));
                    return Ok(Exit::JqError);
                }
            }
            continue;
        }
        let mut write_error = None;
        let result = program.each(&input, |out| {
            match render(&out).and_then(|s| Ok(ctx.out.data(&s)?)) {
                Ok(()) => true,
                Err(e) => {
                    write_error = Some(e);
                    false
                }
            }
        });
        if let Some(e) = write_error {
            return Err(e);
        }
        if let Err(err) = result {
            ctx.out
                .error(&anyhow::anyhow!("jq: error: {}", err.message));
            return Ok(Exit::JqError);
        }
    }
    Ok(Exit::Ok)
}

fn read_input(file: Option<&PathBuf>) -> anyhow::Result<String> {
    match file {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
        }
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read stdin")?;
            Ok(text)
        }
    }
}
