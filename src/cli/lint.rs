//! `adoport lint`: check mapping files and report every problem with file, line and column.

use clap::{Args, ValueEnum};

use adoport::config::{self, ConfigSource, Diagnostic, Severity, rules};

use super::{Ctx, Exit};

/// Check mapping files: YAML, schema, unknown keys and kinds, selector options, jq syntax,
/// YAML 1.1 pitfalls and, when a `blueprints/` folder exists, blueprint properties.
///
/// Exits 0 when there are no errors (warnings allowed), 1 with errors, 2 when an input
/// cannot be read at all. An unreadable input is reported as a finding of rule `unreadable`
/// (with no line), in text and in JSON alike, beside the findings of the other inputs.
#[derive(Debug, Args)]
pub(crate) struct LintArgs {
    /// Config repo folders, single mapping files, or git revisions `git:PATH@REV` (any
    /// branch, tag or commit; `git:PATH` alone is `HEAD`). Default: the current folder.
    paths: Vec<ConfigSource>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Fail (exit 1) on warnings too.
    #[arg(long)]
    deny_warnings: bool,
    /// Explain a rule by its code (e.g. `unknown-key`) and exit; `all` lists every rule.
    #[arg(long, value_name = "CODE")]
    explain: Option<String>,
}

/// How findings are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// rustc-style text with source lines and carets.
    Text,
    /// A JSON array of `{file, line, column, severity, code, message, hint}`; an input that
    /// cannot be read is one such object with code `unreadable` and null line and column.
    Json,
}

pub(crate) fn run(args: LintArgs, ctx: &Ctx) -> anyhow::Result<Exit> {
    if let Some(code) = &args.explain {
        return explain(code, ctx);
    }
    let paths = if args.paths.is_empty() {
        vec![ConfigSource::Path(".".into())]
    } else {
        args.paths
    };
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    let mut sources = Vec::new();
    let mut unreadable = false;
    for path in &paths {
        match path.load() {
            Ok((mut loaded, _revision)) => {
                config::lint::lint(&mut loaded);
                diagnostics.append(&mut loaded.diagnostics);
                sources.append(&mut loaded.sources);
            }
            Err(e) => {
                diagnostics.push(config::lint::unreadable(path, &e));
                unreadable = true;
            }
        }
    }
    config::diagnostic::sort(&mut diagnostics);
    let rendered = match args.format {
        Format::Text => config::render::text(&diagnostics, &sources, ctx.out.color()),
        Format::Json => config::render::json(&diagnostics),
    };
    ctx.out.data(&rendered)?;
    let errors = diagnostics.iter().any(|d| d.severity == Severity::Error);
    let warnings = diagnostics.iter().any(|d| d.severity == Severity::Warning);
    Ok(if unreadable {
        Exit::Changes
    } else if errors || (args.deny_warnings && warnings) {
        Exit::Failure
    } else {
        Exit::Ok
    })
}

fn explain(code: &str, ctx: &Ctx) -> anyhow::Result<Exit> {
    let mut text = String::new();
    for rule in rules::ALL
        .iter()
        .filter(|r| code == "all" || r.code == code)
    {
        let level = match rule.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        text.push_str(&format!("{} ({level})\n  {}\n\n", rule.code, rule.docs));
    }
    if text.is_empty() {
        let codes: Vec<&str> = rules::ALL.iter().map(|r| r.code).collect();
        if let Some(meant) = config::schema::did_you_mean(code, codes.iter().copied()) {
            anyhow::bail!("no rule `{code}`; did you mean `{meant}`?");
        }
        anyhow::bail!("no rule `{code}`; rules: {}", codes.join(", "));
    }
    ctx.out.data(&text)?;
    Ok(Exit::Ok)
}
