//! The memory allocator of tapink's binaries: mimalloc, told to keep the memory it frees for reuse.
//!
//! A delivery allocates and frees small buffers on several threads (the request, the response, the History
//! record, the outbox row). glibc's malloc spent about a sixth of the process's CPU on that (consolidating and
//! unlinking free chunks); mimalloc's thread-local pages cost less. By default mimalloc also hands freed pages
//! back to the OS after a second, and the kernel then zeroes them when they are taken again; a server that
//! keeps a steady load gains nothing from that, so [`keep_freed_memory`] turns it off. Peak resident memory is
//! unchanged by it; memory is just not returned between peaks. Figures: docs/benchmarks.md, "allocator".
//!
//! A binary links the allocator by depending on this crate and calling [`keep_freed_memory`] first thing in
//! `main`.
#![allow(unsafe_code)] // two calls into mimalloc's C API below, nothing else.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_t` (`include/mimalloc.h`).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// `mi_option_arena_eager_commit` in mimalloc 3's `mi_option_t`.
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// Keeps freed memory in the process for reuse instead of returning it to the OS, and commits arena memory
/// when it is reserved rather than page by page. Call once, before the work starts; later calls are harmless.
pub fn keep_freed_memory() {
    // SAFETY: `mi_option_set` only stores an integer in mimalloc's option table; both options are read
    // whenever they are needed, so setting them after allocation has started is allowed.
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, -1);
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 1);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_options_read_back_as_set() {
        super::keep_freed_memory();
        // SAFETY: `mi_option_get` only reads mimalloc's option table.
        let (purge, eager) = unsafe {
            (
                libmimalloc_sys::mi_option_get(super::PURGE_DELAY),
                libmimalloc_sys::mi_option_get(super::ARENA_EAGER_COMMIT),
            )
        };
        assert_eq!((purge, eager), (-1, 1), "the option numbers match the linked mimalloc version");
    }
}
