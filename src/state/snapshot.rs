//! [`SnapshotStamp`]: which state.json a run that stopped without completing wrote at its end
//! (inode, size, modification time). Its kept journal's last record carries the stamp, so that
//! a reader can tell the file was changed or replaced since (by hand, or by a tool), and then
//! reads state.json, not the journal.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The identity of one version of state.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotStamp {
    ino: u64,
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl SnapshotStamp {
    /// The stamp of the file at `path` as it is now.
    pub(crate) fn of(path: &Path) -> std::io::Result<SnapshotStamp> {
        let meta = fs::metadata(path)?;
        Ok(SnapshotStamp {
            ino: meta.ino(),
            len: meta.len(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        })
    }

    /// Whether the file at `path` is still the one stamped.
    pub(crate) fn matches(&self, path: &Path) -> bool {
        SnapshotStamp::of(path).is_ok_and(|now| now == *self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_or_replacement_changes_the_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(&path, b"{\"a\": 1}\n").unwrap();
        let stamp = SnapshotStamp::of(&path).unwrap();
        assert!(stamp.matches(&path));
        fs::write(&path, b"{\"a\": 2}\n").unwrap();
        fs::write(dir.path().join("other"), b"{\"a\": 1}\n").unwrap();
        fs::rename(dir.path().join("other"), &path).unwrap();
        assert!(!stamp.matches(&path));
        fs::remove_file(&path).unwrap();
        assert!(!stamp.matches(&path));
    }
}
