//! Lists that may be too long to hold: kept in memory up to a size, and past it in an
//! anonymous temporary file, one compact JSON line per entry.
//!
//! A plan of a whole organization lists every entity it creates, and planning sorts every
//! desired entity by key: at 200,000 entities that is gigabytes as `serde_json` values. An
//! [`Entries`] list is written once ([`EntriesWriter`], in order) and read as often as
//! needed ([`Entries::iter`]), so the memory a run holds stays flat whatever its size. A
//! short list never touches the disk.
//!
//! Entries are grouped as they are written (a plan's entries by blueprint, in key order),
//! so one group can be read without the others ([`Entries::iter_group`]): `apply` writes
//! blueprint by blueprint.
//!
//! Reading back a file this process wrote can still fail (the disk). The list then ends
//! early and remembers why ([`Entries::read_error`]): whoever must not act on a shortened
//! list (apply, the CLI's output) checks it, so a failure is never silent.
//!
//! The file is created with `tempfile::tempfile` in the system's temporary folder (`TMPDIR`)
//! and removed by the system when the last handle closes, even if the process is killed.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, OnceLock};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Entries held in memory before a list moves to its temporary file.
pub const MEMORY_ENTRIES: usize = 2048;

/// Errors writing a list to its temporary file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The temporary file could not be created or written.
    #[error("could not write a temporary file in the system's temporary folder (TMPDIR)")]
    Write(#[source] std::io::Error),
    /// An entry could not be written as JSON.
    #[error("could not write an entry as JSON")]
    Encode(#[source] serde_json::Error),
    /// A list could not be read back from its temporary file.
    #[error("could not read a temporary file back: {0}")]
    Read(String),
}

/// `Result` with this module's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An entry that belongs to a group (a plan entry's blueprint).
pub trait Grouped {
    /// The group's name.
    fn group(&self) -> &str;
}

/// A list written once, in memory or in a temporary file; see the module docs.
pub struct Entries<T> {
    store: Store<T>,
}

enum Store<T> {
    Memory(Vec<T>),
    File(Arc<SpillFile>),
}

/// A list's temporary file: its lines, where each group starts, and the first read error.
struct SpillFile {
    file: Mutex<File>,
    /// Bytes written.
    size: u64,
    /// Lines written.
    len: usize,
    /// Each run of entries of one group: (group, byte offset, lines).
    segments: Vec<(String, u64, usize)>,
    /// Why a read ended early, once one did.
    error: OnceLock<String>,
}

impl<T> Default for Entries<T> {
    fn default() -> Self {
        Entries {
            store: Store::Memory(Vec::new()),
        }
    }
}

impl<T> From<Vec<T>> for Entries<T> {
    fn from(items: Vec<T>) -> Self {
        Entries {
            store: Store::Memory(items),
        }
    }
}

impl<T> FromIterator<T> for Entries<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Entries::from(iter.into_iter().collect::<Vec<T>>())
    }
}

impl<T: Clone> Clone for Entries<T> {
    fn clone(&self) -> Self {
        Entries {
            store: match &self.store {
                Store::Memory(items) => Store::Memory(items.clone()),
                Store::File(file) => Store::File(Arc::clone(file)),
            },
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Entries<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.store {
            Store::Memory(items) => f.debug_list().entries(items).finish(),
            Store::File(file) => f
                .debug_struct("Entries")
                .field("len", &file.len)
                .field("bytes", &file.size)
                .finish_non_exhaustive(),
        }
    }
}

impl<T> Entries<T> {
    /// How many entries the list holds.
    pub fn len(&self) -> usize {
        match &self.store {
            Store::Memory(items) => items.len(),
            Store::File(file) => file.len,
        }
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The entries, when the list is held in memory.
    pub fn as_slice(&self) -> Option<&[T]> {
        match &self.store {
            Store::Memory(items) => Some(items),
            Store::File(_) => None,
        }
    }

    /// Whether the list lives in a temporary file.
    pub fn is_spilled(&self) -> bool {
        matches!(self.store, Store::File(_))
    }

    /// Why reading the list back ended early, if it ever did: a list that could not be
    /// read whole must not be acted on as if it had been.
    pub fn read_error(&self) -> Option<&str> {
        match &self.store {
            Store::Memory(_) => None,
            Store::File(file) => file.error.get().map(String::as_str),
        }
    }
}

impl<T: Clone + DeserializeOwned> Entries<T> {
    /// Every entry, in the order written. From the file, each is read when reached; a read
    /// that fails ends the iteration and is kept in [`Entries::read_error`].
    pub fn iter(&self) -> Iter<'_, T> {
        match &self.store {
            Store::Memory(items) => Iter::Memory(items.iter()),
            Store::File(file) => Iter::File(FileIter::new(file, 0, file.len)),
        }
    }

