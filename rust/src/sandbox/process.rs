//! Spawning one child under limits and supervising it with a single `poll(2)` loop.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Env, Job, Limits, Outcome, Stop, Stream, Termination};
use crate::Error;

/// How long the supervisor keeps draining pipes after the main child exited. Output the child
/// wrote before exiting is already in the pipe; this only bounds how long a grandchild that
/// still holds the pipe open can delay us before the group is killed.
pub(super) const EXIT_GRACE: Duration = Duration::from_millis(50);

/// Bytes read per `read(2)` call.
pub(super) const CHUNK: usize = 64 * 1024;

/// Bytes written to stdin per `write(2)` call.
pub(super) const STDIN_CHUNK: usize = 64 * 1024;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
type Resource = libc::c_int;

/// One `setrlimit` call prepared in the parent (so the child only issues syscalls).
#[derive(Clone, Copy)]
struct RlimitSetting {
    resource: Resource,
    value: libc::rlimit,
}

/// A private working directory, removed (best effort) when dropped.
/// The user (nobody) that untrusted code runs as on this path when the supervisor is root.
const UNPRIVILEGED: libc::uid_t = 65534;

struct WorkDir(PathBuf);

impl WorkDir {
    fn create() -> crate::Result<WorkDir> {
        let base = std::env::temp_dir();
        for _ in 0..8 {
            let name = format!("sfstream-{}-{}", std::process::id(), super::random_hex(8)?);
            let path = base.join(name);
            match fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(WorkDir(path)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(Error::Sandbox(format!(
                        "cannot create a working directory in {}: {e}",
                        base.display()
                    )))
                }
            }
        }
        Err(Error::Sandbox(
            "cannot find a free working-directory name".into(),
        ))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if fs::remove_dir_all(&self.0).is_err() {
            // The program may have removed permissions from what it created; restore and retry.
            restore_permissions(&self.0);
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

fn restore_permissions(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                restore_permissions(&entry.path());
            }
        }
    }
}

/// Kills the child's process group and reaps the child if supervision ends early (an error or
/// a panic), so no child outlives a failed `run`.
struct ChildGuard {
    pid: libc::pid_t,
    reaped: bool,
}

impl ChildGuard {
    fn kill_group(&self) {
        // SAFETY: plain syscall. The child is not reaped yet, so its pid (= its process-group id
        // after setsid) cannot have been reused by another process.
        unsafe {
            libc::killpg(self.pid, libc::SIGKILL);
        }
    }

    /// Reaps the child, returning its wait status and resource usage.
    fn reap(&mut self) -> io::Result<(libc::c_int, libc::rusage)> {
        let mut status: libc::c_int = 0;
        // SAFETY: rusage is plain old data; all-zero is a valid value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: valid out-pointers for the duration of the call.
            let r = unsafe { libc::wait4(self.pid, &mut status, 0, &mut usage) };
            if r == self.pid {
                self.reaped = true;
                return Ok((status, usage));
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill_group();
            let _ = self.reap();
        }
    }
}

/// How much of the end of a truncated stream (stderr) is kept: where a traceback is.
const TAIL: usize = 16 * 1024;

/// A pipe end the supervisor reads from, with its cap.
///
/// A stream that kills at its cap (stdout, the result pipe) reports the overflow; one that
/// truncates (stderr) keeps its first bytes up to the cap less [`TAIL`], and its last [`TAIL`]
/// bytes, and drains the rest without keeping it, so writing to it never ends a run.
pub(super) struct Reader {
    pub(super) fd: Option<OwnedFd>,
    pub(super) buf: Vec<u8>,
    cap: usize,
    pub(super) stream: Stream,
    truncate: bool,
    /// Truncating streams past the head: the most recent bytes (at most 2 x the tail kept).
    tail: Vec<u8>,
    /// Bytes read and not kept.
    dropped: usize,
}

impl Reader {
    pub(super) fn new(fd: Option<OwnedFd>, cap: usize, stream: Stream) -> Reader {
        Reader {
            fd,
            buf: Vec::new(),
            cap,
            stream,
            truncate: stream == Stream::Stderr,
            tail: Vec::new(),
            dropped: 0,
        }
    }

