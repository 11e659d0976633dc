//! The process's malloc arenas.
//!
//! SQLite runs each pooled connection on a thread of its own, and glibc gives every thread
//! that contends for `malloc` an arena of its own (up to eight per core), each keeping what
//! was freed into it. A sync of 200,000 contacts peaked at 157 MB RSS for 77 MB of live heap
//! (heaptrack); with the arenas capped at the core count, 109 MB (`sync_bench` header).
//! Binaries call [`limit_arenas`] first thing in `main`.

/// Caps glibc's malloc arenas at the number of cores (at least 2), unless the user set
/// `MALLOC_ARENA_MAX` or `GLIBC_TUNABLES` (theirs wins). Elsewhere than glibc, nothing.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("MALLOC_ARENA_MAX").is_some()
            || std::env::var_os("GLIBC_TUNABLES").is_some()
        {
            return;
        }
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let arenas = libc::c_int::try_from(cores.max(2)).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only sets a malloc parameter; M_ARENA_MAX takes any positive count
        // and applies to arenas created from now on.
        #[allow(unsafe_code)]
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}
