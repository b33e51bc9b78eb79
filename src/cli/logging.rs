//! Logs on stderr: `error:`/`warning:`/`note:` lines for people, or JSON objects for
//! machines, and progress bars that never tear a log line.
//!
//! Every diagnostic the CLI prints goes through here, so `--log-format json` leaves nothing
//! but JSON on stderr. Levels map to words: error → `error:`, warn → `warning:`, info →
//! `note:`, debug and trace keep their names. Colour only when stderr is a terminal
//! (`NO_COLOR` turns it off, `CLICOLOR_FORCE` on). Progress bars are drawn only on a
//! terminal, never with `--quiet` or JSON logs; a log line is written with the bars
//! suspended so the two do not interleave.

use std::fmt;
use std::io::{self, Write};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

use super::{LogFormat, Output};

/// Installs the subscriber (and, on a terminal, the progress reporter).
pub(crate) fn init(format: LogFormat, verbose: u8, quiet: bool, out: &Output) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        // The NATS client narrates every connection at info: only its warnings by default.
        (false, 0) => "info,async_nats=warn",
        (false, 1) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("ADOPORT_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let progress = (out.stderr_is_terminal() && !quiet && format == LogFormat::Text)
        .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
    let writer = Stderr {
        progress: progress.clone(),
    };
    // Field names are styled only where the label is: never off a terminal.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(out.stderr_color())
        .with_writer(writer);
    // A second init (tests calling `main` twice) is harmless: keep the first.
    let _ = match format {
        LogFormat::Text => builder
            .event_format(Plain {
                color: out.stderr_color(),
            })
            .try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
    if let Some(multi) = progress {
        adoport::progress::install(Box::new(Bars { multi }));
    }
}

/// `warning: message key=value`, coloured on a terminal.
struct Plain {
    color: bool,
}

impl<S, N> FormatEvent<S, N> for Plain
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let (label, style) = match *event.metadata().level() {
            Level::ERROR => ("error", "\x1b[1;31m"),
            Level::WARN => ("warning", "\x1b[1;33m"),
            Level::INFO => ("note", "\x1b[1;36m"),
            Level::DEBUG => ("debug", "\x1b[2m"),
            Level::TRACE => ("trace", "\x1b[2m"),
        };
        if self.color {
            write!(writer, "{style}{label}\x1b[0m: ")?;
        } else {
            write!(writer, "{label}: ")?;
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// stderr, with progress bars (if any) suspended while a line is written, and every secret
/// the process holds scrubbed from what is written.
#[derive(Clone)]
struct Stderr {
    progress: Option<MultiProgress>,
}

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = Stderr;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // The last net: whatever a log line carries, no secret the process holds gets out.
        let text = String::from_utf8_lossy(buf);
        let text = adoport::secrets::scrub(&text);
        let write = || io::stderr().lock().write_all(text.as_bytes());
        match &self.progress {
            Some(multi) => multi.suspend(write)?,
            None => write()?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// Progress bars on stderr, one line per task.
struct Bars {
    multi: MultiProgress,
}

impl adoport::progress::Reporter for Bars {
    fn start(&self, label: &str, total: Option<u64>) -> Box<dyn adoport::progress::Bar> {
        let bar = match total {
            Some(n) => {
                let bar = ProgressBar::new(n);
                if let Ok(style) =
                    ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {msg}")
                {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar
            }
            None => {
                let bar = ProgressBar::new_spinner();
                if let Ok(style) = ProgressStyle::with_template("{prefix:>12} {spinner} {msg}") {
                    bar.set_style(style);
                }
                bar
            }
        };
        bar.set_prefix(label.to_owned());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Box::new(Shown(self.multi.add(bar)))
    }
}

struct Shown(ProgressBar);

impl adoport::progress::Bar for Shown {
    fn inc(&self, n: u64) {
        self.0.inc(n);
    }

    fn message(&self, text: String) {
        self.0.set_message(text);
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}