    /// Reads what is available. Returns true if the cap was exceeded (never for a stream that
    /// truncates).
    pub(super) fn drain(&mut self, chunk: &mut [u8]) -> io::Result<bool> {
        let Some(fd) = self.fd.as_ref().map(AsRawFd::as_raw_fd) else {
            return Ok(false);
        };
        loop {
            // SAFETY: `chunk` is a valid writable buffer of `chunk.len()` bytes; `fd` stays open
            // while `self.fd` holds it (it is only dropped right before returning).
            let n = unsafe { libc::read(fd, chunk.as_mut_ptr().cast(), chunk.len()) };
            if n > 0 {
                let n = n as usize;
                if self.truncate {
                    self.keep(&chunk[..n]);
                    continue;
                }
                let room = self.cap.saturating_sub(self.buf.len());
                self.buf.extend_from_slice(&chunk[..n.min(room)]);
                if n > room {
                    self.fd = None;
                    return Ok(true);
                }
                continue;
            }
            if n == 0 {
                self.fd = None;
                return Ok(false);
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => return Ok(false),
                _ => {
                    self.fd = None;
                    return Err(err);
                }
            }
        }
    }

    /// A truncating stream: the head up to the cap less the tail, then a rolling tail.
    fn keep(&mut self, data: &[u8]) {
        let tail = TAIL.min(self.cap / 2);
        let head = self.cap - tail;
        let room = head.saturating_sub(self.buf.len());
        let (first, rest) = data.split_at(data.len().min(room));
        self.buf.extend_from_slice(first);
        if rest.is_empty() {
            return;
        }
        self.tail.extend_from_slice(rest);
        if self.tail.len() > 2 * tail {
            let cut = self.tail.len() - tail;
            self.dropped += cut;
            self.tail.drain(..cut);
        }
    }

    /// What was kept: everything, or for a truncated stream its head, a line saying how much
    /// was left out, and its tail.
    fn into_bytes(mut self) -> Vec<u8> {
        let tail = TAIL.min(self.cap / 2);
        if self.tail.len() > tail {
            let cut = self.tail.len() - tail;
            self.dropped += cut;
            self.tail.drain(..cut);
        }
        if self.dropped > 0 {
            let note = format!("\n[... {} bytes not kept ...]\n", self.dropped);
            self.buf.extend_from_slice(note.as_bytes());
        }
        self.buf.extend_from_slice(&self.tail);
        self.buf
    }
}

/// The pipes of one supervised child: its stdin, fed from `input` without blocking, and the
/// three capped readers (stdout, stderr, result). Both supervisors ([`run`] and the fork
/// server's) poll these plus one descriptor of their own that says the child is done.
pub(super) struct Pipes<'a> {
    stdin: Option<OwnedFd>,
    input: &'a [u8],
    written: usize,
    pub(super) readers: [Reader; 3],
    chunk: Vec<u8>,
}

impl<'a> Pipes<'a> {
    /// Takes our (non-blocking) ends; writes what fits of `input` right away.
    pub(super) fn new(stdin: Option<OwnedFd>, input: &'a [u8], readers: [Reader; 3]) -> Self {
        let mut pipes = Pipes {
            stdin: if input.is_empty() { None } else { stdin },
            input,
            written: 0,
            readers,
            chunk: vec![0u8; CHUNK],
        };
        pipes.feed();
        pipes
    }

    /// Closes the child's stdin (it sees EOF); nothing more is written.
    pub(super) fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Whether every reader has seen EOF (or was closed at its cap).
    pub(super) fn drained(&self) -> bool {
        self.readers.iter().all(|r| r.fd.is_none())
    }

