//! The process's allocator: the system's, except that a small block that grows or shrinks is
//! moved by allocate, copy and free rather than by the system's `realloc`.
//!
//! glibc's `realloc` serves a block it cannot resize in place from its bins, past its per-thread
//! cache, and, once the process has a second thread, under the arena's lock; its `malloc` and
//! `free` of a small block go through that cache. Loading a workflow grows thousands of small
//! blocks one after another (the YAML parser's scalar buffers, which start at 16 bytes and
//! double, and the loader's strings and lists): measured on a 1000-step file, moving them this
//! way saves 2–4 % of `--validate`, and more once the conditions worker thread is running. Large
//! blocks keep `realloc`, which can grow them in place or remap them without a copy.

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks up to this size (before and after) are moved rather than `realloc`ed.
const SMALL: usize = 1024;

/// See the module documentation.
pub struct Allocator;

// SAFETY: every method hands the request to `System` unchanged, except `realloc` of small
// blocks, which returns a new block of the requested layout holding the old block's first
// `min(old, new)` bytes and frees the old block, as `realloc` must.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees for `layout` are `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator with `layout`, so by `System` with it.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.size() > SMALL || new_size > SMALL {
            // SAFETY: the caller's guarantees are `System`'s.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: the caller guarantees `new_size` is non-zero and, rounded up to the
        // alignment, does not overflow `isize`, which makes this a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: `new_layout` has a non-zero size.
        let new = unsafe { System.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: `ptr` is valid for `layout.size()` bytes and `new` for `new_size`; they
            // are distinct blocks. On failure the old block stays allocated, as `realloc` wants.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                System.dealloc(ptr, layout);
            }
        }
        new
    }
}

#[cfg(test)]
mod tests {
    /// Grows and shrinks blocks across the small/large boundary, checking what they hold (the
    /// tests run with this allocator, see `lib.rs`).
    #[test]
    fn resized_blocks_keep_their_contents() {
        let mut bytes: Vec<u8> = Vec::new();
        let mut words: Vec<u64> = Vec::new();
        for i in 0..3000u32 {
            bytes.push((i % 251) as u8);
            words.push(u64::from(i) * 7);
        }
        assert!(bytes.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
        assert!(words.iter().enumerate().all(|(i, &w)| w == i as u64 * 7));
        assert_eq!(words.as_ptr().align_offset(8), 0);
        bytes.truncate(100);
        bytes.shrink_to_fit();
        words.truncate(10);
        words.shrink_to_fit();
        assert!(bytes.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
        assert_eq!(words, (0..10).map(|i| i * 7).collect::<Vec<u64>>());
        let mut text = String::from("a");
        for _ in 0..10 {
            text = text.repeat(2);
        }
        assert_eq!(text.len(), 1024);
    }
}
