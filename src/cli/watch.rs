//! `adoport watch`: re-lint and re-plan on every save of a mapping file.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::Args;

use adoport::catalog::OpenMode;
use adoport::config;
use adoport::pipeline::{self, Options, Pipeline, SourceSpec, TargetSpec};
use adoport::reconcile::render;
use adoport::watch::{self, Event, Session, WatchOptions};

use super::{Ctx, Exit};

/// Watch a config folder: on every save, lint it and plan it against a snapshot of ADO data,
/// showing findings and the plan summary. A save with errors shows them and keeps the last
/// good state. Runs until interrupted.
#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// The config repo folder to watch.
    #[arg(long, default_value = ".", value_name = "DIR")]
    config: PathBuf,
    /// Where raw items come from (read once, kept in memory): `snapshot:DIR` recorded by
    /// `adoport fetch`, or `ado` (fetched once at start).
    #[arg(
        long,
        default_value = "snapshot:.adoport/snapshot",
        value_name = "snapshot:DIR|ado",
        value_parser = super::run::parse_source
    )]
    source: SourceSpec,
    /// The catalog to plan against (and write, with `--apply`): `sqlite:PATH` or `port`.
    #[arg(
        long,
        value_name = "TARGET",
        default_value = "sqlite:.adoport/catalog.sqlite"
    )]
    target: String,
    /// Apply each good plan to the catalog as you save.
    #[arg(long)]
    apply: bool,
    /// How long file events settle before a re-plan, in milliseconds.
    #[arg(long, default_value_t = 300, value_name = "MS")]
    debounce_ms: u64,
}

pub(crate) fn run(args: WatchArgs, ctx: &Ctx) -> anyhow::Result<Exit> {
    // The source and catalog come from the folder's settings as they are at start; the
    // mapping and its jq settings are read on every save.
    let (first, _) = config::ConfigSource::Path(args.config.clone()).load()?;
    let settings = first
        .config
        .as_ref()
        .map(|c| c.settings.clone())
        .unwrap_or_default();
    let access = super::access()?;
    let items = pipeline::open::items(&args.source, &settings, &access)?;
    let target = TargetSpec {
        target: Some(args.target.clone()),
        datasource: None,
    };
    let mode = if args.apply {
        OpenMode::ReadWrite
    } else {
        OpenMode::ReadOnly
    };
    let catalog = pipeline::open::catalog(&target, &settings, &access, mode)?;
    let pipeline = Pipeline::new(
        items,
        Some(catalog),
        &access,
        Options {
            reuse_mapped: true,
            ..Options::default()
        },
    )?;
    let session = Session::new(&args.config, pipeline, args.apply);
    let options = WatchOptions {
        debounce: Duration::from_millis(args.debounce_ms),
        ..WatchOptions::default()
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let loop_stop = stop.clone();
    let worker = std::thread::spawn(move || watch::run(session, &options, &tx, &loop_stop));
    let tty = std::io::stdout().is_terminal();
    ctx.out.status(&format!(
        "watching {} (Ctrl-C to stop)",
        args.config.display()
    ));
    for event in rx {
        let mut text = String::new();
        if tty {
            // Clear the screen and go home: each save shows one fresh screen.
            text.push_str("\x1b[2J\x1b[H");
        }
        text.push_str(&show(&event, ctx.out.color(), tty));
        ctx.out.data(&text)?;
    }
    match worker.join() {
        Ok(result) => result?,
        Err(_) => anyhow::bail!("the watch loop stopped unexpectedly"),
    }
    Ok(Exit::Ok)
}

/// Plan lines shown per save on a terminal: the summary and counts per blueprint come
/// first, so the screen stays one screen; `adoport plan` lists everything.
const SCREEN_PLAN_LINES: usize = 30;

/// One event as text: findings, then the plan's summary and changes (cut to a screen on
/// a terminal).
fn show(event: &Event, color: bool, tty: bool) -> String {
    match event {
        Event::Planned(p) => {
            let mut t = String::new();
            if !p.diagnostics.is_empty() {
                t.push_str(&config::render::text(&p.diagnostics, &p.sources, color));
            }
            for f in &p.planned.findings {
                let what = if f.message.is_empty() {
                    format!(
                        "`{}` is {} on {} items",
                        f.field,
                        f.diagnostic.label(),
                        f.count
                    )
                } else {
                    format!(
                        "`{}`: {} on {} items: {}",
                        f.field,
                        f.diagnostic.label(),
                        f.count,
                        f.message
                    )
                };
                t.push_str(&format!("{}: {what}\n", f.origin));
            }
            if let Some(changed) = p.changed.as_ref().filter(|d| !d.resources.is_empty()) {
                let keys: Vec<&str> = changed.resources.iter().map(|r| r.key()).collect();
                t.push_str(&format!("changed: {}\n", keys.join(", ")));
            }
            for note in p.planned.summary.notes() {
                t.push_str(&format!("{}\n", note.text));
            }
            let plan = render::text::render(&p.planned.plan, color);
            let lines = plan.lines().count();
            if tty && lines > SCREEN_PLAN_LINES {
                for line in plan.lines().take(SCREEN_PLAN_LINES) {
                    t.push_str(line);
                    t.push('\n');
                }
                t.push_str(&format!(
                    "… {} more lines: `adoport plan` lists every change\n",
                    lines - SCREEN_PLAN_LINES
                ));
            } else {
                t.push_str(&plan);
            }
            t.push_str(&format!(
                "({} resources mapped, {} reused, {} ms)\n",
                p.planned.evaluated,
                p.planned.reused,
                p.elapsed.as_millis()
            ));
            match &p.applied {
                Some(Ok(report)) => t.push_str(&render::text::render_report(report, color)),
                Some(Err(why)) => t.push_str(&format!("the apply failed: {why}\n")),
                None => {}
            }
            t
        }
        Event::Rejected(r) => {
            let mut t = config::render::text(&r.loaded.diagnostics, &r.loaded.sources, color);
            if r.kept_last_good {
                t.push_str("The last good config stays in force.\n");
            }
            t
        }
        Event::Unreadable(message) => {
            format!("error: {message}\nThe last good config stays in force.\n")
        }
    }
}