    /// Waits up to `wait` for any pipe or `done` (ignored if negative) to be ready, then
    /// drains the readers and feeds stdin. Returns whether `done` was ready and the stream
    /// that went over its cap, if one did.
    pub(super) fn poll(
        &mut self,
        done: RawFd,
        wait: Duration,
    ) -> crate::Result<(bool, Option<Stream>)> {
        let fd_of = |fd: &Option<OwnedFd>| fd.as_ref().map_or(-1, |f| f.as_raw_fd());
        // Slots: 0..3 readers, 3 stdin, 4 `done`; absent fds are -1 (ignored by poll).
        let mut fds = [
            pollfd(fd_of(&self.readers[0].fd), libc::POLLIN),
            pollfd(fd_of(&self.readers[1].fd), libc::POLLIN),
            pollfd(fd_of(&self.readers[2].fd), libc::POLLIN),
            pollfd(fd_of(&self.stdin), libc::POLLOUT),
            pollfd(done, libc::POLLIN),
        ];
        let timeout_ms = wait.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs for the whole call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                return Ok((false, None));
            }
            return Err(Error::Sandbox(format!("poll failed: {err}")));
        }
        let mut overflow = None;
        for (i, reader) in self.readers.iter_mut().enumerate() {
            if fds[i].revents != 0 {
                match reader.drain(&mut self.chunk) {
                    Ok(true) => overflow = overflow.or(Some(reader.stream)),
                    Ok(false) => {}
                    Err(e) => return Err(Error::Sandbox(format!("reading the child failed: {e}"))),
                }
            }
        }
        if fds[3].revents != 0 {
            self.feed();
        }
        Ok((fds[4].revents != 0, overflow))
    }

    /// Writes the next chunk of the input if the pipe takes it; closes stdin when all is written.
    fn feed(&mut self) {
        let Some(fd) = &self.stdin else { return };
        let end = self.input.len().min(self.written + STDIN_CHUNK);
        match write_without_sigpipe(fd.as_raw_fd(), &self.input[self.written..end]) {
            Ok(n) => self.written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // EPIPE etc.: the program closed its stdin; it does not want the rest.
            Err(_) => self.written = self.input.len(),
        }
        if self.written >= self.input.len() {
            self.stdin = None; // close: the program sees EOF
        }
    }

    /// The outcome of the child: the supervisor's own termination if it ended the run, else
    /// what the wait `status` says; the captured output, and the child's resource usage.
    pub(super) fn outcome(
        self,
        ours: Option<Termination>,
        status: libc::c_int,
        wall: Duration,
        cpu: Duration,
        max_rss_kb: libc::c_long,
        limits: &Limits,
    ) -> Outcome {
        let termination = match ours {
            Some(t) => t,
            None if libc::WIFEXITED(status) => Termination::Exited(libc::WEXITSTATUS(status)),
            None if libc::WIFSIGNALED(status) => Termination::Signaled(libc::WTERMSIG(status)),
            None => Termination::Exited(-1),
        };
        let [stdout, stderr, result] = self.readers.map(Reader::into_bytes);
        Outcome {
            termination,
            stdout,
            stderr,
            result,
            wall,
            cpu,
            max_rss_bytes: (max_rss_kb.max(0) as u64) * 1024,
            cpu_limit_seconds: limits.cpu_seconds,
            address_space_limit_bytes: limits.address_space_bytes,
        }
    }
}

