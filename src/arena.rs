//! The binary's global allocator: a small bump arena in front of the system allocator.
//! musl's allocator maps and unmaps pages for small blocks: ~90 mmap/munmap calls (and a
//! page fault for each fresh page) before `--help` is printed. The first 256 KiB of small
//! allocations come from this arena instead; a block freed there is not reused (a short
//! run never needs it, a long one spends at most 256 KiB on it); the rest, and every large
//! block, comes from the system allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};

const SIZE: usize = 512 * 1024;
/// Larger blocks go straight to the system allocator.
const SMALL: usize = 64 * 1024;

#[repr(C, align(4096))]
struct Block(UnsafeCell<[u8; SIZE]>);

pub struct Arena {
    block: Block,
    /// Offset of the first free byte.
    next: AtomicUsize,
}

// The block is only handed out in disjoint pieces, each claimed by one atomic update.
unsafe impl Sync for Arena {}

impl Arena {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Arena {
        Arena { block: Block(UnsafeCell::new([0; SIZE])), next: AtomicUsize::new(0) }
    }

    fn base(&self) -> usize {
        self.block.0.get() as usize
    }

    fn contains(&self, p: *mut u8) -> bool {
        (self.base()..self.base() + SIZE).contains(&(p as usize))
    }

    /// A piece of the block for `l`, or None when it does not fit any more.
    fn take(&self, l: Layout) -> Option<*mut u8> {
        if l.size() > SMALL || l.align() > SMALL {
            return None;
        }
        let base = self.base();
        let mut cur = self.next.load(Ordering::Relaxed);
        loop {
            let start = (base + cur).next_multiple_of(l.align()) - base;
            let end = start.checked_add(l.size())?;
            if end > SIZE {
                return None;
            }
            match self.next.compare_exchange_weak(cur, end, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Some((base + start) as *mut u8),
                Err(now) => cur = now,
            }
        }
    }
}

unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        match self.take(l) {
            Some(p) => p,
            None => unsafe { System.alloc(l) },
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        if !self.contains(p) {
            unsafe { System.dealloc(p, l) }
        }
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        if !self.contains(p) {
            return unsafe { System.realloc(p, l, new_size) };
        }
        // SAFETY: the caller guarantees `new_size`, rounded up to `l.align()`, fits isize.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, l.align()) };
        let q = unsafe { self.alloc(new_layout) };
        if !q.is_null() {
            unsafe { std::ptr::copy_nonoverlapping(p, q, l.size().min(new_size)) };
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_blocks_come_from_the_arena_aligned_until_it_is_full() {
        static ARENA: Arena = Arena::new();
        let a = &ARENA;
        unsafe {
            let l = Layout::from_size_align(24, 8).unwrap();
            let p = a.alloc(l);
            assert!(a.contains(p) && (p as usize).is_multiple_of(8));
            let q = a.alloc(Layout::from_size_align(100, 64).unwrap());
            assert!(a.contains(q) && (q as usize).is_multiple_of(64) && q as usize >= p as usize + 24);
            p.write_bytes(7, 24);
            let r = a.realloc(p, l, 48);
            assert!(*r.add(23) == 7);
            a.dealloc(r, Layout::from_size_align(48, 8).unwrap());
            let big = Layout::from_size_align(SMALL + 1, 8).unwrap();
            let b = a.alloc(big);
            assert!(!a.contains(b));
            let grown = a.realloc(q, Layout::from_size_align(100, 64).unwrap(), SMALL * 4);
            assert!(!a.contains(grown));
            a.dealloc(grown, Layout::from_size_align(SMALL * 4, 64).unwrap());
            a.dealloc(b, big);
            let mut n = 0;
            let l = Layout::from_size_align(SMALL, 8).unwrap();
            while a.take(l).is_some() {
                n += 1;
            }
            assert!(n < SIZE / SMALL, "{n}");
            let p = a.alloc(l);
            assert!(!a.contains(p));
            a.dealloc(p, l);
        }
    }
}
