//! Namespaces and a minimal root file system for the fork server.
//!
//! What the kernel allows is probed once per process ([`capabilities`]) in a throw-away child.
//! The fork server is then started inside every namespace that works:
//!
//! * **PID**: the server is pid 1 of its own namespace, so it can kill every process of a test
//!   case with `kill(-1)` (a `setsid` double-fork daemon included) and the whole tree dies with
//!   it; the host's processes are invisible.
//! * **network**: no interface but a loopback of its own, brought up, so a program can serve
//!   and connect on 127.0.0.1 (a local server, multiprocessing managers) while the host's
//!   network, its loopback included, stays unreachable.
//! * **mount**: a private root (a small tmpfs) with read-only binds of the system directories
//!   and of the interpreter's own directories, a fresh `/proc`, a size-capped tmpfs on `/tmp`
//!   and on `/dev/shm` (emptied after every case) and only the harmless device nodes.
//! * **IPC** and **UTS**: System V IPC and the host name are private.
//!
//! Started as root, test cases then drop to an unprivileged uid of their own per server, so
//! `RLIMIT_NPROC` applies and nothing of the host that is not world-readable can be read.
//! Started by a user, the namespaces are created inside a new **user** namespace that maps
//! only that user's uid and gid; the capabilities it grants serve to build the root and are
//! gone at the server's `exec` (its uid in there is not 0). Process counts are then kept per
//! user namespace, so `RLIMIT_NPROC` still bounds a case.

use std::ffi::{CStr, CString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The protections the sandbox can use on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// A PID namespace per fork server (whole-tree kill, host processes invisible).
    pub pid_namespace: bool,
    /// A network namespace per fork server (no network).
    pub network_namespace: bool,
    /// A mount namespace with a private minimal root, `/tmp`, `/dev/shm` and `/proc`.
    pub mount_namespace: bool,
    /// Private System V IPC.
    pub ipc_namespace: bool,
    /// Private host name.
    pub uts_namespace: bool,
    /// Test cases run under an unprivileged uid/gid (needs root).
    pub uid_drop: bool,
    /// Without root: the namespaces are created inside a new user namespace, where the
    /// caller's uid is the only one mapped and no capability survives the server's `exec`.
    pub user_namespace: bool,
    /// A seccomp filter refuses system calls test programs have no use for (see `seccomp`).
    pub seccomp: bool,
}

impl Capabilities {
    /// Everything the sandbox would like to have.
    pub fn all(&self) -> bool {
        self.pid_namespace
            && self.network_namespace
            && self.mount_namespace
            && self.ipc_namespace
            && self.uts_namespace
            && (self.uid_drop || self.user_namespace)
            && self.seccomp
    }

