//! Where journal records keep for-each lists (docs/runs-and-state.md, "Loop lists once"): a
//! record names the run-dir file that holds a loop's list (`items_file`) instead of repeating
//! it. The list is written to a [`list_file`](super::list_file) once, when a record first holds
//! it; a list that state.json held when the journal began is named `state.json`. Reading a
//! record back opens a list file without reading its items ([`ItemList`] reads them one by
//! one); lists in the JSON files of earlier versions, or in state.json, are read whole.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use super::document::{LoopFrame, StateDoc};
use super::error::StateError;
use super::fs_util::{private_file, sync_dir};
use super::item_list::ItemList;
use super::list_file::{self, ListFile};
use super::state_file::{self, STATE_FILE};

/// Loop list files: `loop-items-<stamp>-<n>.list` (`.json` from earlier versions).
pub(crate) const ITEMS_PREFIX: &str = "loop-items-";

/// The file names of a writer's lists: `loop-items-<stamp>-<n>.list`, `n` counting up.
#[derive(Debug)]
pub(crate) struct ListNames {
    stamp: u128,
    next: u64,
}

impl ListNames {
    /// Names stamped with the current time in milliseconds.
    pub(crate) fn new() -> Self {
        ListNames {
            stamp: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis()),
            next: 0,
        }
    }

    /// Writes `items` to a new list file in `dir`, durably, and returns its name. A name that
    /// exists already (another process stamped the same millisecond) is skipped.
    pub(crate) fn store(&mut self, dir: &Path, items: &ItemList) -> Result<String, StateError> {
        let bytes = match items.as_slice() {
            Some(items) => list_file::encode(items),
            None => items.to_vec().and_then(|items| list_file::encode(&items)),
        }
        .map_err(StateError::Save)?;
        loop {
            self.next += 1;
            let name = format!("{ITEMS_PREFIX}{}-{}.list", self.stamp, self.next);
            let mut file = match private_file()
                .write(true)
                .create_new(true)
                .open(dir.join(&name))
            {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(StateError::Save(e)),
            };
            file.write_all(&bytes)
                .and_then(|()| file.sync_data())
                .and_then(|()| sync_dir(dir))
                .map_err(StateError::Save)?;
            return Ok(name);
        }
    }
}

/// `doc` as one journal line (compact JSON and a newline), with every list replaced by the
/// name of its file; `store` writes a list that has none yet and returns the name.
pub(crate) fn encode_record(
    doc: &mut StateDoc,
    mut store: impl FnMut(&ItemList) -> Result<String, StateError>,
) -> Result<Vec<u8>, StateError> {
    let mut lists = Vec::new();
    let mut failed = None;
    for_each_loop(doc, |looped| {
        if failed.is_some() {
            return;
        }
        if let Some(items) = looped.items.take() {
            if looped.items_file.is_none() {
                match store(&items) {
                    Ok(name) => looped.items_file = Some(name),
                    Err(err) => failed = Some(err),
                }
            }
            lists.push(items);
        }
    });
    doc.stamp_format_version();
    let encoded = match failed {
        None => serde_json::to_vec(doc).map_err(|e| StateError::Save(io::Error::other(e))),
        Some(err) => Err(err),
    };
    // Every list goes back, in the order it was taken.
    let mut lists = lists.into_iter();
    for_each_loop(doc, |looped| {
        if looped.items.is_none() && looped.items_file.is_some() {
            looped.items = lists.next();
        }
    });
    let mut line = encoded?;
    line.push(b'\n');
    Ok(line)
}

/// Puts back the lists a journal record names by file: a list file (opened, not read), or
/// state.json for the lists it held when the journal began (taken from its frame at the same
/// depth).
pub(crate) fn load(dir: &Path, run_id: &str, doc: &mut StateDoc) -> Result<(), StateError> {
    let mut snapshot: Option<StateDoc> = None;
    let mut depth = 0;
    let mut frame = doc.position.as_mut();
    while let Some(current) = frame {
        if let Some(looped) = current.loop_.as_mut()
            && looped.items.is_none()
            && let Some(name) = looped.items_file.as_deref()
        {
            looped.items = if name == STATE_FILE {
                if snapshot.is_none() {
                    snapshot = Some(state_file::read_state(dir, run_id)?);
                }
                snapshot.as_mut().and_then(|s| take_list(s, depth))
            } else {
                Some(read_list(&dir.join(name))?)
            };
        }
        depth += 1;
        frame = current.child.as_deref_mut();
    }
    Ok(())
}

/// A list file: an indexed `.list`, or the JSON array of an earlier version.
fn read_list(path: &Path) -> Result<ItemList, StateError> {
    let unreadable = |e: io::Error| StateError::io("read", path, e);
    if path.extension().is_some_and(|ext| ext == "list") {
        return ListFile::open(path)
            .map(ItemList::stored)
            .map_err(unreadable);
    }
    let bytes = fs::read(path).map_err(unreadable)?;
    serde_json::from_slice::<Vec<String>>(&bytes)
        .map(ItemList::from)
        .map_err(|e| unreadable(io::Error::other(e)))
}

/// The list of the loop frame at `depth` of `doc`, taken out.
fn take_list(doc: &mut StateDoc, depth: usize) -> Option<ItemList> {
    let mut frame = doc.position.as_mut()?;
    for _ in 0..depth {
        frame = frame.child.as_deref_mut()?;
    }
    frame.loop_.as_mut()?.items.take()
}

/// Takes the list file names out of `doc` (state.json never names them), frame by frame;
/// [`put_names`] puts them back.
pub(crate) fn take_names(doc: &mut StateDoc) -> Vec<Option<String>> {
    let mut names = Vec::new();
    for_each_loop(doc, |looped| names.push(looped.items_file.take()));
    names
}

/// Puts back what [`take_names`] took.
pub(crate) fn put_names(doc: &mut StateDoc, names: Vec<Option<String>>) {
    let mut names = names.into_iter();
    for_each_loop(doc, |looped| looped.items_file = names.next().flatten());
}

/// Records that state.json holds every list of `doc` that has no file of its own: journal
/// records name it instead.
pub(crate) fn lists_in_snapshot(doc: &mut StateDoc) {
    for_each_loop(doc, |looped| {
        if looped.items.is_some() && looped.items_file.is_none() {
            looped.items_file = Some(STATE_FILE.to_owned());
        }
    });
}

/// Deletes every list file in `dir` (the run completed: nothing names them any more).
pub(crate) fn remove_all(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(ITEMS_PREFIX)
            {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// Calls `f` on the loop of every frame of `doc`'s position chain, outermost first.
fn for_each_loop(doc: &mut StateDoc, mut f: impl FnMut(&mut LoopFrame)) {
    let mut frame = doc.position.as_mut();
    while let Some(current) = frame {
        if let Some(looped) = current.loop_.as_mut() {
            f(looped);
        }
        frame = current.child.as_deref_mut();
    }
}