pub(super) fn run(job: &Job) -> crate::Result<Outcome> {
    if let Some(stop) = &job.stop {
        stop.check()?;
    }
    let dir = WorkDir::create()?;
    for (name, data) in &job.files {
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return Err(Error::Sandbox(format!(
                "invalid file name for the work dir: {name:?}"
            )));
        }
        fs::write(dir.0.join(name), data)
            .map_err(|e| Error::Sandbox(format!("cannot write {name} into the work dir: {e}")))?;
    }
    let rlimits = plan_rlimits(&job.limits)?;
    let (result_read, result_write) = if job.result_pipe {
        let (r, w) = pipe_cloexec()?;
        (Some(r), Some(w))
    } else {
        (None, None)
    };

    #[allow(clippy::disallowed_methods)] // the sandbox is the one place allowed to spawn
    let mut cmd = Command::new(&job.program);
    cmd.args(&job.args)
        .current_dir(&dir.0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Untrusted code never runs as root on this path: without the fork server's namespaces a
    // root child could signal every process of the host (kill(-1)) or read anything.
    let mut drop_to: Option<(libc::uid_t, libc::gid_t)> = None;
    if let Env::Minimal = job.env {
        cmd.env_clear().envs(minimal_env(&dir.0));
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            drop_to = Some((UNPRIVILEGED, UNPRIVILEGED));
            std::os::unix::fs::chown(&dir.0, Some(UNPRIVILEGED), Some(UNPRIVILEGED)).map_err(
                |e| Error::Sandbox(format!("cannot hand the work dir to the sandbox user: {e}")),
            )?;
        }
    }
    let result_fd: RawFd = result_write.as_ref().map_or(-1, |fd| fd.as_raw_fd());
    let filter = matches!(job.env, Env::Minimal) && super::capabilities().seccomp;
    // SAFETY: the closure runs in the forked child before exec. It only issues
    // async-signal-safe syscalls (setsid, setrlimit, dup2, fcntl, close_range) on data prepared
    // in the parent and copied into the closure; it neither allocates nor takes locks.
    unsafe {
        cmd.pre_exec(move || child_setup(&rlimits, result_fd, drop_to, filter));
    }

    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| {
        let hint = if drop_to.is_some() && e.kind() == io::ErrorKind::PermissionDenied {
            " as an unprivileged user (without the sandbox's namespaces untrusted code does not \
             run as root: install the interpreter where others may read it, or allow namespaces)"
        } else {
            ""
        };
        Error::Sandbox(format!("cannot start {}{hint}: {e}", job.program.display()))
    })?;
    let mut guard = ChildGuard {
        pid: child.id() as libc::pid_t,
        reaped: false,
    };
    // Our copy of the write end must go, or fd 3 never reaches EOF.
    drop(result_write);

    let stdin: Option<OwnedFd> = child.stdin.take().map(OwnedFd::from);
    let stdout: Option<OwnedFd> = child.stdout.take().map(OwnedFd::from);
    let stderr: Option<OwnedFd> = child.stderr.take().map(OwnedFd::from);
    for fd in [&stdin, &stdout, &stderr, &result_read]
        .into_iter()
        .flatten()
    {
        set_nonblocking(fd)?;
    }
    let mut pipes = Pipes::new(
        stdin,
        &job.stdin,
        [
            Reader::new(stdout, job.limits.stdout_bytes, Stream::Stdout),
            Reader::new(stderr, job.limits.stderr_bytes, Stream::Stderr),
            Reader::new(result_read, job.limits.result_bytes, Stream::Result),
        ],
    );

    let ours = supervise(
        &mut guard,
        &mut pipes,
        start + job.limits.wall,
        job.stop.as_ref(),
    )?;
    // Kill the whole group in every case: after a timeout or overflow, and also after a normal
    // exit, so that no background child of the program outlives the run.
    guard.kill_group();
    let (status, usage) = guard
        .reap()
        .map_err(|e| Error::Sandbox(format!("cannot reap the child: {e}")))?;
    let wall = start.elapsed();
    drop(child);

    Ok(pipes.outcome(
        ours,
        status,
        wall,
        timeval(usage.ru_utime) + timeval(usage.ru_stime),
        usage.ru_maxrss,
        &job.limits,
    ))
}

/// Runs the poll loop until the child exited (plus a short grace to drain pipes), the deadline
/// passed, or a stream overflowed. Returns the supervisor's own termination, if it ended the run,
/// and `Error::Stopped` when `stop` was set (the guard then kills the group and reaps).
fn supervise(
    guard: &mut ChildGuard,
    pipes: &mut Pipes,
    deadline: Instant,
    stop: Option<&Stop>,
) -> crate::Result<Option<Termination>> {
    let pidfd = pidfd_open(guard.pid);
    let mut exited_at: Option<Instant> = None;
    loop {
        if super::stopped(stop) {
            return Err(Error::Stopped);
        }
        let now = Instant::now();
        if exited_at.is_none() && now >= deadline {
            return Ok(Some(Termination::WallTimeout));
        }
        if let Some(t) = exited_at {
            if pipes.drained() || now >= t + EXIT_GRACE {
                return Ok(None);
            }
        }
        let done = match (&pidfd, exited_at) {
            (Some(fd), None) => fd.as_raw_fd(),
            _ => -1,
        };
        let until = exited_at.map_or(deadline, |t| t + EXIT_GRACE);
        let mut wait = super::poll_slice(until.saturating_duration_since(now), stop);
        if pidfd.is_none() && exited_at.is_none() {
            // No pidfd (old kernel): check for the exit by polling waitid every 2 ms.
            wait = wait.min(Duration::from_millis(2));
        }
        let (ready, overflow) = pipes.poll(done, wait)?;
        if let Some(stream) = overflow {
            return Ok(Some(Termination::OutputLimit(stream)));
        }
        if exited_at.is_none() {
            let exited = match &pidfd {
                Some(_) => ready,
                None => has_exited(guard.pid),
            };
            if exited {
                exited_at = Some(Instant::now());
                pipes.close_stdin();
            }
        }
    }
}