    /// The first entry.
    pub fn first(&self) -> Option<Cow<'_, T>> {
        self.iter().next()
    }

    /// The entry at `index` (reading up to it when the list is in a file).
    pub fn get(&self, index: usize) -> Option<Cow<'_, T>> {
        match &self.store {
            Store::Memory(items) => items.get(index).map(Cow::Borrowed),
            Store::File(_) => self.iter().nth(index),
        }
    }

    /// The whole list in memory (for small lists and tests); `None` when a read failed.
    pub fn to_vec(&self) -> Option<Vec<T>> {
        let out: Vec<T> = self.iter().map(Cow::into_owned).collect();
        (out.len() == self.len()).then_some(out)
    }
}

impl<T: Clone + DeserializeOwned + Grouped> Entries<T> {
    /// The entries of one group, in the order written. From the file, only that group's
    /// lines are read.
    pub fn iter_group(&self, group: &str) -> Box<dyn Iterator<Item = Cow<'_, T>> + Send + '_>
    where
        T: Sync + Send,
    {
        let group = group.to_owned();
        match &self.store {
            Store::Memory(items) => Box::new(
                items
                    .iter()
                    .filter(move |e| e.group() == group)
                    .map(Cow::Borrowed),
            ),
            Store::File(file) => Box::new(
                file.segments
                    .iter()
                    .filter(move |(name, _, _)| *name == group)
                    .flat_map(move |(_, offset, lines)| FileIter::new(file, *offset, *lines)),
            ),
        }
    }

    /// Each group with its number of entries, in the order first written; from the file's
    /// index, without reading it.
    pub fn group_counts(&self) -> Vec<(String, usize)> {
        let mut out: Vec<(String, usize)> = Vec::new();
        let mut add = |g: &str, n: usize| match out.iter_mut().find(|(o, _)| o == g) {
            Some((_, count)) => *count += n,
            None => out.push((g.to_owned(), n)),
        };
        match &self.store {
            Store::Memory(items) => items.iter().for_each(|e| add(e.group(), 1)),
            Store::File(file) => file.segments.iter().for_each(|(g, _, n)| add(g, *n)),
        }
        out
    }
}

impl<T: Clone + DeserializeOwned + Serialize + Grouped> Entries<T> {
    /// Keeps the entries `keep` accepts. A list in a file is rewritten to a new one.
    pub fn retain(&mut self, keep: impl Fn(&T) -> bool) -> Result<()> {
        if let Store::Memory(items) = &mut self.store {
            items.retain(|e| keep(e));
            return Ok(());
        }
        let mut out = EntriesWriter::with_limit(0);
        for e in self.iter() {
            if keep(&e) {
                out.push(e.into_owned())?;
            }
        }
        if let Some(why) = self.read_error() {
            return Err(Error::Read(why.to_owned()));
        }
        *self = out.finish()?;
        Ok(())
    }
}

impl<T: Clone + DeserializeOwned + PartialEq> PartialEq for Entries<T> {
    /// Equal when both read whole and hold equal entries in the same order.
    fn eq(&self, other: &Self) -> bool {
        if self.len() != other.len() {
            return false;
        }
        let equal = self.iter().zip(other.iter()).all(|(a, b)| *a == *b);
        equal && self.read_error().is_none() && other.read_error().is_none()
    }
}