    /// `(name, active)` pairs, in a fixed order.
    pub fn items(&self) -> [(&'static str, bool); 8] {
        [
            ("pid_namespace", self.pid_namespace),
            ("network_namespace", self.network_namespace),
            ("mount_namespace", self.mount_namespace),
            ("ipc_namespace", self.ipc_namespace),
            ("uts_namespace", self.uts_namespace),
            ("uid_drop", self.uid_drop),
            ("user_namespace", self.user_namespace),
            ("seccomp", self.seccomp),
        ]
    }

    /// One line saying what the kernel refused and what protection remains.
    pub fn describe_missing(&self) -> Option<String> {
        if self.all() {
            return None;
        }
        // Root drops the uid; without root a user namespace takes its place.
        let alternative = if self.uid_drop {
            "user_namespace"
        } else {
            "uid_drop"
        };
        let (on, off): (Vec<_>, Vec<_>) = self
            .items()
            .into_iter()
            .filter(|(n, _)| *n != alternative || !(self.uid_drop || self.user_namespace))
            .partition(|(_, a)| *a);
        let names =
            |v: Vec<(&'static str, bool)>| v.into_iter().map(|(n, _)| n).collect::<Vec<_>>();
        let mut remaining = names(on);
        remaining.extend([
            "rlimits",
            "wall timer",
            "output caps",
            "allow-listed environment",
        ]);
        let mut line = format!(
            "sfstream sandbox: unavailable here: {}; still active: {}",
            names(off).join(", "),
            remaining.join(", ")
        );
        if !self.pid_namespace {
            line.push_str(
                "; leftover processes are killed by process group and, with a uid drop, by uid",
            );
        }
        if !self.network_namespace {
            line.push_str("; programs can reach the network");
        }
        Some(line)
    }
}

const NAMESPACES: [(libc::c_int, u32); 5] = [
    (libc::CLONE_NEWPID, 1),
    (libc::CLONE_NEWNET, 2),
    (libc::CLONE_NEWIPC, 4),
    (libc::CLONE_NEWUTS, 8),
    (libc::CLONE_NEWNS, 16),
];
const MOUNT_WORKS: u32 = 32;
/// As root: dropping to a sandbox uid works. Otherwise: a user namespace could be entered (and
/// the namespaces above were tried inside it).
const UID_DROP_WORKS: u32 = 64;
/// Set by the probe child so that a child killed or failing otherwise is not misread.
const PROBE_OK: u32 = 128;

/// First uid/gid used for test cases; server number `n` uses `SANDBOX_ID_BASE + n`, so
/// `RLIMIT_NPROC` and `kill(-1)` of one server never reach another's processes.
pub const SANDBOX_ID_BASE: u32 = 200_000;

/// The protections available, probed once per process; logged once if some are missing.
/// `SFSTREAM_SANDBOX_NAMESPACES=0` turns the namespaces off (to test the fallback).
pub fn capabilities() -> &'static Capabilities {
    static CAPS: OnceLock<Capabilities> = OnceLock::new();
    CAPS.get_or_init(|| {
        let caps = if std::env::var_os("SFSTREAM_SANDBOX_NAMESPACES").is_some_and(|v| v == "0") {
            Capabilities {
                pid_namespace: false,
                network_namespace: false,
                mount_namespace: false,
                ipc_namespace: false,
                uts_namespace: false,
                // SAFETY: plain syscall.
                uid_drop: unsafe { libc::geteuid() } == 0,
                user_namespace: false,
                seccomp: super::seccomp::probe(),
            }
        } else {
            probe()
        };
        if let Some(line) = caps.describe_missing() {
            eprintln!("{line}");
        }
        caps
    })
}

fn probe() -> Capabilities {
    // SAFETY: plain syscall.
    let root = unsafe { libc::geteuid() } == 0;
    let mask = probe_mask((!root).then(IdMaps::of_caller)).unwrap_or(0);
    let ok = mask & PROBE_OK != 0;
    let bit = |b: u32| ok && mask & b != 0;
    Capabilities {
        pid_namespace: bit(1),
        network_namespace: bit(2),
        ipc_namespace: bit(4),
        uts_namespace: bit(8),
        mount_namespace: bit(16) && bit(MOUNT_WORKS),
        uid_drop: root && bit(UID_DROP_WORKS),
        user_namespace: !root && bit(UID_DROP_WORKS),
        seccomp: super::seccomp::probe(),
    }
}

/// What a process writes to map the caller's uid and gid into a user namespace it created: the
/// only mapping an unprivileged process may write for itself (with setgroups denied first).
struct IdMaps {
    uid_map: CString,
    gid_map: CString,
}

impl IdMaps {
    fn of_caller() -> IdMaps {
        // SAFETY: plain syscalls.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        IdMaps {
            uid_map: CString::new(format!("{uid} {uid} 1\n")).unwrap_or_default(),
            gid_map: CString::new(format!("{gid} {gid} 1\n")).unwrap_or_default(),
        }
    }

    /// Enters a new user namespace (with the namespaces in `flags`) and maps the caller's ids.
    ///
    /// # Safety
    /// Raw syscalls only; for a freshly forked child.
    unsafe fn enter(&self, flags: libc::c_int) -> libc::c_int {
        if libc::unshare(libc::CLONE_NEWUSER | flags) != 0 {
            return -1;
        }
        let write = |path: &CStr, data: &CStr| -> bool {
            let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return false;
            }
            let bytes = data.to_bytes();
            let n = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
            libc::close(fd);
            n == bytes.len() as isize
        };
        if write(c"/proc/self/setgroups", c"deny")
            && write(c"/proc/self/uid_map", &self.uid_map)
            && write(c"/proc/self/gid_map", &self.gid_map)
        {
            0
        } else {
            -1
        }
    }
}

