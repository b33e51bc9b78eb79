//! A config file's text and how to turn positions in it into lines, columns and byte ranges.

use std::sync::Arc;

/// One file's text, kept so diagnostics can quote the offending line.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The path as shown to the user.
    pub name: Arc<str>,
    /// The whole text.
    pub text: Arc<str>,
    line_starts: Vec<usize>,
}

/// A place in a file: a byte range plus the 1-based line and column of its start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// Byte offset of the start.
    pub start: usize,
    /// Byte offset just past the end (at least `start`).
    pub end: usize,
    /// 1-based line of the start.
    pub line: usize,
    /// 1-based column of the start, in characters.
    pub column: usize,
}

impl SourceFile {
    /// Wraps a file's text.
    pub fn new(name: impl Into<Arc<str>>, text: impl Into<Arc<str>>) -> Self {
        let text: Arc<str> = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceFile {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// The byte offset of a 1-based line and a 0-based character column, clamped to the text.
    pub fn offset(&self, line: usize, char_col: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let rest = &self.text[start..];
        let line_text = rest.split('\n').next().unwrap_or("");
        start
            + line_text
                .char_indices()
                .nth(char_col)
                .map_or(line_text.len(), |(i, _)| i)
    }

    /// A span from 1-based line / 0-based character column pairs (as the YAML parser reports).
    pub fn span(&self, start: (usize, usize), end: (usize, usize)) -> Span {
        let s = self.offset(start.0, start.1);
        let e = self.offset(end.0, end.1).max(s);
        Span {
            start: s,
            end: e,
            line: start.0.max(1),
            column: start.1 + 1,
        }
    }

    /// The span of a byte range, with its line and column computed.
    pub fn span_of_bytes(&self, start: usize, end: usize) -> Span {
        let start = floor_char_boundary(&self.text, start.min(self.text.len()));
        let end = floor_char_boundary(&self.text, end.clamp(start, self.text.len()));
        let line = self.line_starts.partition_point(|&s| s <= start);
        let line_start = self.line_starts[line - 1];
        Span {
            start,
            end,
            line,
            column: self.text[line_start..start].chars().count() + 1,
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_and_offsets_count_bytes() {
        let f = SourceFile::new("a.yaml", "a: 1\nné: x\n");
        let s = f.span((2, 4), (2, 5));
        assert_eq!((s.line, s.column), (2, 5));
        assert_eq!(&f.text[s.start..s.end], "x");
        let t = f.span_of_bytes(s.start, s.end);
        assert_eq!(t, s);
    }
}
