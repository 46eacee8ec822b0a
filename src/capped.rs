//! Whole files read with a size cap, so that a huge or hostile file cannot exhaust memory: the
//! workflow, engine and configuration files the loader reads, and the runner's own state files.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Reads a whole file, refusing files larger than `cap` bytes with `FileTooLarge`.
pub fn read(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let file = File::open(path)?;
    // Sized by the file's length: a buffer grown from nothing reads in doubling pieces (32
    // bytes, 64, …: 14 reads for a 150 KB workflow, 7 for a 600-byte state.json) and is
    // copied as it grows.
    let length = file.metadata().map_or(0, |m| m.len()).min(cap + 1);
    let mut bytes = Vec::with_capacity(usize::try_from(length).map_or(0, |n| n + 1));
    // Read one byte past the cap to tell "exactly cap" from "more".
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("larger than {cap} bytes"),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_files_over_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![b'a'; 11]).unwrap();
        assert_eq!(read(&path, 11).unwrap().len(), 11);
        let err = read(&path, 10).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
    }
}