/// Tries each namespace, a tmpfs mount and a uid drop in a child that exits with a bit mask.
/// With `ids` (not root), first enters a user namespace that maps them.
fn probe_mask(ids: Option<IdMaps>) -> io::Result<u32> {
    let root = c"/";
    let tmp = c"/tmp";
    let tmpfs = c"tmpfs";
    let opts = c"size=64k";
    #[allow(clippy::disallowed_methods)] // the sandbox is the one place allowed to spawn
    let mut cmd = Command::new("/bin/true");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: the closure runs in the forked child and only issues syscalls on data prepared
    // before the fork; it ends with _exit and never returns to std.
    unsafe {
        cmd.pre_exec(move || {
            let mut mask = PROBE_OK;
            if let Some(ids) = &ids {
                if ids.enter(0) != 0 {
                    libc::_exit(mask as libc::c_int);
                }
                mask |= UID_DROP_WORKS;
            }
            for (flag, bit) in NAMESPACES {
                if libc::unshare(flag) == 0 {
                    mask |= bit;
                }
            }
            if mask & 16 != 0
                && libc::mount(
                    std::ptr::null(),
                    root.as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) == 0
                && libc::mount(
                    tmpfs.as_ptr(),
                    tmp.as_ptr(),
                    tmpfs.as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV,
                    opts.as_ptr().cast(),
                ) == 0
            {
                mask |= MOUNT_WORKS;
            }
            let id = SANDBOX_ID_BASE;
            if ids.is_none()
                && libc::geteuid() == 0
                && libc::setgroups(0, std::ptr::null()) == 0
                && libc::setresgid(id, id, id) == 0
                && libc::setresuid(id, id, id) == 0
            {
                mask |= UID_DROP_WORKS;
            }
            libc::_exit(mask as libc::c_int);
        });
    }
    let status = cmd.spawn()?.wait()?;
    Ok(status.code().unwrap_or(0) as u32)
}

/// One step of the root file-system setup, with every string prepared before the fork.
enum Op {
    Mount {
        src: Option<CString>,
        target: CString,
        fstype: Option<CString>,
        flags: libc::c_ulong,
        data: Option<CString>,
    },
    Mkdir(CString, libc::mode_t),
    Touch(CString),
    Symlink(CString, CString),
    PivotRoot(CString, CString),
    Chdir(CString),
    Umount(CString),
    Rmdir(CString),
}

/// The namespaces and root file system of one fork server, prepared in the parent so the child
/// only issues syscalls.
pub(super) struct Plan {
    unshare_flags: libc::c_int,
    /// Not root: the namespaces are created in a new user namespace mapping these ids.
    user_namespace: Option<IdMaps>,
    pid_namespace: bool,
    /// Bring up the loopback interface of the new network namespace.
    loopback: bool,
    ops: Vec<Op>,
}

fn cstr(p: impl AsRef<Path>) -> CString {
    CString::new(p.as_ref().as_os_str().as_bytes()).unwrap_or_default()
}

/// System directories bound read-only into the private root (symlinks are recreated).
const SYSTEM_DIRS: [&str; 9] = [
    "usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "opt",
];

impl Plan {
    /// The plan for `caps`, binding `extra_dirs` (the interpreter's prefixes) read-only.
    /// `tmp_mb` caps `/tmp` (the working directories) and `/dev/shm` each.
    pub(super) fn new(caps: &Capabilities, extra_dirs: &[PathBuf], tmp_mb: u64) -> Plan {
        let mut flags = 0;
        if caps.pid_namespace {
            flags |= libc::CLONE_NEWPID;
        }
        if caps.network_namespace {
            flags |= libc::CLONE_NEWNET;
        }
        if caps.ipc_namespace {
            flags |= libc::CLONE_NEWIPC;
        }
        if caps.uts_namespace {
            flags |= libc::CLONE_NEWUTS;
        }
        let mut ops = Vec::new();
        if caps.mount_namespace {
            flags |= libc::CLONE_NEWNS;
            ops = root_ops(caps, extra_dirs, tmp_mb);
        }
        Plan {
            unshare_flags: flags,
            user_namespace: caps.user_namespace.then(IdMaps::of_caller),
            pid_namespace: caps.pid_namespace,
            loopback: caps.network_namespace,
            ops,
        }
    }

