//! A pool of warm Python fork servers, one case at a time per server.
//!
//! A server (`server.py`) is started once inside the namespaces of [`super::isolation`] and
//! runs the caller's [`ServerCode`] first, which may pre-import what its cases use and defines
//! what each case's process does with its request. It forks each case's process ahead of its
//! request. Per case the supervisor creates the four pipes (stdin, stdout, stderr, result),
//! passes the child's ends with `SCM_RIGHTS` together with the request on the request socket,
//! where that waiting process reads them itself, and supervises the case with one `poll(2)`
//! loop: it feeds stdin, drains the outputs under their caps and keeps its own wall clock. On
//! a deadline or an output overflow it tells the server, on the control socket, to kill the
//! case. The server replies there once the case's whole process tree is dead and reaped, with
//! the wait status and resource usage of the case's main process; it empties the case's
//! scratch file systems before it forks the process for the next request.
//!
//! Servers are leased (typically once per checked program) from one process-wide pool, so N
//! threads use N servers in parallel; each server has its own sandbox uid. The pool
//! grows to the number of concurrent callers, starting servers in background threads, and
//! keeps them for the life of the process, whatever thread pools come and go.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use super::isolation::{capabilities, Plan, SANDBOX_ID_BASE};
use super::process::{minimal_env, pipe_for_child, Pipes, Reader, EXIT_GRACE};
use super::{Interpreter, Limits, Outcome, Stop, Stream, Termination};
use crate::Error;

/// The generic part of every server, run as the continuation of the caller's [`ServerCode`].
const SERVER: &str = include_str!("server.py");

/// What a server's cases run: Python source that the server runs first and that defines
/// `prepare_case(request)` and `serve_case(prepared)`. The server calls `prepare_case` with the
/// caller's request bytes before it forks the case's process (work done there once is not
/// copied page by page in the case's process; it must not run anything of the request), and
/// `serve_case` in that process with what `prepare_case` returned, once the case's standard
/// streams, working directory, limits and uid are in place; it must end the process
/// (`os._exit`). At module level the source may import what its cases use, so that they start
/// warm. A new server proves itself with `probe`: a request whose case
/// writes exactly `probe_stdout` and exits with status 0.
#[derive(Debug)]
pub struct ServerCode {
    /// The Python source.
    pub source: &'static str,
    /// Builds the probe request.
    pub probe: fn() -> Vec<u8>,
    /// What the probe's case writes on stdout.
    pub probe_stdout: &'static [u8],
}

/// How the server starts (`python -c BOOT args...`, the server's source on stdin): a forked
/// child compiles the source and hands back the code object (marshal), which the server runs.
/// Compiling 600 lines leaves about 2.5 MB of parser memory behind in the process that does
/// it, and every page the server holds is copied into each case's page tables at fork and
/// torn down at its exit. The source comes on stdin rather than in argv, where the
/// interpreter would keep three copies of it for good (two as wide strings, `sys.orig_argv`):
/// about 0.6 MB more in every fork.
const BOOT: &str = "# The fork server of sfstream: its source comes on stdin.
import marshal, os, sys
chunks = []
while chunk := os.read(0, 1 << 20):
    chunks.append(chunk)
source = b''.join(chunks).decode()
null = os.open(os.devnull, os.O_RDONLY)
os.dup2(null, 0)
os.close(null)
r, w = os.pipe()
if os.fork() == 0:
    data = memoryview(marshal.dumps(compile(source, '<sfstream-server>', 'exec')))
    while data:
        data = data[os.write(w, data):]
    os._exit(0)
del source
os.close(w)
chunks = []
while chunk := os.read(r, 1 << 20):
    chunks.append(chunk)
os.close(r)
os.wait()
code = marshal.loads(b''.join(chunks))
del chunks, r, w, chunk, null
exec(code)
";

/// Size cap of `/tmp` (working directories) and of `/dev/shm`, each, per server, in MiB.
pub const SCRATCH_MB: u64 = 64;

/// How long a server may take to answer after it was told to kill a case.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// How long a new server may take to start and pre-import.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// One case for a server to run.
#[derive(Debug, Clone, Copy)]
pub struct Case<'a> {
    /// What the case's process gets: the argument of the code's `serve_case`.
    pub request: &'a [u8],
    /// Fed to the case through a pipe; with `None` its stdin is `/dev/null`.
    pub stdin: Option<&'a [u8]>,
    /// The case's limits.
    pub limits: &'a Limits,
    /// Ends the case early once set.
    pub stop: Option<&'a Stop>,
}

