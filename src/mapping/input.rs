//! Raw items as `adoport map` takes them: a JSON array, or JSON lines (one item per line, the
//! snapshot format), read as a stream and handed over in windows, so an input of any size
//! is mapped in a window of items.

use std::io::BufRead;

use serde::de::{Deserializer as _, SeqAccess, Visitor};
use serde_json::Value;

use super::{Error, Result};

/// Reads items from `reader` and hands them to `sink` in windows of at most `chunk`; returns
/// how many were read. A JSON array is streamed element by element; otherwise each non-blank
/// line is one item.
pub fn read_items(
    mut reader: impl BufRead,
    chunk: usize,
    sink: &mut dyn FnMut(Vec<Value>),
) -> Result<usize> {
    let chunk = chunk.max(1);
    let first = loop {
        let buf = reader
            .fill_buf()
            .map_err(|e| Error::Unreadable { source: e })?;
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                let byte = buf[i];
                reader.consume(i);
                break Some(byte);
            }
            None if buf.is_empty() => break None,
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    };
    match first {
        None => Ok(0),
        Some(b'[') => read_array(reader, chunk, sink),
        Some(_) => read_lines(reader, chunk, sink),
    }
}

fn read_array(
    reader: impl BufRead,
    chunk: usize,
    sink: &mut dyn FnMut(Vec<Value>),
) -> Result<usize> {
    struct Items<'a> {
        chunk: usize,
        sink: &'a mut dyn FnMut(Vec<Value>),
    }
    impl<'de> Visitor<'de> for Items<'_> {
        type Value = usize;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON array of items")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<usize, A::Error> {
            let mut window = Vec::new();
            let mut count = 0;
            while let Some(item) = seq.next_element::<Value>()? {
                window.push(item);
                count += 1;
                if window.len() >= self.chunk {
                    (self.sink)(std::mem::take(&mut window));
                }
            }
            if !window.is_empty() {
                (self.sink)(window);
            }
            Ok(count)
        }
    }
    let mut de = serde_json::Deserializer::from_reader(reader);
    let count = de
        .deserialize_seq(Items { chunk, sink })
        .map_err(|source| Error::BadArray { source })?;
    de.end().map_err(|source| Error::BadArray { source })?;
    Ok(count)
}

fn read_lines(
    reader: impl BufRead,
    chunk: usize,
    sink: &mut dyn FnMut(Vec<Value>),
) -> Result<usize> {
    let mut window = Vec::new();
    let mut count = 0;
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| Error::Unreadable { source: e })?;
        if line.trim().is_empty() {
            continue;
        }
        let item = serde_json::from_str(&line).map_err(|source| Error::BadLine {
            line: i + 1,
            source,
        })?;
        window.push(item);
        count += 1;
        if window.len() >= chunk {
            sink(std::mem::take(&mut window));
        }
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
    }
}