    /// Runs in the forked child before `exec`: enters the namespaces (forking once more so the
    /// server is pid 1 of the new PID namespace; the intermediate process only waits and
    /// mirrors the server's exit) and builds the root file system.
    ///
    /// # Safety
    /// Must only be called in a freshly forked child; issues raw syscalls only.
    pub(super) unsafe fn enter(&self) -> io::Result<()> {
        let err = || Err(io::Error::last_os_error());
        if libc::setsid() < 0 {
            return err();
        }
        if let Some(ids) = &self.user_namespace {
            if ids.enter(self.unshare_flags) != 0 {
                return err();
            }
        } else if self.unshare_flags != 0 && libc::unshare(self.unshare_flags) != 0 {
            return err();
        }
        if self.loopback && loopback_up() != 0 {
            return err();
        }
        if self.pid_namespace {
            let pid = libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_long, 0, 0, 0, 0);
            if pid < 0 {
                return err();
            }
            if pid > 0 {
                intermediate(pid as libc::pid_t);
            }
            // The server dies with the intermediate process (which the host kills to stop it).
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            );
        }
        for op in &self.ops {
            if run_op(op) != 0 {
                return err();
            }
        }
        Ok(())
    }
}

/// Sets the `lo` interface of the current network namespace up (a new namespace has it down).
///
/// # Safety
/// Raw syscalls only; for a freshly forked child.
unsafe fn loopback_up() -> libc::c_int {
    let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
    if fd < 0 {
        return -1;
    }
    let mut req: libc::ifreq = std::mem::zeroed();
    req.ifr_name[0] = b'l' as libc::c_char;
    req.ifr_name[1] = b'o' as libc::c_char;
    let mut r = libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req);
    if r == 0 {
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        r = libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &req);
    }
    libc::close(fd);
    r
}

/// The process between the host and the PID namespace's init: holds no descriptor, waits for
/// the server and exits with its status.
unsafe fn intermediate(pid: libc::pid_t) -> ! {
    libc::syscall(
        libc::SYS_close_range,
        0 as libc::c_uint,
        libc::c_uint::MAX,
        0,
    );
    loop {
        let mut status = 0;
        let r = libc::waitpid(pid, &mut status, 0);
        if r == pid {
            if libc::WIFEXITED(status) {
                libc::_exit(libc::WEXITSTATUS(status));
            }
            libc::_exit(128 + libc::WTERMSIG(status));
        }
        if *libc::__errno_location() != libc::EINTR {
            libc::_exit(127);
        }
    }
}

unsafe fn run_op(op: &Op) -> libc::c_int {
    let ptr = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    match op {
        Op::Mount {
            src,
            target,
            fstype,
            flags,
            data,
        } => libc::mount(
            ptr(src),
            target.as_ptr(),
            ptr(fstype),
            *flags,
            ptr(data).cast(),
        ),
        Op::Mkdir(path, mode) => {
            if libc::mkdir(path.as_ptr(), *mode) == 0 || *libc::__errno_location() == libc::EEXIST {
                // mkdir applies the umask; set the mode exactly.
                libc::chmod(path.as_ptr(), *mode)
            } else {
                -1
            }
        }
        Op::Touch(path) => {
            let fd = libc::open(
                path.as_ptr(),
                libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                0o644,
            );
            if fd < 0 {
                -1
            } else {
                libc::close(fd)
            }
        }
        Op::Symlink(target, link) => libc::symlink(target.as_ptr(), link.as_ptr()),
        Op::PivotRoot(new, old) => {
            libc::syscall(libc::SYS_pivot_root, new.as_ptr(), old.as_ptr()) as libc::c_int
        }
        Op::Chdir(path) => libc::chdir(path.as_ptr()),
        Op::Umount(path) => libc::umount2(path.as_ptr(), libc::MNT_DETACH),
        Op::Rmdir(path) => libc::rmdir(path.as_ptr()),
    }
}

