//! [`ItemList`]: a for-each loop's frozen match list, in memory (as the loop planned it, or as
//! state.json holds it) or read item by item from its list file in the run dir (as a journal
//! record names it), so that a resume inside a long loop reads only the items it runs.
//!
//! It serializes as the JSON array of state.json in both cases.

use std::fmt;
use std::io;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::list_file::ListFile;

/// A for-each loop's frozen list.
#[derive(Clone)]
pub struct ItemList(Repr);

#[derive(Clone)]
enum Repr {
    Owned(Vec<String>),
    Stored(Arc<ListFile>),
}

impl ItemList {
    /// A list read item by item from `file`.
    pub(crate) fn stored(file: ListFile) -> Self {
        ItemList(Repr::Stored(Arc::new(file)))
    }

    /// How many items the list has.
    pub fn len(&self) -> u64 {
        match &self.0 {
            Repr::Owned(items) => items.len() as u64,
            Repr::Stored(file) => file.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Item `i` (0-based), or `None` past the end. Reading a stored list can fail.
    pub fn get(&self, i: u64) -> io::Result<Option<String>> {
        match &self.0 {
            Repr::Owned(items) => Ok(usize::try_from(i).ok().and_then(|i| items.get(i)).cloned()),
            Repr::Stored(file) => file.get(i),
        }
    }

    /// Every item, in order.
    pub fn to_vec(&self) -> io::Result<Vec<String>> {
        match &self.0 {
            Repr::Owned(items) => Ok(items.clone()),
            Repr::Stored(file) => file.read_all(),
        }
    }

    /// The same list held in memory, for code that reads many items.
    pub fn loaded(&self) -> io::Result<ItemList> {
        Ok(match &self.0 {
            Repr::Owned(_) => self.clone(),
            Repr::Stored(file) => ItemList(Repr::Owned(file.read_all()?)),
        })
    }

    /// The items in memory, when they are (a list the loop planned or state.json held).
    pub fn as_slice(&self) -> Option<&[String]> {
        match &self.0 {
            Repr::Owned(items) => Some(items),
            Repr::Stored(_) => None,
        }
    }
}

impl From<Vec<String>> for ItemList {
    fn from(items: Vec<String>) -> Self {
        ItemList(Repr::Owned(items))
    }
}

impl Default for ItemList {
    fn default() -> Self {
        ItemList::from(Vec::new())
    }
}

impl PartialEq for ItemList {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Repr::Owned(a), Repr::Owned(b)) => a == b,
            (Repr::Stored(a), Repr::Stored(b)) if Arc::ptr_eq(a, b) => true,
            _ => {
                self.len() == other.len()
                    && matches!((self.to_vec(), other.to_vec()), (Ok(a), Ok(b)) if a == b)
            }
        }
    }
}

impl Eq for ItemList {}

impl fmt::Debug for ItemList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Owned(items) => items.fmt(f),
            Repr::Stored(file) => write!(f, "{} items in {}", file.len(), file.path().display()),
        }
    }
}

impl Serialize for ItemList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Repr::Owned(items) => items.serialize(serializer),
            Repr::Stored(file) => file
                .read_all()
                .map_err(serde::ser::Error::custom)?
                .serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ItemList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<String>::deserialize(deserializer).map(ItemList::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_list_reads_and_serializes_like_the_same_list_in_memory() {
        let items: Vec<String> = (0..1000).map(|i| format!("items/{i:04}")).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loop-items-1-1.list");
        std::fs::write(&path, super::super::list_file::encode(&items).unwrap()).unwrap();
        let stored = ItemList::stored(ListFile::open(&path).unwrap());
        let owned = ItemList::from(items.clone());
        assert_eq!(stored.len(), 1000);
        assert_eq!(stored.get(999).unwrap().as_deref(), Some("items/0999"));
        assert_eq!(stored.get(1000).unwrap(), None);
        assert_eq!(stored, owned);
        assert_eq!(
            serde_json::to_string(&stored).unwrap(),
            serde_json::to_string(&items).unwrap()
        );
        assert_eq!(stored.loaded().unwrap().as_slice(), Some(items.as_slice()));
        assert_ne!(stored, ItemList::from(items[..999].to_vec()));
    }
}