impl<T: Clone + DeserializeOwned + Serialize> Serialize for Entries<T> {
    /// A JSON array, read from the file as it is written out.
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeSeq};
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        let mut written = 0;
        for entry in self.iter() {
            seq.serialize_element(&*entry)?;
            written += 1;
        }
        if written != self.len() {
            let why = self.read_error().unwrap_or("the list ended early");
            return Err(S::Error::custom(format!(
                "could not read a planned list back from its temporary file: {why}"
            )));
        }
        seq.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Entries<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        Vec::<T>::deserialize(deserializer).map(Entries::from)
    }
}

/// Iterates an [`Entries`] list.
pub enum Iter<'a, T> {
    /// From memory.
    Memory(std::slice::Iter<'a, T>),
    /// From the file.
    File(FileIter<'a, T>),
}

impl<'a, T: Clone + DeserializeOwned + 'a> Iterator for Iter<'a, T> {
    type Item = Cow<'a, T>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Memory(items) => items.next().map(Cow::Borrowed),
            Iter::File(lines) => lines.next(),
        }
    }
}

/// Reads `lines` entries from a list's file, starting at a byte offset.
pub struct FileIter<'a, T> {
    file: &'a SpillFile,
    reader: BufReader<At<'a>>,
    left: usize,
    line: Vec<u8>,
    _entries: PhantomData<T>,
}

impl<'a, T> FileIter<'a, T> {
    fn new(file: &'a SpillFile, offset: u64, lines: usize) -> Self {
        FileIter {
            file,
            reader: BufReader::with_capacity(
                1 << 16,
                At {
                    file: &file.file,
                    offset,
                },
            ),
            left: lines,
            line: Vec::new(),
            _entries: PhantomData,
        }
    }

    fn fail(&mut self, why: String) {
        let _ = self.file.error.set(why);
        self.left = 0;
    }
}

impl<'a, T: Clone + DeserializeOwned + 'a> Iterator for FileIter<'a, T> {
    type Item = Cow<'a, T>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.line.clear();
        let why = match self.reader.read_until(b'\n', &mut self.line) {
            Ok(0) => "the temporary file ended early".to_owned(),
            Ok(_) => match serde_json::from_slice::<T>(&self.line) {
                Ok(entry) => {
                    self.left -= 1;
                    return Some(Cow::Owned(entry));
                }
                Err(e) => format!("a line of the temporary file is corrupt: {e}"),
            },
            Err(e) => format!("reading the temporary file failed: {e}"),
        };
        self.fail(why);
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

/// Reads a shared file from its own position, so several readers can run at once.
struct At<'a> {
    file: &'a Mutex<File>,
    offset: u64,
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.seek(SeekFrom::Start(self.offset))?;
        let n = file.read(buf)?;
        self.offset += n as u64;
        Ok(n)
    }
}

/// Writes an [`Entries`] list: in memory until it holds more than its limit, then in a
/// temporary file.
pub struct EntriesWriter<T> {
    memory: Vec<T>,
    limit: usize,
    file: Option<Sink>,
}

/// The open temporary file being written.
struct Sink {
    out: std::io::BufWriter<File>,
    size: u64,
    len: usize,
    segments: Vec<(String, u64, usize)>,
}

impl<T> std::fmt::Debug for EntriesWriter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntriesWriter")
            .field("memory", &self.memory.len())
            .field("spilled", &self.file.as_ref().map(|s| s.len))
            .finish()
    }
}

impl<T: Serialize + Grouped> EntriesWriter<T> {
    /// A writer that keeps up to [`MEMORY_ENTRIES`] entries in memory.
    pub fn new() -> Self {
        Self::with_limit(MEMORY_ENTRIES)
    }

    /// A writer that keeps up to `limit` entries in memory (`usize::MAX`: never spills, so
    /// it never fails; `0`: always spills).
    pub fn with_limit(limit: usize) -> Self {
        EntriesWriter {
            memory: Vec::new(),
            limit,
            file: None,
        }
    }

