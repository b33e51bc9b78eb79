//! Raw items as `adoport map` takes them: a JSON array, or JSON lines (one item per line, the
//! snapshot format), read as a stream and handed over in windows, so an input of any size
//! is mapped in a window of items.

use std::io::BufRead;

use serde_json::Value;

use super::{Error, Result};

/// A window of items as their JSON text, not parsed yet: parsing costs more than finding
/// where items end, so a reader hands windows on and each is parsed where it is mapped.
#[derive(Debug, Default)]
pub struct RawItems {
    text: Vec<u8>,
    /// Per item: where its text ends in `text`, and the line it starts on.
    items: Vec<(usize, usize)>,
    /// The position of the window's first item in the whole input.
    first: usize,
    /// Items are JSON lines (an error names the line), not an array's elements.
    lines: bool,
}

impl RawItems {
    fn new(first: usize, lines: bool) -> Self {
        RawItems {
            first,
            lines,
            ..RawItems::default()
        }
    }

    /// How many items the window holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the window holds no item.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The position of the window's first item in the whole input.
    #[must_use]
    pub fn first(&self) -> usize {
        self.first
    }

    fn push(&mut self, line: usize) {
        self.items.push((self.text.len(), line));
    }

    /// The items, parsed; the first that is not JSON is an error naming its place.
    pub fn parse(&self) -> Result<Vec<Value>> {
        let mut start = 0;
        let mut out = Vec::with_capacity(self.items.len());
        for (n, &(end, line)) in self.items.iter().enumerate() {
            let value = serde_json::from_slice(&self.text[start..end]).map_err(|source| {
                if self.lines {
                    Error::BadLine { line, source }
                } else {
                    Error::BadItem {
                        index: self.first + n + 1,
                        line,
                        source,
                    }
                }
            })?;
            out.push(value);
            start = end;
        }
        Ok(out)
    }
}

/// Reads items from `reader` and hands them to `sink` in windows of at most `chunk`; returns
/// how many were read. A JSON array is streamed element by element; otherwise each non-blank
/// line is one item.
pub fn read_items(
    reader: impl BufRead,
    chunk: usize,
    sink: &mut dyn FnMut(Vec<Value>),
) -> Result<usize> {
    let mut parsed = Ok(());
    let count = read_raw(reader, chunk, &mut |raw| match raw.parse() {
        Ok(items) => {
            sink(items);
            true
        }
        Err(e) => {
            parsed = Err(e);
            false
        }
    });
    parsed?;
    count
}

/// [`read_items`] without the parsing: windows of raw items, which [`RawItems::parse`]
/// parses (on whichever thread maps them). Reading stops early when `sink` returns false.
/// A window is handed on before the text after it is checked, so an item that is not JSON
/// is found (by `parse`) before any later fault of the array.
pub fn read_raw(
    mut reader: impl BufRead,
    chunk: usize,
    sink: &mut dyn FnMut(RawItems) -> bool,
) -> Result<usize> {
    let chunk = chunk.max(1);
    let mut line = 1;
    let first = loop {
        let buf = reader
            .fill_buf()
            .map_err(|e| Error::Unreadable { source: e })?;
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                let byte = buf[i];
                line += newlines(&buf[..i]);
                reader.consume(i);
                break Some(byte);
            }
            None if buf.is_empty() => break None,
            None => {
                let n = buf.len();
                line += newlines(buf);
                reader.consume(n);
            }
        }
    };
    match first {
        None => Ok(0),
        Some(b'[') => {
            reader.consume(1);
            read_array(Scan { reader, line }, chunk, sink)
        }
        Some(_) => read_lines(reader, line, chunk, sink),
    }
}

fn newlines(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', bytes).count()
}

