//! The memory allocator of tapink's binaries: mimalloc, told to keep the memory it frees for reuse and to use
//! ordinary 4 KiB pages.
//!
//! A delivery allocates and frees small buffers on several threads (the request, the response, the History
//! record, the outbox row). glibc's malloc spent about a sixth of the process's CPU on that (consolidating and
//! unlinking free chunks); mimalloc's thread-local pages cost less. By default mimalloc also hands freed pages
//! back to the OS after a second, and the kernel then zeroes them when they are taken again; a server that
//! keeps a steady load gains nothing from that, so [`tune`] turns it off. Peak resident memory is
//! unchanged by it; memory is just not returned between peaks.
//!
//! mimalloc also asks Linux for transparent huge pages on its arenas. The kernel then zeroes 2 MiB at the first
//! touch of each, while the thread that touched it waits: a server whose History grows by 70 MB a second took
//! 35 such stops a second, and in a virtual machine whose fresh memory zeroes at under 1 GB/s each stop is
//! about 3 ms, which set wrk's p99 (5.4–6.0 ms; 2.3–3.0 ms with 4 KiB pages, and the same throughput). So
//! [`tune`] turns them off for the process. Figures: docs/benchmarks.md, "allocator".
//!
//! A binary links the allocator by depending on this crate and calling [`tune`] first thing in `main`.
#![allow(unsafe_code)] // calls into mimalloc's C API and one `prctl` below, nothing else.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_arena_eager_commit` in mimalloc 3's `mi_option_t` (`include/mimalloc.h`).
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
/// `mi_option_purge_delay`.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// `mi_option_allow_thp`.
const ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

/// Keeps freed memory in the process for reuse instead of returning it to the OS, commits arena memory when it
/// is reserved rather than page by page, and turns transparent huge pages off for the process. Call once,
/// before the work starts; later calls are harmless.
pub fn tune() {
    // SAFETY: `mi_option_set` only stores an integer in mimalloc's option table; these options are read
    // whenever they are needed, so setting them after allocation has started is allowed.
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, -1);
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 1);
        // Stops mimalloc asking for huge pages on the arenas it reserves from now on.
        libmimalloc_sys::mi_option_set(ALLOW_THP, 0);
    }
    // mimalloc's own start-up applies `allow_thp = 0` with this call, but it runs before `main`, where the option
    // can only come from the environment (`MIMALLOC_ALLOW_THP`); the arena it reserved then was already asked
    // for huge pages. The kernel checks this flag at every fault, so it covers that arena as well.
    #[cfg(target_os = "linux")]
    // SAFETY: `PR_SET_THP_DISABLE` takes plain integers and only sets a flag on this process.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Whether transparent huge pages are off for this process (always true off Linux, which has none).
pub fn huge_pages_off() -> bool {
    #[cfg(target_os = "linux")]
    // SAFETY: `PR_GET_THP_DISABLE` takes plain integers and only reads a flag of this process.
    return unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) } == 1;
    #[cfg(not(target_os = "linux"))]
    true
}

#[cfg(test)]
mod tests {
    #[test]
    fn tune_sets_the_options_it_names_and_turns_huge_pages_off() {
        super::tune();
        // SAFETY: `mi_option_get` only reads mimalloc's option table.
        let (purge, eager, thp) = unsafe {
            (
                libmimalloc_sys::mi_option_get(super::PURGE_DELAY),
                libmimalloc_sys::mi_option_get(super::ARENA_EAGER_COMMIT),
                libmimalloc_sys::mi_option_get(super::ALLOW_THP),
            )
        };
        assert_eq!((purge, eager, thp), (-1, 1, 0), "the option numbers match the linked mimalloc version");
        assert!(super::huge_pages_off());
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn memory_taken_after_tune_is_not_backed_by_huge_pages() {
        super::tune();
        // What the test harness touched before `tune` may be in huge pages already; only growth counts.
        let before = huge_pages_kib();
        let mut block = vec![0u8; 64 << 20];
        for page in block.chunks_mut(4096) {
            page[0] = 1;
        }
        assert_eq!(block.iter().map(|&b| b as usize).sum::<usize>(), block.len() / 4096);
        assert_eq!(huge_pages_kib(), before, "64 MiB were touched; none of it should be in huge pages");
    }

    /// The process's anonymous memory in transparent huge pages, in KiB.
    #[cfg(target_os = "linux")]
    fn huge_pages_kib() -> u64 {
        let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").expect("Linux has smaps_rollup");
        rollup
            .lines()
            .find_map(|line| line.strip_prefix("AnonHugePages:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("smaps_rollup reports AnonHugePages")
    }
}
