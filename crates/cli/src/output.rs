//! Standard output for every command: [`outln!`] instead of `println!`, [`Stdout`] for
//! libraries that write through a `Write`, and [`is_broken_pipe`] for the commands that write
//! through their own handle and return the error.
//!
//! Invariant: a reader that stops early (`leadbridge status | head -1`) ends the command
//! quietly with success, as Unix tools do; it is never a panic (`println!` panics on a closed
//! pipe) nor an "error:" line. Other write failures (a full disk) stay errors.

use std::io::Write;

/// `println!` that ends the process quietly when standard output is closed.
macro_rules! outln {
    () => {
        $crate::output::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}

/// Writes one line to standard output; see the module docs for a closed pipe.
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let written = out
        .write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("error: writing to standard output: {e}");
            std::process::exit(2)
        }
    }
}

/// Standard output as a `Write` for libraries that write through one (the CSV export) and
/// keep only the text of an I/O error: a closed pipe ends the process quietly here, before
/// that error is reworded.
pub struct Stdout;

fn quiet_on_closed_pipe<T>(result: std::io::Result<T>) -> std::io::Result<T> {
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => other,
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        quiet_on_closed_pipe(std::io::stdout().write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        quiet_on_closed_pipe(std::io::stdout().flush())
    }
}

/// Whether `err` comes from writing to a closed pipe (anywhere in its chain of causes).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::is_broken_pipe;
    use anyhow::Context;

    #[test]
    fn a_closed_pipe_is_recognised_through_context_and_other_errors_are_not() {
        let closed: anyhow::Result<()> =
            Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe)).context("writing the list");
        assert!(is_broken_pipe(&closed.unwrap_err()));
        let full: anyhow::Result<()> =
            Err(std::io::Error::other("no space left")).context("writing the list");
        assert!(!is_broken_pipe(&full.unwrap_err()));
    }
}
