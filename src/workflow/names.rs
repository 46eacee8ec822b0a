//! An ordered list of names with constant-time membership, for the loader's scopes (params,
//! captures, loop variables): a file with thousands of steps must not check each name against
//! every earlier one.

use rustc_hash::FxHashMap;

/// Names in the order they were added (repeats kept), with a count per name for lookups.
#[derive(Debug, Default)]
pub struct Names<'a> {
    order: Vec<&'a str>,
    counts: FxHashMap<&'a str, usize>,
}

impl<'a> Names<'a> {
    pub fn push(&mut self, name: &'a str) {
        self.order.push(name);
        *self.counts.entry(name).or_default() += 1;
    }

    pub fn extend(&mut self, names: impl IntoIterator<Item = &'a str>) {
        for name in names {
            self.push(name);
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        self.counts.contains_key(name)
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Removes the names added after the first `len`.
    pub fn truncate(&mut self, len: usize) {
        for name in self.order.drain(len.min(self.order.len())..) {
            if let Some(count) = self.counts.get_mut(name) {
                *count -= 1;
                if *count == 0 {
                    self.counts.remove(name);
                }
            }
        }
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &&'a str> {
        self.order.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_forgets_only_the_later_names() {
        let mut names = Names::default();
        names.extend(["a", "b"]);
        names.push("a");
        names.truncate(2);
        assert!(names.contains("a") && names.contains("b"));
        names.truncate(1);
        assert!(names.contains("a") && !names.contains("b"));
        assert_eq!(names.len(), 1);
    }
}