/// Reads the elements of a JSON array whose `[` was read. Each element's bytes are found
/// by a scan that tracks strings, escapes and nesting; parsing through `io::Read` byte by
/// byte cost more than the mapping itself.
fn read_array<R: BufRead>(
    mut scan: Scan<R>,
    chunk: usize,
    sink: &mut dyn FnMut(RawItems) -> bool,
) -> Result<usize> {
    let mut window = RawItems::new(0, false);
    let mut count = 0;
    let mut next = scan.token()?;
    if next != Some(b']') {
        loop {
            let Some(first) = next else {
                return Err(scan.bad("the array is not closed"));
            };
            let line = scan.line;
            scan.value(first, &mut window.text)?;
            window.push(line);
            count += 1;
            if window.len() >= chunk {
                let full = std::mem::replace(&mut window, RawItems::new(count, false));
                if !sink(full) {
                    return Ok(count);
                }
            }
            match scan.token()? {
                Some(b',') => {
                    next = scan.token()?;
                    if next == Some(b']') {
                        return Err(scan.bad("a comma after the last item"));
                    }
                }
                Some(b']') => break,
                Some(other) => {
                    return Err(scan.bad(&format!(
                        "`,` or `]` expected after item {count}, found `{}`",
                        char::from(other)
                    )));
                }
                None => return Err(scan.bad("the array is not closed")),
            }
        }
    }
    if !window.is_empty() && !sink(window) {
        return Ok(count);
    }
    if let Some(other) = scan.token()? {
        return Err(scan.bad(&format!(
            "`{}` after the array's closing `]`",
            char::from(other)
        )));
    }
    Ok(count)
}

/// A reader of JSON text that finds where values end without parsing them.
struct Scan<R> {
    reader: R,
    /// The line the scan is on (1-based).
    line: usize,
}

impl<R: BufRead> Scan<R> {
    fn bad(&self, reason: &str) -> Error {
        Error::BadArray {
            line: self.line,
            reason: reason.to_owned(),
        }
    }

    fn fill(&mut self) -> Result<&[u8]> {
        self.reader
            .fill_buf()
            .map_err(|e| Error::Unreadable { source: e })
    }

