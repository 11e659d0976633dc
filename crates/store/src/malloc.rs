//! The process's malloc arenas.
//!
//! SQLite runs each pooled connection on a thread of its own, and glibc gives every thread
//! that contends for `malloc` an arena of its own (up to eight per core), each keeping what
//! was freed into it. A sync of 200,000 contacts peaked at 157 MB RSS for 77 MB of live heap
//! (heaptrack). Capped arenas, same run: 4 → 119 MB, 2 → 109 MB; but a 1M-row SQLite import
//! lost ~15% of its speed at 2 (threads waiting on each other's arena lock) and nothing
//! measurable at 4 (`sync_bench` and `import_bench` headers). Binaries call [`limit_arenas`]
//! first thing in `main`.

/// Caps glibc's malloc arenas at twice the number of cores (at least 4), unless the user set
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
        let arenas = libc::c_int::try_from((2 * cores).max(4)).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only sets a malloc parameter; M_ARENA_MAX takes any positive count
        // and applies to arenas created from now on.
        #[allow(unsafe_code)]
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}

/// A multi-threaded tokio runtime built after [`limit_arenas`]: the benchmarks' `main`
/// (`runtime().block_on(run())`), so their memory and speed are the binary's.
pub fn runtime() -> tokio::runtime::Runtime {
    limit_arenas();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}
