//! The file a for-each loop's frozen list is stored in, once, when the loop starts
//! (`loop-items-<id>.list` in the run dir): reading the count or one item costs a few small
//! reads, whatever the list's length, so that a resume inside a long loop does not read it all.
//!
//! Layout: every item as a JSON string on a line of its own (the start of the file reads as
//! JSON Lines); then `n + 1` little-endian `u64` offsets, where line `i` is the bytes from
//! offset `i` to offset `i + 1` (its newline included); then `n` as a little-endian `u64`; then
//! the 8 bytes [`MAGIC`].

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The last 8 bytes of a list file.
const MAGIC: &[u8; 8] = b"ARLIST1\n";
/// The trailer: the item count, then [`MAGIC`].
const TRAILER: u64 = 16;

/// The bytes of a list file holding `items`.
pub(crate) fn encode(items: &[String]) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut offsets = Vec::with_capacity(items.len() + 1);
    for item in items {
        offsets.push(bytes.len() as u64);
        serde_json::to_writer(&mut bytes, item).map_err(io::Error::other)?;
        bytes.push(b'\n');
    }
    offsets.push(bytes.len() as u64);
    for offset in offsets {
        bytes.extend_from_slice(&offset.to_le_bytes());
    }
    bytes.extend_from_slice(&(items.len() as u64).to_le_bytes());
    bytes.extend_from_slice(MAGIC);
    Ok(bytes)
}

/// An open list file whose layout was checked.
#[derive(Debug)]
pub(crate) struct ListFile {
    file: File,
    path: PathBuf,
    len: u64,
    /// Where the offsets start (the end of the lines).
    index_at: u64,
}

impl ListFile {
    /// Opens `path` and checks its trailer and index bounds.
    pub(crate) fn open(path: &Path) -> io::Result<ListFile> {
        let file = File::open(path)?;
        let size = file.metadata()?.len();
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "not a loop list file");
        if size < TRAILER {
            return Err(bad());
        }
        let mut trailer = [0u8; TRAILER as usize];
        file.read_exact_at(&mut trailer, size - TRAILER)?;
        let (count, magic) = trailer.split_at(8);
        if magic != MAGIC {
            return Err(bad());
        }
        let len = u64::from_le_bytes(count.try_into().map_err(|_| bad())?);
        let index_at = len
            .checked_add(1)
            .and_then(|n| n.checked_mul(8))
            .and_then(|index| (size - TRAILER).checked_sub(index))
            .ok_or_else(bad)?;
        let list = ListFile {
            file,
            path: path.to_path_buf(),
            len,
            index_at,
        };
        // The last offset is the end of the lines, where the index starts.
        if list.offset(len)? != index_at {
            return Err(bad());
        }
        Ok(list)
    }

    /// How many items the list has.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Item `i`, or `None` past the end.
    pub(crate) fn get(&self, i: u64) -> io::Result<Option<String>> {
        if i >= self.len {
            return Ok(None);
        }
        let mut span = [0u8; 16];
        self.file.read_exact_at(&mut span, self.index_at + 8 * i)?;
        let (start, end) = span.split_at(8);
        let start = u64::from_le_bytes(start.try_into().map_err(io::Error::other)?);
        let end = u64::from_le_bytes(end.try_into().map_err(io::Error::other)?);
        if start >= end || end > self.index_at {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a loop list file's index is out of bounds",
            ));
        }
        let mut line = vec![0u8; usize::try_from(end - start).map_err(io::Error::other)?];
        self.file.read_exact_at(&mut line, start)?;
        parse_line(&line).map(Some)
    }

    /// Every item, in order.
    pub(crate) fn read_all(&self) -> io::Result<Vec<String>> {
        let mut lines = vec![0u8; usize::try_from(self.index_at).map_err(io::Error::other)?];
        self.file.read_exact_at(&mut lines, 0)?;
        let items = lines
            .split_inclusive(|&b| b == b'\n')
            .map(parse_line)
            .collect::<io::Result<Vec<String>>>()?;
        if items.len() as u64 != self.len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a loop list file's lines do not match its count",
            ));
        }
        Ok(items)
    }

    fn offset(&self, i: u64) -> io::Result<u64> {
        let mut bytes = [0u8; 8];
        self.file.read_exact_at(&mut bytes, self.index_at + 8 * i)?;
        Ok(u64::from_le_bytes(bytes))
    }
}

/// One line: a JSON string and its newline.
fn parse_line(line: &[u8]) -> io::Result<String> {
    let text = line.strip_suffix(b"\n").unwrap_or(line);
    serde_json::from_slice(text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(items: &[String]) -> (tempfile::TempDir, ListFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loop-items-1-1.list");
        std::fs::write(&path, encode(items).unwrap()).unwrap();
        let list = ListFile::open(&path).unwrap();
        (dir, list)
    }

    #[test]
    fn items_read_back_one_by_one_and_all_at_once() {
        let items: Vec<String> = ["a", "b \"quoted\"\nline", "", "ü/ø", "last"]
            .map(String::from)
            .to_vec();
        let (_dir, list) = stored(&items);
        assert_eq!(list.len(), 5);
        for (i, item) in items.iter().enumerate() {
            assert_eq!(list.get(i as u64).unwrap().as_ref(), Some(item));
        }
        assert_eq!(list.get(5).unwrap(), None);
        assert_eq!(list.read_all().unwrap(), items);
        let (_dir, empty) = stored(&[]);
        assert_eq!((empty.len(), empty.read_all().unwrap()), (0, Vec::new()));
    }

    #[test]
    fn a_cut_or_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.list");
        let bytes = encode(&["x".to_owned(), "y".to_owned()]).unwrap();
        for bad in [
            &bytes[..bytes.len() - 1],
            &bytes[1..],
            b"[\"x\",\"y\"]".as_slice(),
        ] {
            std::fs::write(&path, bad).unwrap();
            let err = ListFile::open(&path).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{bad:?}");
        }
    }
}