    /// Entries written so far.
    pub fn len(&self) -> usize {
        self.memory.len() + self.file.as_ref().map_or(0, |s| s.len)
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends one entry.
    pub fn push(&mut self, entry: T) -> Result<()> {
        if let Some(sink) = &mut self.file {
            return sink.write(&entry);
        }
        self.memory.push(entry);
        if self.memory.len() > self.limit {
            let file = tempfile::tempfile().map_err(Error::Write)?;
            let mut sink = Sink {
                out: std::io::BufWriter::with_capacity(1 << 16, file),
                size: 0,
                len: 0,
                segments: Vec::new(),
            };
            for entry in std::mem::take(&mut self.memory) {
                sink.write(&entry)?;
            }
            self.file = Some(sink);
        }
        Ok(())
    }

    /// The list written.
    pub fn finish(self) -> Result<Entries<T>> {
        let Some(sink) = self.file else {
            return Ok(Entries::from(self.memory));
        };
        let file = sink
            .out
            .into_inner()
            .map_err(|e| Error::Write(e.into_error()))?;
        Ok(Entries {
            store: Store::File(Arc::new(SpillFile {
                file: Mutex::new(file),
                size: sink.size,
                len: sink.len,
                segments: sink.segments,
                error: OnceLock::new(),
            })),
        })
    }
}

impl<T: Serialize + Grouped> Default for EntriesWriter<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl Sink {
    fn write<T: Serialize + Grouped>(&mut self, entry: &T) -> Result<()> {
        let mut line = serde_json::to_vec(entry).map_err(Error::Encode)?;
        line.push(b'\n');
        self.out.write_all(&line).map_err(Error::Write)?;
        match self.segments.last_mut() {
            Some((group, _, lines)) if group == entry.group() => *lines += 1,
            _ => self.segments.push((entry.group().to_owned(), self.size, 1)),
        }
        self.size += line.len() as u64;
        self.len += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    struct Item {
        group: String,
        n: u32,
    }

    impl Grouped for Item {
        fn group(&self) -> &str {
            &self.group
        }
    }

    fn item(group: &str, n: u32) -> Item {
        Item {
            group: group.into(),
            n,
        }
    }

    fn written(limit: usize, items: &[Item]) -> Entries<Item> {
        let mut w = EntriesWriter::with_limit(limit);
        for i in items {
            w.push(i.clone()).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn a_spilled_list_reads_back_equal_to_the_one_kept_in_memory_group_by_group() {
        let items: Vec<Item> = (0..50)
            .map(|n| {
                item(
                    if n < 20 {
                        "a"
                    } else if n < 45 {
                        "b"
                    } else {
                        "a"
                    },
                    n,
                )
            })
            .collect();
        let memory = written(usize::MAX, &items);
        let spilled = written(3, &items);
        assert!(!memory.is_spilled() && spilled.is_spilled());
        assert_eq!(memory, spilled);
        assert_eq!(spilled.len(), 50);
        assert_eq!(spilled.to_vec().unwrap(), items);
        assert_eq!(
            spilled.group_counts(),
            [("a".to_owned(), 25), ("b".to_owned(), 25)]
        );
        assert_eq!(spilled.group_counts(), memory.group_counts());
        let a: Vec<u32> = spilled.iter_group("a").map(|i| i.n).collect();
        let expected: Vec<u32> = (0..20).chain(45..50).collect();
        assert_eq!(a, expected);
        assert_eq!(
            memory.iter_group("a").map(|i| i.n).collect::<Vec<_>>(),
            expected
        );
        assert_eq!(spilled.get(21).map(|i| i.n), Some(21));
        // Two readers at once do not disturb each other.
        let both: Vec<(u32, u32)> = spilled
            .iter()
            .zip(spilled.iter().skip(1))
            .map(|(x, y)| (x.n, y.n))
            .take(3)
            .collect();
        assert_eq!(both, [(0, 1), (1, 2), (2, 3)]);
        assert_eq!(
            serde_json::to_string(&spilled).unwrap(),
            serde_json::to_string(&items).unwrap()
        );
        assert!(spilled.read_error().is_none());
    }
}