fn bind_ro(ops: &mut Vec<Op>, src: &Path, target: &Path) {
    ops.push(Op::Mount {
        src: Some(cstr(src)),
        target: cstr(target),
        fstype: None,
        flags: libc::MS_BIND | libc::MS_REC,
        data: None,
    });
    ops.push(Op::Mount {
        src: None,
        target: cstr(target),
        fstype: None,
        flags: libc::MS_REMOUNT
            | libc::MS_BIND
            | libc::MS_RDONLY
            | libc::MS_NOSUID
            | kept_mount_flags(src),
        data: None,
    });
}

/// The flags of the mount holding `path` that a remount must keep: inside a user namespace
/// the kernel refuses to clear nodev, noexec or the atime flags of a mount it inherited.
fn kept_mount_flags(path: &Path) -> libc::c_ulong {
    // SAFETY: statvfs is a plain C struct of integers, for which all-zero bytes are valid.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid C string and a valid out-pointer.
    if unsafe { libc::statvfs(cstr(path).as_ptr(), &mut st) } != 0 {
        return 0;
    }
    [
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ]
    .into_iter()
    .filter(|(st_flag, _)| st.f_flag & st_flag != 0)
    .fold(0, |acc, (_, ms_flag)| acc | ms_flag)
}

fn tmpfs(ops: &mut Vec<Op>, target: &Path, data: String) {
    ops.push(Op::Mount {
        src: Some(c"tmpfs".into()),
        target: cstr(target),
        fstype: Some(c"tmpfs".into()),
        flags: libc::MS_NOSUID | libc::MS_NODEV,
        data: Some(CString::new(data).unwrap_or_default()),
    });
}

/// Where the new root's tmpfs is mounted in the private mount namespace before it becomes `/`:
/// a directory that holds none of the directories bound into it, since mounting over an
/// ancestor would hide them (an interpreter installed under `/tmp` must stay reachable).
fn root_mount_point(extra_dirs: &[PathBuf]) -> PathBuf {
    let hidden = |candidate: &Path| {
        extra_dirs.iter().any(|d| {
            let canonical = std::fs::canonicalize(d).unwrap_or_else(|_| d.clone());
            d.starts_with(candidate) || canonical.starts_with(candidate)
        })
    };
    [
        "/tmp", "/mnt", "/media", "/srv", "/run", "/var/tmp", "/home",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|c| c.is_dir() && !hidden(c))
    .unwrap_or_else(|| PathBuf::from("/tmp"))
}

/// The private scratch file system of the sandbox (working directories; `TMPDIR`): `/tmp`,
/// unless the interpreter lives under `/tmp`, which a tmpfs there would hide; then a directory
/// of its own (and `/tmp` holds only the read-only interpreter).
pub(super) fn scratch_dir(extra_dirs: &[PathBuf]) -> &'static str {
    let under_tmp = extra_dirs.iter().any(|d| {
        let canonical = std::fs::canonicalize(d).unwrap_or_else(|_| d.clone());
        d.starts_with("/tmp") || canonical.starts_with("/tmp")
    });
    if under_tmp {
        "/sfstream-scratch"
    } else {
        "/tmp"
    }
}

