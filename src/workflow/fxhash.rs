//! A small, fast, non-cryptographic hasher for the loader's sets of names (step ids).
//!
//! The standard library's SipHash resists hash flooding, which costs a few hundred instructions
//! per short key; a workflow file is at most 1 MiB and its keys are short names, so the loader
//! uses this multiply-rotate hash (the one rustc calls FxHash) instead.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`FxHasher`].
pub type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// Mixes 8 bytes at a time into one word: `(hash.rotl(5) ^ word) * SEED`.
#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            // The length keeps "a" and "a\0" apart.
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn equal_keys_hash_alike_and_a_map_works() {
        let build = BuildHasherDefault::<FxHasher>::default();
        assert_eq!(build.hash_one("step-1"), build.hash_one("step-1"));
        assert_ne!(build.hash_one("step-1"), build.hash_one("step-2"));
        assert_ne!(build.hash_one("a"), build.hash_one("a\0"));
        let mut map: FxHashMap<&str, usize> = FxHashMap::default();
        for i in 0..1000 {
            map.insert(if i % 2 == 0 { "even" } else { "odd" }, i);
        }
        assert_eq!(map.len(), 2);
        assert_eq!(map.get("odd"), Some(&999));
    }
}
