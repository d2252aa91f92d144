//! The fork server's side of each case, in native code (`server.py` calls it through ctypes).
//!
//! Once a case's process is forked it shares every page of the server, copy on write: each page
//! the server's Python touched while the case lived was copied, and once the case is gone each
//! touched page still took a fault. From the fork to the next fork the server now runs this
//! function instead: it waits for the case to end or for a kill order, kills and reaps the
//! case's processes, answers the supervisor and, in the common case, finds the scratch space
//! untouched and makes the next working directory, all on its own stack, with no allocation.
//! What is rare (emptying scratch space, the shared-scratch mode) goes back to Python.
//!
//! Before each fork, [`sfstream_server_case_receive`] takes the case's pipes and header from the
//! request socket (the server's Python then reads the caller's request and prepares the case:
//! decoded and compiled once, in the server, rather than in a process where every page it
//! writes is copied); in the case's process [`sfstream_server_case_setup`] puts the pipes and
//! limits in place, so that the process's Python runs only the case itself.
//!
//! The shared state is an array of 32 signed 64-bit integers ([`State`]).

use std::ffi::CStr;

use libc::{c_char, c_int};

/// Indices into the state array shared with `server.py`.
struct State;

impl State {
    const CTL: usize = 0;
    const REQUESTS: usize = 1;
    const PID: usize = 2;
    const REPLIES: usize = 3;
    const PID_NS: usize = 4;
    const UID: usize = 5;
    const GID: usize = 6;
    const PRIVATE: usize = 7;
    /// Free inodes and blocks of the empty `/tmp` scratch mount, then of `/dev/shm`.
    const EMPTY: usize = 8;
    /// Out: wait status, user and system CPU in microseconds, peak RSS in KiB.
    const STATUS: usize = 12;
    /// A descriptor of /dev/null, for a case whose stdin is not its pipe.
    const NULL_FD: usize = 16;
    /// The case's stdin, stdout, stderr and result pipe ends as received (-1 once closed).
    const FDS: usize = 20;
    /// The case's header: 1 if stdin is /dev/null, then the limits cpu, as, fsize, nofile,
    /// nproc and stack (-1 = unlimited).
    const HEAD: usize = 24;
    const LEN: usize = 32;
}

/// Replied, and the next working directory is in place.
const READY: c_int = 0;
/// Replied; the case left files behind: Python empties the scratch space.
const DIRTY: c_int = 1;
/// Shared scratch mode: Python cleans, then replies with the status in the state.
const SHARED: c_int = 2;
/// The supervisor closed the control socket: the server ends.
const GONE: c_int = 3;
/// A system call failed (errno is set).
const FAILED: c_int = -1;

fn retry<T: PartialEq + From<i8>>(mut call: impl FnMut() -> T) -> T {
    loop {
        let r = call();
        if r != T::from(-1) || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return r;
        }
    }
}

/// Reads exactly `buf.len()` bytes; false on EOF or error.
fn read_exact(fd: c_int, buf: &mut [u8]) -> bool {
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: the range is inside `buf`.
        let n =
            retry(|| unsafe { libc::read(fd, buf[got..].as_mut_ptr().cast(), buf.len() - got) });
        if n <= 0 {
            return false;
        }
        got += n as usize;
    }
    true
}

fn write_all(fd: c_int, mut buf: &[u8]) -> bool {
    while !buf.is_empty() {
        // SAFETY: the range is inside `buf`.
        let n = retry(|| unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) });
        if n <= 0 {
            return false;
        }
        buf = &buf[n as usize..];
    }
    true
}

enum Ending {
    /// The case's process exited, or a kill order about this case came.
    Over,
    /// The supervisor closed the control socket.
    Gone,
}

/// Waits for the case's process to exit or for a kill order about this case (an order about
/// a case already answered crossed the reply and is ignored).
fn wait_for_end(ctl: c_int, pid: libc::pid_t, case: u64) -> Option<Ending> {
    // SAFETY: plain system call.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as c_int;
    if pidfd < 0 {
        return None;
    }
    let ending = loop {
        let mut fds = [
            libc::pollfd {
                fd: ctl,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: pidfd,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: `fds` is a valid array of two pollfd.
        if retry(|| unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) }) < 0 {
            break None;
        }
        if fds[1].revents != 0 {
            break Some(Ending::Over);
        }
        let mut order = [0u8; 9];
        if !read_exact(ctl, &mut order) {
            break Some(Ending::Gone);
        }
        let mut number = [0u8; 8];
        number.copy_from_slice(&order[1..]);
        if u64::from_le_bytes(number) == case {
            break Some(Ending::Over);
        }
    };
    // SAFETY: our own descriptor.
    unsafe { libc::close(pidfd) };
    ending
}