fn root_ops(caps: &Capabilities, extra_dirs: &[PathBuf], tmp_mb: u64) -> Vec<Op> {
    // The new root is a tmpfs mounted in the private mount namespace, then made `/`.
    let new_root = root_mount_point(extra_dirs);
    let mut ops = vec![Op::Mount {
        src: None,
        target: c"/".into(),
        fstype: None,
        flags: libc::MS_REC | libc::MS_PRIVATE,
        data: None,
    }];
    tmpfs(
        &mut ops,
        &new_root,
        "size=1m,nr_inodes=4096,mode=755".into(),
    );
    let mut bound: Vec<PathBuf> = Vec::new();
    for name in SYSTEM_DIRS {
        let src = Path::new("/").join(name);
        let target = new_root.join(name);
        match std::fs::symlink_metadata(&src) {
            Ok(m) if m.file_type().is_symlink() => {
                if let Ok(dest) = std::fs::read_link(&src) {
                    ops.push(Op::Symlink(cstr(dest), cstr(&target)));
                }
            }
            Ok(m) if m.is_dir() => {
                ops.push(Op::Mkdir(cstr(&target), 0o755));
                bind_ro(&mut ops, &src, &target);
                bound.push(src);
            }
            _ => {}
        }
    }
    // The interpreter's directories (a venv, a pyenv build under a private home, ...).
    let mut extras: Vec<PathBuf> = extra_dirs
        .iter()
        .filter(|d| d.is_absolute() && d.is_dir())
        .cloned()
        .collect();
    extras.sort();
    extras.dedup();
    for dir in extras {
        // Resolved system paths are already there; nested extras come with their parent.
        let canonical = std::fs::canonicalize(&dir).unwrap_or(dir.clone());
        if bound
            .iter()
            .any(|b| dir.starts_with(b) || canonical.starts_with(b))
        {
            continue;
        }
        let mut path = new_root.clone();
        for comp in dir.components().skip(1) {
            path.push(comp);
            ops.push(Op::Mkdir(cstr(&path), 0o755));
        }
        bind_ro(&mut ops, &dir, &path);
        bound.push(dir);
    }
    let dev = new_root.join("dev");
    ops.push(Op::Mkdir(cstr(&dev), 0o755));
    for node in ["null", "zero", "full", "random", "urandom"] {
        let src = Path::new("/dev").join(node);
        // Only the host's character devices: a regular file in their place (a /dev/null
        // removed and recreated by a redirect) would be one file shared by every case.
        if is_char_device(&src) {
            let target = dev.join(node);
            ops.push(Op::Touch(cstr(&target)));
            ops.push(Op::Mount {
                src: Some(cstr(&src)),
                target: cstr(&target),
                fstype: None,
                flags: libc::MS_BIND,
                data: None,
            });
        }
    }
    for (name, dest) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        ops.push(Op::Symlink(cstr(dest), cstr(dev.join(name))));
    }
    let shm = dev.join("shm");
    ops.push(Op::Mkdir(cstr(&shm), 0o755));
    tmpfs(
        &mut ops,
        &shm,
        format!("size={tmp_mb}m,nr_inodes=1024,mode=1777"),
    );
    let tmp = new_root.join(scratch_dir(extra_dirs).trim_start_matches('/'));
    ops.push(Op::Mkdir(cstr(&tmp), 0o755));
    tmpfs(
        &mut ops,
        &tmp,
        format!("size={tmp_mb}m,nr_inodes=4096,mode=755"),
    );
    let proc_dir = new_root.join("proc");
    ops.push(Op::Mkdir(cstr(&proc_dir), 0o555));
    if caps.pid_namespace {
        ops.push(Op::Mount {
            src: Some(c"proc".into()),
            target: cstr(&proc_dir),
            fstype: Some(c"proc".into()),
            flags: libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            data: None,
        });
    } else {
        bind_ro(&mut ops, Path::new("/proc"), &proc_dir);
    }
    let old = new_root.join(".old");
    ops.push(Op::Mkdir(cstr(&old), 0o700));
    ops.push(Op::PivotRoot(cstr(&new_root), cstr(&old)));
    ops.push(Op::Chdir(c"/".into()));
    ops.push(Op::Umount(c"/.old".into()));
    ops.push(Op::Rmdir(c"/.old".into()));
    ops.push(Op::Mount {
        src: None,
        target: c"/".into(),
        fstype: None,
        flags: libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID,
        data: None,
    });
    ops
}

/// Whether `path` is a character device (not following a final symlink).
fn is_char_device(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_char_device())
}

#[cfg(test)]
mod tests {
    use super::is_char_device;
    use std::path::Path;

    #[test]
    fn only_character_devices_are_bound() {
        let file =
            std::env::temp_dir().join(format!("sfstream-not-a-device-{}", std::process::id()));
        std::fs::write(&file, b"").unwrap();
        assert!(!is_char_device(&file));
        std::fs::remove_file(&file).unwrap();
        assert!(!is_char_device(Path::new("/nonexistent/null")));
        assert!(is_char_device(Path::new("/dev/zero")));
    }
}
