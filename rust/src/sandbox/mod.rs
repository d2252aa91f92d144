//! Runs untrusted programs in resource-limited child processes.
//!
//! This is the only module of the crate that starts processes (a clippy `disallowed-methods`
//! rule bans `std::process::Command::new` elsewhere). Each [`run`] call:
//!
//! * creates a fresh private working directory and removes it afterwards;
//! * starts the program with an allow-listed environment (nothing is inherited unless asked);
//! * in the child, before `exec`: `setsid()` (own session and process group) and `setrlimit`
//!   for CPU, address space, file size, open files, core dumps and processes;
//! * supervises the child from the calling thread with one `poll(2)` loop that feeds stdin
//!   (non-blocking, so a program that never reads cannot deadlock us), drains stdout, stderr
//!   and an optional result pipe on fd 3 (each with its own byte cap) and watches a pidfd for
//!   the child's exit;
//! * enforces the wall-clock deadline with its own clock, and kills the whole process group with
//!   `SIGKILL` at the end, whatever happened (also after a normal exit, so leftover children die);
//! * reaps the child with `wait4` and reports its status and resource usage.
//!
//! The outcome is classified from the supervisor's own observations (its timer, the output
//! caps it enforced, the wait status and `ru_maxrss`), never from the exit code alone.
//!
//! [`run`] is the fresh-interpreter path (and the fallback). Test cases normally run in a warm
//! fork server ([`forkserver`]) inside PID, network, mount, IPC and UTS namespaces with a
//! private root and an unprivileged uid per server ([`isolation`]); [`capabilities`] says which
//! of those protections the kernel allows here. The module knows nothing of what a case does:
//! the caller gives the server its case code ([`forkserver::ServerCode`]) and the request of
//! each case, and a [`Stop`] flag ends supervision early.

pub mod forkserver;
pub mod isolation;
mod process;
mod python;
mod seccomp;
mod server_loop;

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use isolation::{capabilities, Capabilities};
pub use python::{default_interpreter, interpreter, Interpreter};

/// The default [`Limits::stack_bytes`]: 256 MiB, the stack Codeforces gives a program.
pub const DEFAULT_STACK_BYTES: u64 = 256 << 20;

/// Resource limits for one child process.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Wall-clock limit measured by the supervisor from just before the spawn.
    pub wall: Duration,
    /// `RLIMIT_CPU` soft limit in seconds (`SIGXCPU`); the hard limit is one second more
    /// (`SIGKILL`). 0 means no CPU limit.
    pub cpu_seconds: u64,
    /// `RLIMIT_AS` in bytes: an absolute address-space cap (the child `exec`s a fresh image, so
    /// the supervisor's own size does not count). 0 means no limit.
    pub address_space_bytes: u64,
    /// `RLIMIT_FSIZE` in bytes: the largest file the program may write.
    pub file_size_bytes: u64,
    /// `RLIMIT_NOFILE`.
    pub open_files: u64,
    /// `RLIMIT_NPROC`. Counts every process and thread of the uid, and is ignored for root.
    pub processes: u64,
    /// `RLIMIT_STACK` in bytes: how far the main thread's stack may grow (deep recursion in C,
    /// e.g. through `functools.lru_cache`, needs far more than the usual 8 MiB). A fresh
    /// interpreter starts with at most 8 MiB (glibc sizes new threads' stacks by it) and its
    /// driver raises it. 0 means the inherited hard limit.
    pub stack_bytes: u64,
    /// Cap on captured stdout; exceeding it kills the child ([`Termination::OutputLimit`]).
    pub stdout_bytes: usize,
    /// Cap on captured stderr, which is truncated (its head and its last 16 KiB are kept),
    /// never a reason to end the child.
    pub stderr_bytes: usize,
    /// Cap on the result pipe (fd 3); exceeding it kills the child.
    pub result_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            wall: Duration::from_secs(4),
            cpu_seconds: 4,
            address_space_bytes: 1024 << 20,
            file_size_bytes: 16 << 20,
            open_files: 128,
            processes: 512,
            stack_bytes: DEFAULT_STACK_BYTES,
            stdout_bytes: 1 << 20,
            stderr_bytes: 1 << 20,
            result_bytes: 1 << 20,
        }
    }
}

/// A stop flag shared with another thread (or with Python): once it is set, supervision ends
/// within [`Stop::CHECK_EVERY`], kills the running program's processes and returns
/// [`Error::Stopped`](crate::Error::Stopped); nothing new is started.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// How often a supervision loop looks at the flag.
    pub const CHECK_EVERY: Duration = Duration::from_millis(20);

    /// A flag that is not set.
    pub fn new() -> Self {
        Stop::default()
    }

    /// Sets the flag (from any thread); it stays set.
    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// `Err(Error::Stopped)` once the flag is set.
    pub fn check(&self) -> crate::Result<()> {
        if self.is_set() {
            Err(crate::Error::Stopped)
        } else {
            Ok(())
        }
    }
}

/// Whether `stop` (if any) is set.
pub(crate) fn stopped(stop: Option<&Stop>) -> bool {
    stop.is_some_and(Stop::is_set)
}

/// How long a supervision loop may wait in one `poll`: `wait`, cut to [`Stop::CHECK_EVERY`]
/// when there is a stop flag to look at.
pub(crate) fn poll_slice(wait: Duration, stop: Option<&Stop>) -> Duration {
    if stop.is_some() {
        wait.min(Stop::CHECK_EVERY)
    } else {
        wait
    }
}