/// One running fork server.
pub struct ForkServer {
    child: Child,
    /// Kill orders to the server, its replies.
    ctl: UnixStream,
    /// Requests (with the case's pipes), read by the server (or by its waiting child, when the
    /// server runs without its native part).
    requests: UnixStream,
    /// Replies received: the number of the case now running.
    cases: u64,
    /// The server's own scratch directory when it has no private mount namespace.
    scratch: Option<PathBuf>,
    slot: u32,
    interpreter: PathBuf,
    code: &'static ServerCode,
    healthy: bool,
}

impl ForkServer {
    /// Whether this server runs `code` under `interp`.
    fn serves(&self, interp: &Interpreter, code: &'static ServerCode) -> bool {
        self.interpreter == interp.path && std::ptr::eq(self.code, code)
    }
}

/// The process-wide pool: idle servers, how many are being started, and the free sandbox-uid
/// slots. It grows to the number of callers that ran at the same time and outlives any
/// caller's thread pool.
struct Pool {
    idle: Vec<ForkServer>,
    /// Servers being started by background threads.
    starting: usize,
    /// Callers waiting for a server.
    waiting: usize,
    /// Servers leased out.
    in_use: usize,
    next_slot: u32,
    free_slots: Vec<u32>,
}

impl Pool {
    fn take_slot(&mut self) -> u32 {
        self.free_slots.pop().unwrap_or_else(|| {
            self.next_slot += 1;
            self.next_slot - 1
        })
    }
}

struct Shared {
    pool: Mutex<Pool>,
    /// Signalled when a server becomes idle or a start failed.
    changed: Condvar,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| Shared {
        pool: Mutex::new(Pool {
            idle: Vec::new(),
            starting: 0,
            waiting: 0,
            in_use: 0,
            next_slot: 0,
            free_slots: Vec::new(),
        }),
        changed: Condvar::new(),
    })
}

fn lock_pool() -> MutexGuard<'static, Pool> {
    shared().pool.lock().unwrap_or_else(|e| e.into_inner())
}

fn release_slot(slot: u32) {
    lock_pool().free_slots.push(slot);
}

/// A server leased from the pool; returned to it on drop if still healthy.
pub struct Lease(Option<ForkServer>);

impl Lease {
    /// The leased server.
    pub fn server(&mut self) -> &mut ForkServer {
        self.0.as_mut().expect("lease holds a server until dropped")
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Some(server) = self.0.take() else { return };
        let mut pool = lock_pool();
        pool.in_use -= 1;
        if server.healthy {
            pool.idle.push(server);
            drop(pool);
            shared().changed.notify_all();
        } else {
            drop(pool);
            drop(server);
        }
    }
}

impl Drop for ForkServer {
    fn drop(&mut self) {
        // SIGKILL to the host-side process: the server itself, or the intermediate process
        // whose death kills the server (PDEATHSIG) and with it the whole PID namespace.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
        release_slot(self.slot);
    }
}

/// This library, opened for a new server to load its native part from (see `server_loop.rs`);
/// `None` when the code runs in an executable rather than the shared library (the crate's own
/// tests), whose servers then run that part in Python.
fn core_library() -> Option<std::fs::File> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: dladdr only reads the address and fills `info`, whose file name is a
    // NUL-terminated string owned by the dynamic loader.
    let path = unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        let here = super::server_loop::sfstream_server_case_over as *const libc::c_void;
        if libc::dladdr(here, &mut info) == 0 || info.dli_fname.is_null() {
            return None;
        }
        std::ffi::CStr::from_ptr(info.dli_fname).to_bytes().to_vec()
    };
    let path = std::path::Path::new(std::ffi::OsStr::from_bytes(&path));
    let exe = std::fs::canonicalize("/proc/self/exe").ok()?;
    if std::fs::canonicalize(path).ok()? == exe {
        return None;
    }
    std::fs::File::open(path).ok()
}

/// Why the fork server path is unavailable, if it failed to start once (then every call uses
/// the fresh-interpreter path).
static START_FAILURE: OnceLock<String> = OnceLock::new();