/// The child side of the spawn: new session, rlimits, fd 3, no other inherited fds.
fn child_setup(
    rlimits: &[RlimitSetting],
    result_fd: RawFd,
    drop_to: Option<(libc::uid_t, libc::gid_t)>,
    filter: bool,
) -> io::Result<()> {
    // SAFETY: only async-signal-safe system calls on plain data, in the forked child before
    // exec (the whole block).
    unsafe {
        if libc::setsid() < 0 {
            return Err(io::Error::last_os_error());
        }
        for setting in rlimits {
            if libc::setrlimit(setting.resource, &setting.value) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        if let Some((uid, gid)) = drop_to {
            // The pipes belong to the supervisor: hand the standard streams to the sandbox user
            // so that the program can reopen them (`/dev/stdin`, `/proc/self/fd/1`).
            for fd in 0..3 {
                let mut st: libc::stat = std::mem::zeroed();
                if libc::fstat(fd, &mut st) == 0
                    && st.st_mode & libc::S_IFMT == libc::S_IFIFO
                    && libc::fchown(fd, uid, gid) != 0
                {
                    return Err(io::Error::last_os_error());
                }
            }
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setresgid(gid, gid, gid) != 0
                || libc::setresuid(uid, uid, uid) != 0
            {
                return Err(io::Error::last_os_error());
            }
        }
        let first_unused = if result_fd >= 0 {
            if result_fd == 3 {
                // dup2(3, 3) would keep FD_CLOEXEC; clear it instead.
                if libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
            } else if libc::dup2(result_fd, 3) < 0 {
                return Err(io::Error::last_os_error());
            }
            4
        } else {
            3
        };
        // Whatever else the host process left inheritable is closed at exec. CLOEXEC rather
        // than close, so std's exec-error pipe keeps working. Failure (old kernel) is harmless.
        libc::syscall(
            libc::SYS_close_range,
            first_unused as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_uint,
        );
        if filter {
            super::seccomp::install()?;
        }
    }
    Ok(())
}

/// The allow-listed environment for untrusted Python programs.
pub(super) fn minimal_env(dir: &Path) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = [
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("LANG", "C.UTF-8"),
        ("PYTHONHASHSEED", "0"),
        ("PYTHONDONTWRITEBYTECODE", "1"),
        // Python 3.11 refuses int<->str conversions above 4300 digits by default; judges
        // that run big-integer problems do not.
        ("PYTHONINTMAXSTRDIGITS", "0"),
        ("OMP_NUM_THREADS", "1"),
        ("OPENBLAS_NUM_THREADS", "1"),
        ("MKL_NUM_THREADS", "1"),
        ("NUMEXPR_NUM_THREADS", "1"),
        ("VECLIB_MAXIMUM_THREADS", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (OsString::from(k), OsString::from(v)))
    .collect();
    env.push(("HOME".into(), dir.as_os_str().to_owned()));
    env.push(("TMPDIR".into(), dir.as_os_str().to_owned()));
    env
}

/// Turns [`Limits`] into setrlimit calls, clamped to the hard limits we inherited (raising a
/// hard limit needs CAP_SYS_RESOURCE and would make every spawn fail).
fn plan_rlimits(limits: &Limits) -> crate::Result<Vec<RlimitSetting>> {
    let inf = libc::RLIM_INFINITY;
    let or_inf = |v: u64| if v == 0 { inf } else { v as libc::rlim_t };
    let cpu_hard = if limits.cpu_seconds == 0 {
        inf
    } else {
        limits.cpu_seconds as libc::rlim_t + 1
    };
    // RLIMIT_NPROC does not bind uid 0 (the kernel skips the check for root / CAP_SYS_RESOURCE)
    // and counts all processes of the uid, not of this sandbox; a later uid drop plus pid
    // namespace makes it effective. Set it anyway for non-root callers.
    // The stack starts at the usual 8 MiB (glibc sizes every new thread's stack by the soft
    // limit at startup) and the driver raises it to the hard limit for the main thread.
    let stack_hard = if limits.stack_bytes == 0 {
        inf
    } else {
        limits.stack_bytes as libc::rlim_t
    };
    let wanted: [(Resource, libc::rlim_t, libc::rlim_t); 7] = [
        (libc::RLIMIT_CPU, or_inf(limits.cpu_seconds), cpu_hard),
        (
            libc::RLIMIT_AS,
            or_inf(limits.address_space_bytes),
            or_inf(limits.address_space_bytes),
        ),
        (
            libc::RLIMIT_FSIZE,
            or_inf(limits.file_size_bytes),
            or_inf(limits.file_size_bytes),
        ),
        (
            libc::RLIMIT_NOFILE,
            or_inf(limits.open_files),
            or_inf(limits.open_files),
        ),
        (libc::RLIMIT_CORE, 0, 0),
        (libc::RLIMIT_STACK, stack_hard.min(8 << 20), stack_hard),
        (
            libc::RLIMIT_NPROC,
            or_inf(limits.processes),
            or_inf(limits.processes),
        ),
    ];
    let mut out = Vec::with_capacity(wanted.len());
    for (resource, soft, hard) in wanted {
        let mut current = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: valid out-pointer.
        if unsafe { libc::getrlimit(resource, &mut current) } != 0 {
            return Err(Error::Sandbox(format!(
                "getrlimit failed: {}",
                io::Error::last_os_error()
            )));
        }
        let hard = hard.min(current.rlim_max);
        let soft = soft.min(hard);
        out.push(RlimitSetting {
            resource,
            value: libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            },
        });
    }
    Ok(out)
}