/// Environment of the child.
#[derive(Debug, Clone, Default)]
pub enum Env {
    /// Only what a Python program needs: a minimal `PATH`, a UTF-8 locale, a fixed hash seed,
    /// one BLAS/OpenMP thread, no bytecode writing, `HOME`/`TMPDIR` = the working directory.
    #[default]
    Minimal,
    /// The supervisor's own environment (used to probe the interpreter, never for untrusted code).
    Inherit,
}

/// One program to run.
#[derive(Debug, Clone)]
pub struct Job {
    /// The executable (an absolute path, or a name looked up in the supervisor's `PATH`).
    pub program: PathBuf,
    /// Arguments after the program name.
    pub args: Vec<OsString>,
    /// Bytes written to the child's stdin, which is then closed.
    pub stdin: Vec<u8>,
    /// Files written into the fresh working directory before the start: (file name, contents).
    pub files: Vec<(String, Vec<u8>)>,
    /// Open a pipe on the child's fd 3 and capture what is written to it.
    pub result_pipe: bool,
    /// Environment of the child.
    pub env: Env,
    /// Resource limits.
    pub limits: Limits,
    /// Ends the run early (the process group is killed, [`run`] returns
    /// [`Error::Stopped`](crate::Error::Stopped)) once set.
    pub stop: Option<Stop>,
}

impl Job {
    /// A job running `program` with `args`, no stdin, no files and default limits.
    pub fn new(program: impl Into<PathBuf>, args: Vec<OsString>) -> Self {
        Job {
            program: program.into(),
            args,
            stdin: Vec::new(),
            files: Vec::new(),
            result_pipe: false,
            env: Env::Minimal,
            limits: Limits::default(),
            stop: None,
        }
    }
}

/// Which captured stream hit its cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// fd 1
    Stdout,
    /// fd 2
    Stderr,
    /// fd 3 (the result pipe)
    Result,
}

/// How the child ended, as seen by the supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Termination {
    /// The child exited by itself with this status code.
    Exited(i32),
    /// The child was killed by this signal (not by the supervisor's own deadline or cap).
    Signaled(i32),
    /// The supervisor's wall-clock deadline passed; the group was killed.
    WallTimeout,
    /// A captured stream exceeded its cap; the group was killed.
    OutputLimit(Stream),
}

/// The classification of an [`Outcome`] from the supervisor's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Exited by itself with this code.
    Exited(i32),
    /// Wall deadline, or the CPU limit (`SIGXCPU`, or `SIGKILL` after using the CPU budget).
    Timeout,
    /// Killed by a signal while its peak RSS was close to the address-space limit.
    MemoryLimit,
    /// A stream exceeded its cap.
    OutputLimit(Stream),
    /// Killed by some other signal (e.g. `SIGSEGV` from a C-level stack overflow).
    Signaled(i32),
}

/// What happened to one [`Job`].
#[derive(Debug, Clone)]
pub struct Outcome {
    /// How the child ended.
    pub termination: Termination,
    /// Captured stdout (at most the cap plus one read chunk is kept).
    pub stdout: Vec<u8>,
    /// Captured stderr.
    pub stderr: Vec<u8>,
    /// Captured result pipe (fd 3), empty without [`Job::result_pipe`].
    pub result: Vec<u8>,
    /// Wall time from spawn to the end of supervision.
    pub wall: Duration,
    /// User + system CPU time of the child (and its reaped descendants).
    pub cpu: Duration,
    /// Peak resident set size of the child in bytes (`ru_maxrss`).
    pub max_rss_bytes: u64,
    /// The CPU limit the child ran under, in seconds (0 = none).
    pub cpu_limit_seconds: u64,
    /// The address-space limit the child ran under, in bytes (0 = none).
    pub address_space_limit_bytes: u64,
}

impl Outcome {
    /// Classifies the outcome from the supervisor's timers, caps, wait status and rusage.
    pub fn verdict(&self) -> Verdict {
        match self.termination {
            Termination::OutputLimit(stream) => Verdict::OutputLimit(stream),
            Termination::WallTimeout => Verdict::Timeout,
            Termination::Exited(code) => Verdict::Exited(code),
            Termination::Signaled(sig) => {
                let cpu_exhausted = self.cpu_limit_seconds > 0
                    && self.cpu.as_secs_f64() + 0.05 >= self.cpu_limit_seconds as f64;
                if sig == libc::SIGXCPU || (sig == libc::SIGKILL && cpu_exhausted) {
                    return Verdict::Timeout;
                }
                let memory_exhausted = self.address_space_limit_bytes > 0
                    && self.max_rss_bytes >= self.address_space_limit_bytes / 4 * 3;
                let memory_signal = matches!(
                    sig,
                    libc::SIGKILL | libc::SIGSEGV | libc::SIGBUS | libc::SIGABRT
                );
                if memory_signal && memory_exhausted {
                    Verdict::MemoryLimit
                } else {
                    Verdict::Signaled(sig)
                }
            }
        }
    }
}

/// Runs `job` to completion under its limits and returns what happened.
///
/// Errors mean the sandbox itself failed (no working directory, the program could not be
/// started, a supervision syscall failed); anything the program does is an [`Outcome`].
pub fn run(job: &Job) -> crate::Result<Outcome> {
    process::run(job)
}

/// Fills `buf` with random bytes from the kernel (`getrandom(2)`).
pub fn random_bytes(buf: &mut [u8]) -> crate::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: `rest` is a valid writable buffer of `rest.len()` bytes for the whole call.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(crate::Error::Sandbox(format!("getrandom failed: {err}")));
        }
        filled += n as usize;
    }
    Ok(())
}

/// A random lowercase hex string of `2 * n_bytes` characters.
pub fn random_hex(n_bytes: usize) -> crate::Result<String> {
    let mut buf = vec![0u8; n_bytes];
    random_bytes(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Name of a signal for messages ("SIGSEGV"), or its number.
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests;
