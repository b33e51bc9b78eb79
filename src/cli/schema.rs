//! `adoport schema`: print the JSON Schemas compiled into the binary, for editors.

use clap::Args;

use adoport::config::{kinds, schema};

use super::{Ctx, Exit};

/// Print a JSON Schema: `mapping` (Port's mapping format), `settings` (`adoport.yaml`), or
/// `selector KIND` (one kind's selector options).
///
/// Editors use them for completion and checks; see README for the
/// `# yaml-language-server: $schema=` line.
#[derive(Debug, Args)]
pub(crate) struct SchemaArgs {
    /// `mapping`, `settings` or `selector`.
    #[arg(value_parser = ["mapping", "settings", "selector"])]
    which: String,
    /// The kind, for `selector`.
    kind: Option<String>,
}

pub(crate) fn run(args: SchemaArgs, ctx: &Ctx) -> anyhow::Result<Exit> {
    let name = match (args.which.as_str(), &args.kind) {
        ("selector", Some(kind)) => format!("selector/{kind}"),
        ("selector", None) => anyhow::bail!(
            "`schema selector` needs a kind: {}",
            kinds::names().collect::<Vec<_>>().join(", ")
        ),
        (which, _) => which.to_string(),
    };
    let Some(text) = schema::schema_text(&name) else {
        anyhow::bail!(
            "no schema `{name}`; kinds: {}",
            kinds::names().collect::<Vec<_>>().join(", ")
        );
    };
    ctx.out.data(text)?;
    if !text.ends_with('\n') {
        ctx.out.data("\n")?;
    }
    Ok(Exit::Ok)
}
