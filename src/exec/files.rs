//! Output files of a run: created private (0600), never world-readable.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Creates (or truncates) a file with mode 0600.
fn open_private(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// [`open_private`] for a file written by async tasks.
///
/// The open itself is synchronous: creating a file in the run's own output dir takes
/// microseconds, while `tokio::fs` would hand it to the blocking pool and back (two thread
/// wake-ups per file, four per shell step). Writes still go through tokio.
pub async fn create_private(path: &Path) -> std::io::Result<tokio::fs::File> {
    Ok(tokio::fs::File::from_std(open_private(path)?))
}

/// Writes a whole private file, for files the runtime writes itself.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    open_private(path)?.write_all(contents)
}