pub(super) fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

pub(super) fn pipe_cloexec() -> crate::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: valid out-array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(Error::Sandbox(format!(
            "pipe2 failed: {}",
            io::Error::last_os_error()
        )));
    }
    // SAFETY: pipe2 just returned these two fresh descriptors, owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A pipe whose one end goes to a child: `(read end, write end)`, both close-on-exec; the
/// child's end (the read end if `child_reads`) is blocking, ours non-blocking.
pub(super) fn pipe_for_child(child_reads: bool) -> crate::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: valid out-array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(Error::Sandbox(format!(
            "pipe2 failed: {}",
            io::Error::last_os_error()
        )));
    }
    // SAFETY: pipe2 just returned these two fresh descriptors, owned by nobody else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let theirs = if child_reads { &r } else { &w };
    // SAFETY: fcntl on a descriptor we own. F_SETFL keeps the access mode; it only clears
    // O_NONBLOCK (the only status flag set).
    if unsafe { libc::fcntl(theirs.as_raw_fd(), libc::F_SETFL, 0) } < 0 {
        return Err(Error::Sandbox(format!(
            "fcntl failed: {}",
            io::Error::last_os_error()
        )));
    }
    Ok((r, w))
}

pub(super) fn set_nonblocking(fd: &OwnedFd) -> crate::Result<()> {
    // SAFETY: fcntl on a descriptor we own.
    let ok = unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) >= 0
    };
    if ok {
        Ok(())
    } else {
        Err(Error::Sandbox(format!(
            "fcntl failed: {}",
            io::Error::last_os_error()
        )))
    }
}

/// A pidfd for `pid` (Linux >= 5.3), readable once the process has exited.
fn pidfd_open(pid: libc::pid_t) -> Option<OwnedFd> {
    // SAFETY: plain syscall; on success the returned descriptor is ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: pidfd_open returned a fresh descriptor (O_CLOEXEC by default).
    Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Whether the child has exited, without reaping it (the zombie keeps its pid and group id
/// reserved until we have killed the group).
fn has_exited(pid: libc::pid_t) -> bool {
    // SAFETY: siginfo_t is plain data; all-zero is valid; valid out-pointer.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        r == 0 && info.si_pid() != 0
    }
}

/// `write(2)` with SIGPIPE blocked for this thread, so a closed pipe yields EPIPE instead of
/// killing the host process if it did not ignore SIGPIPE (Rust and CPython both do, but an
/// embedding host might not).
pub(super) fn write_without_sigpipe(fd: RawFd, data: &[u8]) -> io::Result<usize> {
    // SAFETY: sigset/timespec are plain data initialised by the calls below; `data` is a valid
    // buffer for the write; the previous mask is restored before returning.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
        let n = libc::write(fd, data.as_ptr().cast(), data.len());
        let err = io::Error::last_os_error();
        if n < 0 && err.raw_os_error() == Some(libc::EPIPE) {
            // Consume the SIGPIPE this write generated (if it is not ignored) while blocked.
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            libc::sigtimedwait(&set, std::ptr::null_mut(), &zero);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        if n < 0 {
            Err(err)
        } else {
            Ok(n as usize)
        }
    }
}

pub(super) fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(tv.tv_sec.max(0) as u64) + Duration::from_micros(tv.tv_usec.max(0) as u64)
}
