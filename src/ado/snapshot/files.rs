//! Snapshot files as replay may read them: only regular files inside the snapshot
//! directory, up to a size limit (a FIFO would block for ever, `/dev/zero` would fill
//! memory, a link could lead anywhere); and files written atomically (a temporary file,
//! synced, then renamed). The format is `mod.rs`'s.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Error, Result};

pub(super) fn kind_path(dir: &Path, kind: &str) -> Result<PathBuf> {
    let valid = !kind.is_empty()
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(Error::InvalidKind(kind.to_owned()));
    }
    Ok(dir.join(format!("{kind}.jsonl")))
}

/// Opens `path` for reading only if it is a regular file inside `dir` of at most `limit`
/// bytes. The checks come before the open (opening a FIFO blocks) and are repeated on the
/// opened file (it may have been swapped in between).
pub(super) fn open_checked(
    dir: &Path,
    path: &Path,
    limit: u64,
    unreadable: impl Fn(std::io::Error) -> Error,
) -> Result<std::fs::File> {
    let link = std::fs::symlink_metadata(path).map_err(&unreadable)?;
    if link.file_type().is_symlink() {
        let real = std::fs::canonicalize(path).map_err(&unreadable)?;
        let root = std::fs::canonicalize(dir).map_err(&unreadable)?;
        if !real.starts_with(&root) {
            return Err(Error::OutsideSnapshot {
                path: path.to_path_buf(),
            });
        }
    }
    let check = |meta: &std::fs::Metadata| {
        if !meta.is_file() {
            return Err(Error::NotARegularFile {
                path: path.to_path_buf(),
            });
        }
        if meta.len() > limit {
            return Err(Error::FileTooLarge {
                path: path.to_path_buf(),
                limit,
            });
        }
        Ok(())
    };
    check(&std::fs::metadata(path).map_err(&unreadable)?)?;
    let file = std::fs::File::open(path).map_err(&unreadable)?;
    check(&file.metadata().map_err(&unreadable)?)?;
    Ok(file)
}

pub(super) fn read_jsonl(dir: &Path, path: &Path, limit: u64) -> Result<Vec<Value>> {
    let mut items = Vec::new();
    read_jsonl_chunks(dir, path, limit, usize::MAX, &mut |chunk| {
        items.extend(chunk)
    })?;
    Ok(items)
}

/// Reads a JSON-lines file in chunks of at most `chunk` items, handing each to `sink` as it
/// is parsed, so a kind file of any size is read in a window of `chunk` items. On `Err`,
/// the chunks already handed over are a partial listing.
///
/// Lines are read and parsed on a thread of their own, one window ahead of `sink`, so
/// parsing the next window overlaps whatever `sink` does with this one (mapping it).
pub(super) fn each_jsonl_chunk(
    dir: &Path,
    path: &Path,
    limit: u64,
    chunk: usize,
    sink: &mut dyn FnMut(Vec<Value>),
) -> Result<()> {
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Value>>(1);
        let reader = scope.spawn(move || {
            read_jsonl_chunks(dir, path, limit, chunk, &mut |items| {
                // The receiver only goes away when `sink` panicked, which unwinds anyway.
                let _ = tx.send(items);
            })
        });
        for items in rx {
            sink(items);
        }
        reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// [`each_jsonl_chunk`]'s reading, on the calling thread.
fn read_jsonl_chunks(
    dir: &Path,
    path: &Path,
    limit: u64,
    chunk: usize,
    sink: &mut dyn FnMut(Vec<Value>),
) -> Result<()> {
    let unreadable = |source| Error::KindUnreadable {
        path: path.to_path_buf(),
        source,
    };
    let file = open_checked(dir, path, limit, unreadable)?;
    // Read at most one byte past the limit: a file that grew after the check is caught.
    let mut reader = BufReader::with_capacity(1 << 16, file.take(limit.saturating_add(1)));
    let mut items = Vec::new();
    let mut line = String::new();
    let mut total: u64 = 0;
    for index in 0.. {
        line.clear();
        let read = reader.read_line(&mut line).map_err(unreadable)?;
        if read == 0 {
            break;
        }
        total += read as u64;
        if total > limit {
            return Err(Error::FileTooLarge {
                path: path.to_path_buf(),
                limit,
            });
        }
        let text = line.strip_suffix('\n').unwrap_or(&line);
        let text = text.strip_suffix('\r').unwrap_or(text);
        let item = serde_json::from_str(text).map_err(|source| Error::MalformedLine {
            path: path.to_path_buf(),
            line: index + 1,
            source,
        })?;
        items.push(item);
        if items.len() >= chunk {
            sink(std::mem::take(&mut items));
        }
    }
    if !items.is_empty() {
        sink(items);
    }
    Ok(())
}

pub(super) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let fail = |source| Error::WriteFailed {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::create(&tmp).map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}