/// Leases a server running `code` under `interp`: an idle one, else the first that becomes idle
/// or finishes starting. A caller that finds none idle and no more starting than callers waiting starts
/// one in the background, so the pool grows to the number of concurrent callers. `None` if
/// servers cannot be started on this machine (reported once on stderr), or once `stop` is set.
pub fn lease(
    interp: &Interpreter,
    code: &'static ServerCode,
    stop: Option<&Stop>,
) -> Option<Lease> {
    let mut pool = lock_pool();
    loop {
        if START_FAILURE.get().is_some() || super::stopped(stop) {
            return None;
        }
        if let Some(i) = pool.idle.iter().rposition(|s| s.serves(interp, code)) {
            pool.in_use += 1;
            return Some(Lease(Some(pool.idle.swap_remove(i))));
        }
        if pool.starting <= pool.waiting {
            let slot = pool.take_slot();
            pool.starting += 1;
            start_in_background(interp.clone(), code, slot);
        }
        pool.waiting += 1;
        pool = shared()
            .changed
            .wait_timeout(pool, super::poll_slice(START_TIMEOUT + KILL_GRACE, stop))
            .unwrap_or_else(|e| e.into_inner())
            .0;
        pool.waiting -= 1;
    }
}

/// Starts servers running `code` under `interp` in the background until `count` exist (idle,
/// leased or starting), so that the first callers find them warm.
pub fn prestart(interp: &Interpreter, code: &'static ServerCode, count: usize) {
    if START_FAILURE.get().is_some() {
        return;
    }
    let mut pool = lock_pool();
    let have =
        pool.idle.iter().filter(|s| s.serves(interp, code)).count() + pool.starting + pool.in_use;
    for _ in have..count {
        let slot = pool.take_slot();
        pool.starting += 1;
        start_in_background(interp.clone(), code, slot);
    }
}

/// Starts a server on a thread of its own; it joins the idle servers (or records why servers
/// cannot start) and wakes the waiting callers. Called with the pool locked.
fn start_in_background(interp: Interpreter, code: &'static ServerCode, slot: u32) {
    let spawned = std::thread::Builder::new()
        .name("sfstream-forkserver".into())
        .spawn(move || {
            let result = ForkServer::start(&interp, code, slot);
            let mut pool = lock_pool();
            pool.starting -= 1;
            match result {
                Ok(server) => pool.idle.push(server),
                Err(e) => {
                    let msg = format!("{e}");
                    if START_FAILURE.set(msg.clone()).is_ok() {
                        eprintln!(
                            "sfstream sandbox: fork server unavailable ({msg}); \
                             running a fresh interpreter per test case"
                        );
                    }
                }
            }
            drop(pool);
            shared().changed.notify_all();
        });
    if let Err(e) = spawned {
        // Still under the caller's lock: undo the bookkeeping directly.
        let _ = START_FAILURE.set(format!("cannot start a thread: {e}"));
        eprintln!("sfstream sandbox: cannot start a fork server thread: {e}");
        // The slot is leaked rather than relocking here; servers are unavailable from now on.
    }
}

/// Why the fork server could not start, if it could not.
pub fn start_failure() -> Option<&'static str> {
    START_FAILURE.get().map(String::as_str)
}

impl ForkServer {
    /// Starts a server with the sandbox uid of `slot` and proves it works. The slot is given
    /// back on failure.
    fn start(
        interp: &Interpreter,
        code: &'static ServerCode,
        slot: u32,
    ) -> crate::Result<ForkServer> {
        let mut server = match Self::spawn(interp, code, slot) {
            Ok(server) => server,
            Err(e) => {
                release_slot(slot);
                return Err(e);
            }
        };
        // On failure the server is dropped, which gives the slot back.
        server.handshake()?;
        Ok(server)
    }