/// Kills every process of the case: as pid 1 of the PID namespace, all others; else the case's
/// process group and, with a uid of its own, every process of that uid (setsid daemons too).
fn kill_everything(pid: libc::pid_t, pid_ns: bool, uid: libc::uid_t, gid: libc::gid_t) {
    // SAFETY: plain system calls; the helper child only makes system calls and exits.
    unsafe {
        if pid_ns {
            libc::kill(-1, libc::SIGKILL);
            return;
        }
        libc::kill(-pid, libc::SIGKILL);
        if uid != 0 {
            let helper = libc::fork();
            if helper == 0 {
                if libc::setgroups(0, std::ptr::null()) == 0
                    && libc::setresgid(gid, gid, gid) == 0
                    && libc::setresuid(uid, uid, uid) == 0
                {
                    libc::kill(-1, libc::SIGKILL);
                }
                libc::_exit(0);
            }
            if helper > 0 {
                let mut status = 0;
                retry(|| libc::waitpid(helper, &mut status, 0));
            }
        }
    }
}

/// Reaps every reparented orphan of the case (we are init or a child subreaper). Without a PID
/// namespace or a uid of its own some may survive: do not wait for those.
fn reap_all(block: bool) {
    let flags = if block { 0 } else { libc::WNOHANG };
    loop {
        let mut status = 0;
        // SAFETY: plain system call.
        let pid = retry(|| unsafe { libc::waitpid(-1, &mut status, flags) });
        if pid <= 0 {
            return;
        }
    }
}

/// Free inodes and blocks of the file system holding `path`.
fn free_space(path: &CStr) -> Option<(i64, i64)> {
    // SAFETY: `st` is written by statvfs before it is read.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(path.as_ptr(), &mut st) != 0 {
            return None;
        }
        Some((st.f_ffree as i64, st.f_bfree as i64))
    }
}

