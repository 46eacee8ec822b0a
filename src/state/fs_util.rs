//! File-system primitives for durable state: private dirs (0700) and files (0600), the atomic
//! replace of runs-and-state.md §4 (temp file in the same dir, `sync_all`, rename, fsync the dir),
//! and cleanup of temp files a crash left behind.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Creates `dir` and any missing parents with mode 0700. An existing dir is fine.
pub(crate) fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Creates `dir` (mode 0700), failing with `AlreadyExists` if it is there: a claim on a name.
pub(crate) fn create_private_dir_new(dir: &Path) -> io::Result<()> {
    DirBuilder::new().mode(0o700).create(dir)
}

/// Options for a private (0600) file.
pub(crate) fn private_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.mode(0o600);
    options
}

/// The temp file name used while `name` is replaced: `.state.json.<pid>.tmp`.
fn temp_name(name: &str) -> String {
    format!(".{name}.{}.tmp", std::process::id())
}

/// Replaces `dir/name` with `bytes` atomically: a reader sees the old or the new content, never a
/// mix, and after a crash at any point one of the two is on disk.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    stage(dir, name, bytes)?.publish()
}

/// The first half of [`write_atomic`]: the new content written to the temp file and fsynced, not
/// yet visible under the target name. Split out so that a journal compaction can replace the
/// journal in the same dir fsync as the rename.
/// Dropping it without [`Staged::publish`] deletes the temp file.
#[derive(Debug)]
pub(crate) struct Staged {
    dir: PathBuf,
    temp: PathBuf,
    target: PathBuf,
    /// Set once the rename happened: there is no temp file left to delete.
    renamed: bool,
}

/// Writes `bytes` to the temp file of `dir/name` and `sync_all`s it.
pub(crate) fn stage(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<Staged> {
    let staged = Staged {
        dir: dir.to_path_buf(),
        temp: dir.join(temp_name(name)),
        target: dir.join(name),
        renamed: false,
    };
    let mut file = private_file()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&staged.temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(staged)
}

impl Staged {
    /// The second half of [`write_atomic`]: renames the temp file over the target and fsyncs the
    /// dir, so the rename itself is durable.
    pub(crate) fn publish(self) -> io::Result<()> {
        let dir = self.dir.clone();
        self.rename()?;
        sync_dir(&dir)
    }

    /// Renames the temp file over the target without the dir fsync, which the caller owes
    /// before relying on the new content (it may run it alongside other fsyncs).
    pub(crate) fn rename(mut self) -> io::Result<()> {
        fs::rename(&self.temp, &self.target)?;
        self.renamed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.renamed {
            // Best effort: the next open of the run deletes whatever is left anyway.
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// fsyncs a directory so that a rename in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Deletes the temp files that [`write_atomic`] of `name` left in `dir` (from any pid). Call only
/// while holding the run lock, so no live writer is affected. Returns the paths deleted.
pub(crate) fn remove_stale_temps(dir: &Path, name: &str) -> io::Result<Vec<PathBuf>> {
    let prefix = format!(".{name}.");
    let mut removed = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        if file_name.starts_with(&prefix) && file_name.ends_with(".tmp") {
            let path = entry.path();
            match fs::remove_file(&path) {
                Ok(()) => removed.push(path),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

/// The subdirectories of `dir` whose names are UTF-8, as (name, path); none if `dir` is missing.
pub(crate) fn subdirs(dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    Ok(subdir_entries(dir)?
        .into_iter()
        .map(|(name, path, _)| (name, path))
        .collect())
}

/// The directory entries behind [`subdirs`]. The entry's type comes from the directory listing;
/// only a symbolic link costs a `stat` (it counts when it leads to a directory).
pub(crate) fn subdir_entries(dir: &Path) -> io::Result<Vec<(String, PathBuf, fs::DirEntry)>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let is_dir = match entry.file_type() {
            Ok(kind) if !kind.is_symlink() => kind.is_dir(),
            _ => path.is_dir(),
        };
        if is_dir && let Ok(name) = entry.file_name().into_string() {
            dirs.push((name, path, entry));
        }
    }
    Ok(dirs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(dir.path(), "state.json", b"one").unwrap();
        write_atomic(dir.path(), "state.json", b"two").unwrap();
        assert_eq!(fs::read(dir.path().join("state.json")).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["state.json"]);
        let mode = fs::metadata(dir.path().join("state.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn atomic_write_into_missing_dir_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gone");
        assert!(write_atomic(&missing, "state.json", b"x").is_err());
        assert!(!missing.exists());
    }

    #[test]
    fn stale_temps_are_removed_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            ".state.json.123.tmp",
            ".state.json.9.tmp",
            "state.json",
            ".other.1.tmp",
        ] {
            fs::write(dir.path().join(name), b"x").unwrap();
        }
        let removed = remove_stale_temps(dir.path(), "state.json").unwrap();
        assert_eq!(removed.len(), 2);
        assert!(dir.path().join("state.json").exists());
        assert!(dir.path().join(".other.1.tmp").exists());
    }

    #[test]
    fn private_dirs_are_0700() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_private_dir_all(&nested).unwrap();
        let mode = fs::metadata(&nested).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
