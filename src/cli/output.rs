//! The one handle all output goes through: data to stdout, status to stderr.

use std::io::{self, IsTerminal, Write};

/// Writes data to stdout and status to stderr, honouring `--quiet` and terminal detection.
pub(crate) struct Output {
    quiet: bool,
    color: bool,
}

impl Output {
    /// A handle writing to the process's stdout and stderr.
    pub(crate) fn new(quiet: bool) -> Self {
        let color = io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        Output { quiet, color }
    }

    /// Whether stdout is a colour-capable terminal.
    pub(crate) fn color(&self) -> bool {
        self.color
    }

    /// Writes data (the command's result) to stdout.
    pub(crate) fn data(&self, text: &str) -> io::Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()
    }

    /// Writes a status line to stderr unless `--quiet`.
    #[allow(dead_code)] // used by the subcommands that report progress
    pub(crate) fn status(&self, text: &str) {
        if !self.quiet {
            let _ = writeln!(io::stderr().lock(), "{text}");
        }
    }

    /// Writes an error and its causes to stderr, always.
    pub(crate) fn error(&self, err: &anyhow::Error) {
        let mut text = format!("error: {err}");
        for cause in err.chain().skip(1) {
            text.push_str(&format!("\n  caused by: {cause}"));
        }
        let _ = writeln!(io::stderr().lock(), "{text}");
    }
}

/// A closed stdout (`adoport … | head`) is not an error.
pub(crate) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}