    /// The next byte that is not whitespace, read; `None` at the end of the input.
    fn token(&mut self) -> Result<Option<u8>> {
        loop {
            let buf = self.fill()?;
            if buf.is_empty() {
                return Ok(None);
            }
            match buf.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(i) => {
                    let byte = buf[i];
                    let skipped = newlines(&buf[..i]);
                    self.reader.consume(i + 1);
                    self.line += skipped;
                    return Ok(Some(byte));
                }
                None => {
                    let (n, skipped) = (buf.len(), newlines(buf));
                    self.reader.consume(n);
                    self.line += skipped;
                }
            }
        }
    }

    /// Appends to `out` the value that starts with `first` (already read): up to its
    /// closing quote or bracket, or a scalar up to the byte that ends it (left unread).
    fn value(&mut self, first: u8, out: &mut Vec<u8>) -> Result<()> {
        out.push(first);
        let scalar = !matches!(first, b'{' | b'[' | b'"');
        let mut depth: usize = usize::from(matches!(first, b'{' | b'['));
        let mut in_string = first == b'"';
        let mut escaped = false;
        loop {
            let line = self.line;
            let buf = self.fill()?;
            if buf.is_empty() {
                return if scalar {
                    Ok(())
                } else {
                    Err(Error::BadArray {
                        line,
                        reason: "the input ends inside an item".to_owned(),
                    })
                };
            }
            let mut lines = 0;
            let mut end = None;
            let mut i = 0;
            while i < buf.len() {
                if scalar {
                    let b = buf[i];
                    if b == b',' || b == b']' || b.is_ascii_whitespace() {
                        end = Some(i);
                        break;
                    }
                    i += 1;
                    continue;
                }
                if in_string {
                    // Most of an item's bytes are in strings: jump to the next quote or
                    // backslash.
                    if escaped {
                        escaped = false;
                        i += 1;
                        continue;
                    }
                    match memchr::memchr2(b'"', b'\\', &buf[i..]) {
                        None => i = buf.len(),
                        Some(at) if buf[i + at] == b'\\' => {
                            escaped = true;
                            i += at + 1;
                        }
                        Some(at) => {
                            in_string = false;
                            i += at + 1;
                            if depth == 0 {
                                end = Some(i);
                                break;
                            }
                        }
                    }
                    continue;
                }
                match buf[i] {
                    b'\n' => lines += 1,
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(i + 1);
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            let n = end.unwrap_or(buf.len());
            out.extend_from_slice(&buf[..n]);
            self.reader.consume(n);
            self.line += lines;
            if end.is_some() {
                return Ok(());
            }
        }
    }
}

/// Reads JSON lines (blank lines skipped), `line` being the number of the first.
fn read_lines(
    mut reader: impl BufRead,
    mut line: usize,
    chunk: usize,
    sink: &mut dyn FnMut(RawItems) -> bool,
) -> Result<usize> {
    let mut window = RawItems::new(0, true);
    let mut count = 0;
    let mut text = Vec::new();
    loop {
        text.clear();
        let n = reader
            .read_until(b'\n', &mut text)
            .map_err(|e| Error::Unreadable { source: e })?;
        if n == 0 {
            break;
        }
        if !text.iter().all(u8::is_ascii_whitespace) {
            window.text.extend_from_slice(&text);
            window.push(line);
            count += 1;
            if window.len() >= chunk {
                let full = std::mem::replace(&mut window, RawItems::new(count, true));
                if !sink(full) {
                    return Ok(count);
                }
            }
        }
        line += 1;
    }
    if !window.is_empty() {
        sink(window);
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, chunk: usize) -> Result<Vec<Vec<Value>>> {
        let mut windows = Vec::new();
        read_items(text.as_bytes(), chunk, &mut |w| windows.push(w))?;
        Ok(windows)
    }

    #[test]
    fn an_array_and_json_lines_stream_in_windows() {
        let array = read(" \n[{\"a\":1},{\"a\":2},{\"a\":3}]\n", 2).unwrap();
        assert_eq!(array.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
        let lines = read("{\"a\":1}\n\n{\"a\":2}\n", 1).unwrap();
        assert_eq!(lines.iter().map(Vec::len).collect::<Vec<_>>(), [1, 1]);
        assert!(read("", 2).unwrap().is_empty());
    }

    #[test]
    fn bad_input_names_the_line_or_the_array() {
        assert!(matches!(
            read("{\"a\":1}\nnope\n", 10),
            Err(Error::BadLine { line: 2, .. })
        ));
        assert!(matches!(
            read("[{\"a\":1},", 10),
            Err(Error::BadArray { .. })
        ));
        assert!(matches!(read("[1] 2", 10), Err(Error::BadArray { .. })));
        assert!(matches!(read("[1,]", 10), Err(Error::BadArray { .. })));
        assert!(matches!(
            read("[1 2]", 10),
            Err(Error::BadArray { line: 1, .. })
        ));
        assert!(matches!(
            read("[\n{\"a\":1},\n{\"a\":}\n]", 10),
            Err(Error::BadItem {
                index: 2,
                line: 3,
                ..
            })
        ));
    }

    #[test]
    fn strings_escapes_and_nesting_do_not_end_an_item_early() {
        let text = r#"[{"a":"],}\"{[","b":[[1],{"c":"\\"}]}, "x]" ,3.5e2,-1,true,null,[]]"#;
        let windows = read(text, 100).unwrap();
        let expected: Vec<Value> = serde_json::from_str(text).unwrap();
        assert_eq!(windows, [expected]);
        // Windows cut anywhere: the scan crosses the reader's buffer boundaries.
        let reader = std::io::BufReader::with_capacity(3, text.as_bytes());
        let mut items = Vec::new();
        read_items(reader, 2, &mut |w| items.extend(w)).unwrap();
        assert_eq!(items, serde_json::from_str::<Vec<Value>>(text).unwrap());
    }
}