/// "status utime_us stime_us maxrss_kb\n" without allocating.
fn reply_line(values: &[i64], out: &mut [u8; 96]) -> usize {
    let mut len = 0;
    for (i, &value) in values.iter().enumerate() {
        let mut digits = [0u8; 20];
        let mut n = value.unsigned_abs();
        let mut k = digits.len();
        loop {
            k -= 1;
            digits[k] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if value < 0 {
            out[len] = b'-';
            len += 1;
        }
        out[len..len + digits.len() - k].copy_from_slice(&digits[k..]);
        len += digits.len() - k;
        out[len] = if i + 1 == values.len() { b'\n' } else { b' ' };
        len += 1;
    }
    len
}

/// The server's side of the case whose process is `state[PID]`, from its fork to the next
/// (see the module documentation). Returns [`READY`], [`DIRTY`], [`SHARED`], [`GONE`] or
/// [`FAILED`].
///
/// # Safety
///
/// `state` must point to 32 writable `i64` laid out as [`State`] says, and `workdir` and
/// `scratch` to NUL-terminated paths. Only the fork server calls it, single-threaded.
#[no_mangle]
pub unsafe extern "C" fn sfstream_server_case_over(
    state: *mut i64,
    workdir: *const c_char,
    scratch: *const c_char,
) -> c_int {
    // SAFETY: the caller guarantees the array and the strings.
    let (state, workdir, scratch) = unsafe {
        (
            std::slice::from_raw_parts_mut(state, State::LEN),
            CStr::from_ptr(workdir),
            CStr::from_ptr(scratch),
        )
    };
    close_case_fds(state);
    let ctl = state[State::CTL] as c_int;
    let pid = state[State::PID] as libc::pid_t;
    let pid_ns = state[State::PID_NS] != 0;
    let uid = state[State::UID] as libc::uid_t;
    let Some(ending) = wait_for_end(ctl, pid, state[State::REPLIES] as u64) else {
        return FAILED;
    };
    kill_everything(pid, pid_ns, uid, state[State::GID] as libc::gid_t);
    if matches!(ending, Ending::Gone) {
        return GONE;
    }
    let mut status = 0;
    // SAFETY: `usage` is written by wait4 before it is read.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: plain system call with valid out pointers.
    if retry(|| unsafe { libc::wait4(pid, &mut status, 0, &mut usage) }) < 0 {
        return FAILED;
    }
    reap_all(pid_ns || uid != 0);
    let micros = |t: libc::timeval| t.tv_sec * 1_000_000 + t.tv_usec;
    state[State::STATUS] = i64::from(status);
    state[State::STATUS + 1] = micros(usage.ru_utime);
    state[State::STATUS + 2] = micros(usage.ru_stime);
    state[State::STATUS + 3] = usage.ru_maxrss;
    if state[State::PRIVATE] == 0 {
        // The shared scratch directories are the host's: Python cleans them before the reply.
        return SHARED;
    }
    // Every process of the case is gone: the verdict can go, and the private scratch space
    // is emptied while the supervisor judges.
    let mut line = [0u8; 96];
    let len = reply_line(&state[State::STATUS..State::STATUS + 4], &mut line);
    if !write_all(ctl, &line[..len]) {
        return FAILED;
    }
    state[State::REPLIES] += 1;
    // The common case, checked without listing anything: the working directory is empty
    // (rmdir succeeds) and both private tmpfs mounts have exactly the free inodes and blocks
    // they had when empty. The case can create entries only inside the working directory (/tmp
    // itself belongs to root) and in /dev/shm, and every entry, xattr or data block takes
    // inodes or blocks there.
    let empty = |at: usize| Some((state[at], state[at + 1]));
    // SAFETY: plain system calls on NUL-terminated paths.
    let clean = unsafe { libc::rmdir(workdir.as_ptr()) } == 0
        && free_space(scratch) == empty(State::EMPTY)
        && free_space(c"/dev/shm") == empty(State::EMPTY + 2);
    if !clean {
        return DIRTY;
    }
    // SAFETY: plain system calls on a NUL-terminated path.
    unsafe {
        if libc::mkdir(workdir.as_ptr(), 0o700) != 0 {
            return FAILED;
        }
        if uid != 0 && libc::chown(workdir.as_ptr(), uid, state[State::GID] as libc::gid_t) != 0 {
            return FAILED;
        }
    }
    READY
}

/// The server's copies of the case's pipe ends, once its process has its own.
fn close_case_fds(state: &mut [i64]) {
    for slot in &mut state[State::FDS..State::FDS + 4] {
        if *slot >= 0 {
            // SAFETY: a descriptor the server received for this case and owns.
            unsafe { libc::close(*slot as c_int) };
            *slot = -1;
        }
    }
}

/// In the server, before the case's process is forked: receives the case's pipes and header
/// from the request socket into the state. Returns how many bytes of the caller's request
/// follow on the request socket, or -1 when the supervisor is gone or the request did not come
/// whole (the server should then end).
///
/// The request (see `server.py`): 8-byte little-endian length and the four descriptors, then
/// the header (seven 8-byte little-endian signed integers) and the caller's request.
///
/// # Safety
///
/// As [`sfstream_server_case_over`].
#[no_mangle]
pub unsafe extern "C" fn sfstream_server_case_receive(state: *mut i64) -> i64 {
    // SAFETY: the caller guarantees the array.
    let state = unsafe { std::slice::from_raw_parts_mut(state, State::LEN) };
    let requests = state[State::REQUESTS] as c_int;
    let Some((length, fds)) = receive_fds(requests) else {
        return -1;
    };
    for (slot, fd) in state[State::FDS..State::FDS + 4].iter_mut().zip(fds) {
        *slot = i64::from(fd);
    }
    let mut raw = [0u8; 56];
    if length < raw.len() as u64 || !read_exact(requests, &mut raw) {
        return -1;
    }
    for (value, bytes) in state[State::HEAD..State::HEAD + 7]
        .iter_mut()
        .zip(raw.chunks_exact(8))
    {
        let mut b = [0u8; 8];
        b.copy_from_slice(bytes);
        *value = i64::from_le_bytes(b);
    }
    (length - 56) as i64
}

/// In a case's process just forked: puts the case's pipes and limits in place (standard
/// streams and the result pipe on 0..3, every other descriptor closed, own session, working
/// directory `workdir`, resource limits, the sandbox uid, not dumpable). Returns 0, or -1 when
/// something could not be set up (the process should then exit).
///
/// # Safety
///
/// As [`sfstream_server_case_over`], in the fork server's child, after
/// [`sfstream_server_case_receive`] filled the state.
#[no_mangle]
pub unsafe extern "C" fn sfstream_server_case_setup(
    state: *const i64,
    workdir: *const c_char,
) -> c_int {
    // SAFETY: the caller guarantees the array and the string.
    let (state, workdir) = unsafe {
        (
            std::slice::from_raw_parts(state, State::LEN),
            CStr::from_ptr(workdir),
        )
    };
    let head = &state[State::HEAD..State::HEAD + 7];
    let uid = state[State::UID] as libc::uid_t;
    let gid = state[State::GID] as libc::gid_t;
    // SAFETY: plain system calls on descriptors this process owns.
    unsafe {
        // The control socket first: it may sit on a number that a pipe end takes below.
        libc::close(state[State::CTL] as c_int);
        let fds = &state[State::FDS..State::FDS + 4];
        if uid != 0 {
            // The pipes belong to the supervisor's uid: hand the standard streams to the
            // sandbox uid so that the case can reopen them (open("/dev/stdin"),
            // /proc/self/fd/1) as anywhere.
            for &fd in &fds[..3] {
                let mut st: libc::stat = std::mem::zeroed();
                if libc::fstat(fd as c_int, &mut st) == 0
                    && st.st_mode & libc::S_IFMT == libc::S_IFIFO
                {
                    libc::fchown(fd as c_int, uid, gid);
                }
            }
        }
        for (target, &fd) in fds.iter().enumerate() {
            if libc::dup2(fd as c_int, target as c_int) < 0 {
                return -1;
            }
        }
        if head[0] != 0 && libc::dup2(state[State::NULL_FD] as c_int, 0) < 0 {
            return -1;
        }
        // Everything but the standard streams and the result pipe.
        libc::syscall(
            libc::SYS_close_range,
            4 as libc::c_uint,
            libc::c_uint::MAX,
            0,
        );
        libc::fcntl(3, libc::F_SETFD, libc::FD_CLOEXEC);
        libc::setsid();
        if libc::chdir(workdir.as_ptr()) != 0 {
            return -1;
        }
        let limits = [
            (
                libc::RLIMIT_CPU,
                head[1],
                if head[1] >= 0 { head[1] + 1 } else { -1 },
            ),
            (libc::RLIMIT_AS, head[2], head[2]),
            (libc::RLIMIT_FSIZE, head[3], head[3]),
            (libc::RLIMIT_NOFILE, head[4], head[4]),
            (libc::RLIMIT_NPROC, head[5], head[5]),
            (libc::RLIMIT_CORE, 0, 0),
            (libc::RLIMIT_STACK, head[6], head[6]),
        ];
        for (resource, soft, hard) in limits {
            // Within the server's own hard limit; -1 keeps it.
            let mut current: libc::rlimit = std::mem::zeroed();
            if libc::getrlimit(resource, &mut current) != 0 {
                return -1;
            }
            let cap = current.rlim_max;
            let mut hard = hard as libc::rlim_t;
            if hard == libc::RLIM_INFINITY || (cap != libc::RLIM_INFINITY && hard > cap) {
                hard = cap;
            }
            let mut soft = soft as libc::rlim_t;
            if soft == libc::RLIM_INFINITY || (hard != libc::RLIM_INFINITY && soft > hard) {
                soft = hard;
            }
            let wanted = libc::rlimit {
                rlim_cur: soft,
                rlim_max: hard,
            };
            if libc::setrlimit(resource, &wanted) != 0 {
                return -1;
            }
        }
        if uid != 0
            && (libc::setgroups(0, std::ptr::null()) != 0
                || libc::setresgid(gid, gid, gid) != 0
                || libc::setresuid(uid, uid, uid) != 0)
        {
            return -1;
        }
        // After the uid change (which resets it): no core dumps, no ptrace, /proc/<pid> stays
        // root's.
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
    0
}

/// One message of the request socket: the 8-byte length and exactly four descriptors (any
/// more are closed).
fn receive_fds(fd: c_int) -> Option<(u64, [c_int; 4])> {
    let mut data = [0u8; 8];
    let mut fds = [-1; 4];
    let mut control = [0u64; 8]; // room for a cmsghdr with 4 descriptors
    let mut count = 0;
    // SAFETY: every buffer outlives the call using it; the control messages are read within
    // the length the kernel wrote.
    let n = unsafe {
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: data.len(),
        };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        let n = retry(|| libc::recvmsg(fd, &mut msg, libc::MSG_CMSG_CLOEXEC));
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let got = ((*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / 4;
                let received = libc::CMSG_DATA(cmsg).cast::<c_int>();
                for i in 0..got {
                    let fd = received.add(i).read_unaligned();
                    match fds.get_mut(count) {
                        Some(slot) => *slot = fd,
                        None => {
                            libc::close(fd);
                        }
                    }
                    count += 1;
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        n
    };
    (n == 8 && count == 4).then(|| (u64::from_le_bytes(data), fds))
}

#[cfg(test)]
mod tests {
    use super::reply_line;

    #[test]
    fn reply_line_formats_like_python() {
        let mut out = [0u8; 96];
        let len = reply_line(&[9, 0, 1234567, -5], &mut out);
        assert_eq!(&out[..len], b"9 0 1234567 -5\n");
        let len = reply_line(&[i64::MAX, 1, 2, 3], &mut out);
        assert_eq!(&out[..len], format!("{} 1 2 3\n", i64::MAX).as_bytes());
    }
}
