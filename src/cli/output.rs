//! The one handle all output goes through: data to stdout, diagnostics to the log on stderr.

use std::io::{self, IsTerminal, Write};
use std::sync::Arc;

use adoport::config::source::SourceFile;
use adoport::config::{self, Diagnostic, Severity};
use adoport::pipeline::{Level, Note};

/// Writes data to stdout, and diagnostics through the logging layer (`error:`, `warning:`,
/// `note:` lines, or JSON with `--log-format json`), honouring `--quiet` and terminals.
pub(crate) struct Output {
    quiet: bool,
    json_logs: bool,
    stdout_color: bool,
    stderr_color: bool,
    stderr_terminal: bool,
}

/// Whether a stream gets colour: a terminal, unless `NO_COLOR` is set; or `CLICOLOR_FORCE`.
fn colored(terminal: bool) -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
    if set("CLICOLOR_FORCE") {
        return true;
    }
    terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

impl Output {
    /// A handle writing to the process's stdout and stderr.
    pub(crate) fn new(quiet: bool, json_logs: bool) -> Self {
        let stderr_terminal = io::stderr().is_terminal();
        Output {
            quiet,
            json_logs,
            stdout_color: colored(io::stdout().is_terminal()),
            stderr_color: colored(stderr_terminal) && !json_logs,
            stderr_terminal,
        }
    }

    /// Whether stdout gets colour.
    pub(crate) fn color(&self) -> bool {
        self.stdout_color
    }

    /// Whether stderr gets colour.
    pub(crate) fn stderr_color(&self) -> bool {
        self.stderr_color
    }

    /// Whether stderr is a terminal (progress bars are drawn only there).
    pub(crate) fn stderr_is_terminal(&self) -> bool {
        self.stderr_terminal
    }

    /// Writes data (the command's result) to stdout, scrubbed of every secret the process
    /// holds (the last net: the library scrubs what servers say where it enters).
    pub(crate) fn data(&self, text: &str) -> io::Result<()> {
        let text = adoport::secrets::scrub(text);
        let mut out = io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()
    }

    /// A note for people on stderr (`note: …`), unless `--quiet`.
    pub(crate) fn status(&self, text: &str) {
        tracing::info!("{text}");
    }

    /// An error and its causes, always.
    pub(crate) fn error(&self, err: &anyhow::Error) {
        let causes: Vec<String> = err.chain().skip(1).map(|c| c.to_string()).collect();
        if self.json_logs {
            tracing::error!(causes = %causes.join(": "), "{err}");
        } else {
            let mut text = err.to_string();
            for cause in &causes {
                text.push_str(&format!("\n  caused by: {cause}"));
            }
            tracing::error!("{text}");
        }
    }

    /// A run's notes (item failures, incomplete listings), each a log line.
    pub(crate) fn notes(&self, notes: &[Note]) {
        for note in notes {
            match note.level {
                Level::Warning => tracing::warn!("{}", note.text),
                Level::Note => tracing::info!("{}", note.text),
            }
        }
    }

    /// Lint findings on stderr: rustc-style text (as `adoport lint` prints them), or one
    /// JSON log line each with `--log-format json`.
    pub(crate) fn findings(&self, diagnostics: &[Diagnostic], sources: &[Arc<SourceFile>]) {
        if self.json_logs {
            for d in diagnostics {
                let (file, line, column) = match &d.span {
                    Some(s) => (&*d.file, s.line, s.column),
                    None => (&*d.file, 0, 0),
                };
                let hint = d.help.as_deref().unwrap_or("");
                match d.severity {
                    Severity::Error => {
                        tracing::error!(code = d.code, file, line, column, hint, "{}", d.message)
                    }
                    _ => tracing::warn!(code = d.code, file, line, column, hint, "{}", d.message),
                }
            }
        } else if !self.quiet || diagnostics.iter().any(Diagnostic::is_error) {
            let text = config::render::text(diagnostics, sources, self.stderr_color);
            let text = adoport::secrets::scrub(&text);
            let _ = io::stderr().lock().write_all(text.as_bytes());
        }
    }
}

/// A closed stdout (`adoport … | head`) is not an error.
pub(crate) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}