    fn spawn(
        interp: &Interpreter,
        code: &'static ServerCode,
        slot: u32,
    ) -> crate::Result<ForkServer> {
        let caps = capabilities();
        let plan = Plan::new(caps, &interp.dirs, SCRATCH_MB);
        let (host_end, server_end) =
            UnixStream::pair().map_err(|e| Error::Sandbox(format!("socketpair failed: {e}")))?;
        let (requests_host, requests_server) =
            UnixStream::pair().map_err(|e| Error::Sandbox(format!("socketpair failed: {e}")))?;
        // Without a private root the sandbox uid reads the host's files: it must be able to
        // read the interpreter (a pyenv build under a private home cannot be).
        let readable = caps.mount_namespace || interp.dirs.iter().all(|d| world_readable(d));
        if caps.uid_drop && !readable {
            // Test cases would keep root's uid: untrusted code never runs as root.
            return Err(Error::Sandbox(format!(
                "{} is not readable by other users and there is no private mount namespace, so \
                 test cases could not drop root",
                interp.path.display()
            )));
        }
        let id = if caps.uid_drop {
            SANDBOX_ID_BASE + slot
        } else {
            0
        };
        // `-s -S (-P)`: no site module, so no `.pth` file of the interpreter runs in the server
        // and loads into every case's pages (the case code may put the site-packages on
        // `sys.path` itself).
        let mut args: Vec<OsString> = interp.flags.clone();
        args.extend([
            "-c".into(),
            BOOT.into(),
            "3".into(),
            id.to_string().into(),
            id.to_string().into(),
            if caps.pid_namespace { "1" } else { "0" }.into(),
        ]);
        // Without a private mount namespace the server works in a directory of its own.
        let private_scratch = super::isolation::scratch_dir(&interp.dirs);
        let scratch = if caps.mount_namespace {
            args.push("private".into());
            args.push(private_scratch.into());
            None
        } else {
            let dir = std::env::temp_dir().join(format!(
                "sfstream-server-{}-{}",
                std::process::id(),
                super::random_hex(8)?
            ));
            std::fs::DirBuilder::new()
                .mode(0o711)
                .create(&dir)
                .map_err(|e| Error::Sandbox(format!("cannot create {}: {e}", dir.display())))?;
            args.push("shared".into());
            args.push(dir.clone().into_os_string());
            Some(dir)
        };
        #[allow(clippy::disallowed_methods)] // the sandbox is the one place allowed to spawn
        let mut cmd = Command::new(&interp.path);
        cmd.args(&args)
            .env_clear()
            .envs(minimal_env(std::path::Path::new(if caps.mount_namespace {
                private_scratch
            } else {
                "/tmp"
            })))
            // Every symbol resolved once in the server, not lazily (a write to the server's
            // pages, copied on write) in each case; the server drops the variable at once.
            .env("LD_BIND_NOW", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let ctl_fd = server_end.as_raw_fd();
        let requests_fd = requests_server.as_raw_fd();
        let library = core_library();
        let library_fd = library.as_ref().map_or(-1, |f| f.as_raw_fd());
        let filter = caps.seccomp;
        // SAFETY: the closure runs in the forked child before exec and only issues syscalls on
        // data prepared before the fork (the plan owns every string it needs).
        unsafe {
            cmd.pre_exec(move || {
                plan.enter()?;
                // The control socket on fd 3, the request socket on fd 4 (by way of copies
                // above both, so that neither overwrites the other).
                // The core library (if any) on fd 5 the same way.
                let ctl = libc::fcntl(ctl_fd, libc::F_DUPFD, 10);
                let requests = libc::fcntl(requests_fd, libc::F_DUPFD, 10);
                let lib = if library_fd >= 0 {
                    libc::fcntl(library_fd, libc::F_DUPFD, 10)
                } else {
                    -1
                };
                if ctl < 0
                    || requests < 0
                    || (library_fd >= 0 && lib < 0)
                    || libc::dup2(ctl, 3) < 0
                    || libc::dup2(requests, 4) < 0
                    || (lib >= 0 && (libc::dup2(lib, 5) < 0 || libc::close(lib) < 0))
                    || libc::close(ctl) < 0
                    || libc::close(requests) < 0
                {
                    return Err(io::Error::last_os_error());
                }
                libc::syscall(
                    libc::SYS_close_range,
                    if lib >= 0 { 6 } else { 5 } as libc::c_uint,
                    libc::c_uint::MAX,
                    libc::CLOSE_RANGE_CLOEXEC as libc::c_uint,
                );
                // Last: the namespaces and the root are set up; the server and every test case
                // it forks keep the filter.
                if filter {
                    super::seccomp::install()?;
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| {
            if let Some(dir) = &scratch {
                let _ = std::fs::remove_dir_all(dir);
            }
            Error::Sandbox(format!(
                "cannot start the fork server {}: {e}",
                interp.path.display()
            ))
        })?;
        drop((server_end, requests_server, library));
        // The source, then EOF. Should the server die first and the write fail, the server's
        // handshake fails too (it is then dropped, which kills it).
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all([code.source, SERVER].concat().as_bytes());
        }
        Ok(ForkServer {
            child,
            ctl: host_end,
            requests: requests_host,
            cases: 0,
            scratch,
            slot,
            interpreter: interp.path.clone(),
            code,
            healthy: true,
        })
    }

    /// Runs the code's probe to prove the server works inside its sandbox.
    fn handshake(&mut self) -> crate::Result<()> {
        let limits = Limits {
            wall: START_TIMEOUT,
            cpu_seconds: START_TIMEOUT.as_secs(),
            ..Limits::default()
        };
        let request = (self.code.probe)();
        let outcome = self.run(&Case {
            request: &request,
            stdin: Some(b""),
            limits: &limits,
            stop: None,
        })?;
        if outcome.termination == Termination::Exited(0) && outcome.stdout == self.code.probe_stdout
        {
            Ok(())
        } else {
            Err(Error::Sandbox(format!(
                "the fork server failed its first run ({:?}): {}",
                outcome.termination,
                String::from_utf8_lossy(&outcome.stderr).trim()
            )))
        }
    }

    /// Runs one case. Errors mean the server failed; it is then discarded (not returned to the
    /// pool). Once the case's stop flag is set the server is told to kill the case and, after it
    /// replied that every process of the case is gone, `Error::Stopped` is returned (the server
    /// stays in the pool).
    pub fn run(&mut self, case: &Case<'_>) -> crate::Result<Outcome> {
        if let Some(stop) = case.stop {
            stop.check()?;
        }
        let result = self.run_inner(case);
        if result.is_err() && !matches!(result, Err(Error::Stopped)) {
            self.healthy = false;
        }
        result
    }

    fn run_inner(&mut self, case: &Case<'_>) -> crate::Result<Outcome> {
        let Case {
            request,
            stdin,
            limits,
            stop,
        } = *case;
        let input = stdin.unwrap_or_default();
        // Our ends are non-blocking, the child's ends blocking.
        let (stdin_r, stdin_w) = pipe_for_child(true)?;
        let (out_r, out_w) = pipe_for_child(false)?;
        let (err_r, err_w) = pipe_for_child(false)?;
        let (res_r, res_w) = pipe_for_child(false)?;
        let start = Instant::now();
        let head = header(limits, stdin.is_none());
        let mut message = Vec::with_capacity(8 + head.len() + request.len());
        message.extend_from_slice(&((head.len() + request.len()) as u64).to_le_bytes());
        message.extend_from_slice(&head);
        message.extend_from_slice(request);
        let fds = [&stdin_r, &out_w, &err_w, &res_w].map(|fd| fd.as_raw_fd());
        let sent = send_with_fds(&self.requests, &message, &fds)
            .map_err(|e| Error::Sandbox(format!("cannot reach the fork server: {e}")))?;
        drop((stdin_r, out_w, err_w, res_w));
        (&self.requests)
            .write_all(&message[sent..])
            .map_err(|e| Error::Sandbox(format!("cannot reach the fork server: {e}")))?;
        let mut pipes = Pipes::new(
            Some(stdin_w),
            input,
            [
                Reader::new(Some(out_r), limits.stdout_bytes, Stream::Stdout),
                Reader::new(Some(err_r), limits.stderr_bytes, Stream::Stderr),
                Reader::new(Some(res_r), limits.result_bytes, Stream::Result),
            ],
        );
        let deadline = start + limits.wall;
        let mut ours: Option<Termination> = None;
        let mut kill_sent: Option<Instant> = None;
        let mut reply: Vec<u8> = Vec::new();
        let mut replied_at: Option<Instant> = None;
        let mut stopped = false;
        loop {
            let now = Instant::now();
            if !stopped && replied_at.is_none() && super::stopped(stop) {
                stopped = true;
                self.send_kill(&mut kill_sent)?;
            }
            if stopped && replied_at.is_some() {
                break;
            }
            if let Some(t) = replied_at {
                if pipes.drained() || now >= t + EXIT_GRACE {
                    break;
                }
            } else if let Some(t) = kill_sent {
                if now >= t + KILL_GRACE {
                    return Err(Error::Sandbox(
                        "the fork server did not end a case in time".into(),
                    ));
                }
            } else if now >= deadline {
                ours = Some(Termination::WallTimeout);
                self.send_kill(&mut kill_sent)?;
                continue;
            }
            let until = match (replied_at, kill_sent) {
                (Some(t), _) => t + EXIT_GRACE,
                (None, Some(t)) => t + KILL_GRACE,
                (None, None) => deadline,
            };
            let done = if replied_at.is_none() {
                self.ctl.as_raw_fd()
            } else {
                -1
            };
            let wait = super::poll_slice(until.saturating_duration_since(now), stop);
            let (ready, overflow) = pipes.poll(done, wait)?;
            if let Some(stream) = overflow {
                ours = ours.or(Some(Termination::OutputLimit(stream)));
                if replied_at.is_none() {
                    self.send_kill(&mut kill_sent)?;
                }
            }
            if ready {
                let mut buf = [0u8; 256];
                let n = (&self.ctl)
                    .read(&mut buf)
                    .map_err(|e| Error::Sandbox(format!("fork server: {e}")))?;
                if n == 0 {
                    return Err(Error::Sandbox("the fork server exited".into()));
                }
                reply.extend_from_slice(&buf[..n]);
                if reply.ends_with(b"\n") {
                    replied_at = Some(Instant::now());
                    pipes.close_stdin();
                }
            }
        }
        let wall = start.elapsed();
        let text = String::from_utf8_lossy(&reply);
        let nums: Vec<libc::c_long> = text
            .split_whitespace()
            .filter_map(|t| t.parse().ok())
            .collect();
        let [status, utime, stime, maxrss] = nums[..] else {
            return Err(Error::Sandbox(format!(
                "malformed fork-server reply {text:?}"
            )));
        };
        self.cases += 1;
        if stopped {
            return Err(Error::Stopped);
        }
        let cpu = Duration::from_micros(utime.max(0) as u64 + stime.max(0) as u64);
        Ok(pipes.outcome(ours, status as libc::c_int, wall, cpu, maxrss, limits))
    }

    fn send_kill(&mut self, kill_sent: &mut Option<Instant>) -> crate::Result<()> {
        if kill_sent.is_none() {
            *kill_sent = Some(Instant::now());
            // With the case's number: an order that crosses the reply is recognised as late.
            let mut order = *b"k\0\0\0\0\0\0\0\0";
            order[1..].copy_from_slice(&self.cases.to_le_bytes());
            (&self.ctl)
                .write_all(&order)
                .map_err(|e| Error::Sandbox(format!("cannot reach the fork server: {e}")))?;
        }
        Ok(())
    }
}

/// Whether every user may read `dir` (and traverse its ancestors).
fn world_readable(dir: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.permissions().mode());
    mode(dir) & 0o005 == 0o005 && dir.ancestors().skip(1).all(|a| mode(a) & 0o001 != 0)
}

/// The header before the caller's request (see `server.py`): whether the case's stdin is
/// `/dev/null`, then its limits (-1 = unlimited), as seven little-endian `i64`.
fn header(limits: &Limits, null_stdin: bool) -> Vec<u8> {
    let value = |v: u64| {
        if v == 0 {
            -1
        } else {
            i64::try_from(v).unwrap_or(i64::MAX)
        }
    };
    [
        i64::from(null_stdin),
        value(limits.cpu_seconds),
        value(limits.address_space_bytes),
        value(limits.file_size_bytes),
        value(limits.open_files),
        value(limits.processes),
        value(limits.stack_bytes),
    ]
    .iter()
    .flat_map(|v| v.to_le_bytes())
    .collect()
}

/// Sends `data` with `fds` attached (`SCM_RIGHTS`) in one `sendmsg`; returns how many bytes
/// went (at least one, the one the descriptors travel with).
fn send_with_fds(sock: &UnixStream, data: &[u8], fds: &[RawFd]) -> io::Result<usize> {
    let fd_bytes = std::mem::size_of_val(fds);
    // SAFETY: CMSG_SPACE is a pure computation.
    let space = unsafe { libc::CMSG_SPACE(fd_bytes as u32) } as usize;
    let mut control = vec![0u8; space];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: `control` is large enough for one header with `fds` (CMSG_SPACE); the pointers
    // stay valid for the sendmsg call.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(fd_bytes as u32) as _;
        std::ptr::copy_nonoverlapping(fds.as_ptr().cast::<u8>(), libc::CMSG_DATA(cmsg), fd_bytes);
        loop {
            let n = libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL);
            if n > 0 {
                return Ok(n as usize);
            }
            let err = io::Error::last_os_error();
            if n < 0 && err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::WriteZero, "short send"));
            }
            return Err(err);
        }
    }
}
