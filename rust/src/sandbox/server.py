# The fork server: a warm interpreter that forks one child per case. It runs as the
# continuation of the caller's case code (see `ServerCode` in forkserver.rs), which it runs
# first and which defines prepare_case(request), run in the server before each fork (what can be
# done once there: each page a case's process writes is a copy), and serve_case(prepared): what
# the case's process then does.
#
# Started by the Rust supervisor as
# `python -s -S -P -c <boot> <ctl_fd> <uid> <gid> <pid_ns> private|shared [<scratch dir>]` with the
# source on stdin (<boot> compiles it in a forked child and runs the code object, see
# forkserver.rs; stdin is /dev/null from then on),
# already inside the sandbox's namespaces (pid 1 of its own PID namespace when available), with
# the control socket on <ctl_fd>, the request socket on <ctl_fd> + 1 and, when the supervisor
# is sfstream's core library, that library open on <ctl_fd> + 2. It runs one case at a time. With
# the library (its native part, server_loop.rs) the server reads each request itself, prepares
# the case, forks its process and, from that fork to the next, runs only native code, which
# touches none of the pages the case shares with it. Without it (the Rust tests' supervisor is
# not a library) the server forks each case's process before its request arrives, and that
# process reads the request and prepares the case itself:
#
#   request  = on the request socket: 8-byte little-endian length + 4
#              descriptors (SCM_RIGHTS: the case's stdin, stdout, stderr and result pipe ends),
#              then that many bytes: the header (seven 8-byte little-endian signed integers:
#              1 if the case's stdin is /dev/null instead of its pipe, then the limits cpu, as,
#              fsize, nofile, nproc and stack, -1 = unlimited) and the caller's request.
#   kill     = on the control socket: b"k" + the 8-byte number of the case (replies so far):
#              kill it now (an order for a case already answered is ignored). EOF on the
#              control socket (or, between cases, on the request socket) ends the server.
#   reply    = on the control socket, one line "status utime_us stime_us maxrss_kb\n" sent
#              after the child exited or was killed and every other process of the case was
#              killed and reaped. The case's working directory, /tmp and /dev/shm are emptied
#              before the next child is forked (in "shared" mode, where they are the host's,
#              before the reply).
#
# The child drops to the sandbox uid, sets its resource limits, enters a fresh working
# directory and hands the prepared case to serve_case. The supervisor owns the pipes, the wall clock
# and the output caps; this server only forks, waits and reports wait status and resource
# usage. Whatever is the same for every case (environment, standard streams, signal
# dispositions, no-new-privileges) is set up once here, so a child only does what is per case.
import _ctypes
import gc
import io
import os
import resource
import signal
import stat
import sys

# Every page the server holds is copied into each case's page tables and torn down again when
# the case exits, and every mapping too, so the server stays small: no shutil module (a tree
# the case left behind is removed by a forked child), and with the native part not even the C
# parts of socket and select (the sockets are read and written as plain descriptors).
CTL_FD = int(sys.argv[1])
REQUESTS_FD = CTL_FD + 1
CORE_FD = CTL_FD + 2
PID = 0  # the process of the current (or next) case
REPLIES = 0  # cases answered
UID = int(sys.argv[2])
GID = int(sys.argv[3])
PID_NS = sys.argv[4] == "1"


# Two C functions through the C part of ctypes alone (its Python part holds 250 KB more).
class CInt(_ctypes._SimpleCData):
    _type_ = "i"


class CFunction(_ctypes.CFuncPtr):
    _flags_ = _ctypes.FUNCFLAG_CDECL
    _restype_ = CInt


class CLongLong(_ctypes._SimpleCData):
    _type_ = "q"


class CFunction64(_ctypes.CFuncPtr):
    _flags_ = _ctypes.FUNCFLAG_CDECL
    _restype_ = CLongLong


class State(_ctypes.Array):
    # Shared with the native part, laid out as `State` in server_loop.rs.
    _type_ = CLongLong
    _length_ = 32


LIBC = _ctypes.dlopen(None)
PRCTL = CFunction(_ctypes.dlsym(LIBC, "prctl"))  # resolved once here, not in every child
MALLOC_TRIM = CFunction(_ctypes.dlsym(LIBC, "malloc_trim"))
try:
    CORE = _ctypes.dlopen("/proc/self/fd/%d" % CORE_FD)
    os.close(CORE_FD)
    CASE_OVER = CFunction(_ctypes.dlsym(CORE, "sfstream_server_case_over"))
    CASE_RECEIVE = CFunction64(_ctypes.dlsym(CORE, "sfstream_server_case_receive"))
    CASE_SETUP = CFunction(_ctypes.dlsym(CORE, "sfstream_server_case_setup"))
except OSError:
    CASE_OVER = None  # no core library (the Rust tests' supervisor): the Python loop below
READY, DIRTY, SHARED, GONE = 0, 1, 2, 3
PR_SET_NO_NEW_PRIVS = 38
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
# "private": argv[6] (normally /tmp) and /dev/shm are this server's own size-capped tmpfs
# mounts, emptied after every case. Otherwise argv[6] is a directory the supervisor created for
# this server; after a case the server removes it and whatever the sandbox uid left in the
# shared scratch directories.
PRIVATE = sys.argv[5] == "private"
SHARED_SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")
SCRATCH_CAP = 1 << 30
if PRIVATE:
    # Refuse to empty anything but our own small tmpfs mounts inside the private root: "/" must
    # be the tiny tmpfs the supervisor pivoted into, and the scratch dirs small mounts on it.
    SCRATCH = sys.argv[6]
    root = os.statvfs("/")
    if root.f_blocks * root.f_frsize > SCRATCH_CAP or os.path.exists("/.old"):
        sys.exit(3)
    for top in (SCRATCH, "/dev/shm"):
        st = os.statvfs(top)
        if not os.path.ismount(top) or st.f_blocks * st.f_frsize > SCRATCH_CAP:
            sys.exit(3)
    WORKDIR = os.path.join(SCRATCH, "work")
else:
    WORKDIR = os.path.join(sys.argv[6], "work")


def kill_everything(pid):
    if PID_NS:
        # pid 1 of the namespace: every other process in it belongs to the case.
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
    else:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if UID:
            # Without a PID namespace, a helper with the sandbox uid kills every process of
            # that uid (each server has its own uid), which catches setsid daemons too.
            helper = os.fork()
            if helper == 0:
                try:
                    os.setgroups([])
                    os.setresgid(GID, GID, GID)
                    os.setresuid(UID, UID, UID)
                    os.kill(-1, signal.SIGKILL)
                finally:
                    os._exit(0)
            os.waitpid(helper, 0)


def reap_all():
    # Reparented orphans of the case are our children (we are init, or a child subreaper):
    # reap every one. Without a PID namespace or uid drop some may survive; do not wait for them.
    while True:
        try:
            pid, _ = os.waitpid(-1, 0 if PID_NS or UID else os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def statvfs_free(top):
    st = os.statvfs(top)
    return st.f_ffree, st.f_bfree


def clean_scratch():
    # Empties what the case may have written and creates the next case's working directory.
    if not PRIVATE:
        remove(WORKDIR)
        if UID:
            for top in SHARED_SCRATCH:
                try:
                    entries = os.listdir(top)
                except OSError:
                    continue
                for name in entries:
                    path = os.path.join(top, name)
                    try:
                        if os.lstat(path).st_uid == UID:
                            remove(path)
                    except OSError:
                        pass
    elif not left_nothing():
        remover = os.fork()
        if remover == 0:
            try:
                for top in (SCRATCH, "/dev/shm"):
                    for name in os.listdir(top):
                        remove(os.path.join(top, name))
            finally:
                os._exit(0)
        os.waitpid(remover, 0)
    os.mkdir(WORKDIR, 0o700)
    if UID:
        os.chown(WORKDIR, UID, GID)


def left_nothing():
    # The common case, checked without listing anything: the working directory is empty (rmdir
    # succeeds) and both private tmpfs mounts have exactly the free inodes and blocks they had
    # when empty. The case can create entries only inside the working directory (/tmp itself
    # belongs to root) and in /dev/shm, and every entry, xattr or data block takes inodes or
    # blocks there.
    try:
        os.rmdir(WORKDIR)
    except OSError:
        return False
    return statvfs_free(SCRATCH) == EMPTY_TMP and statvfs_free("/dev/shm") == EMPTY_SHM


def remove(path):
    import shutil

    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
            if os.path.lexists(path):
                fix_and_remove(path)
        else:
            os.unlink(path)
    except OSError:
        pass


def fix_and_remove(path):
    for root, dirs, _ in os.walk(path):
        for d in dirs:
            try:
                os.chmod(os.path.join(root, d), 0o700)
            except OSError:
                pass
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def read_exact_fd(fd, n):
    data = os.read(fd, n)
    while len(data) < n:
        more = os.read(fd, n - len(data))
        if not more:
            raise EOFError
        data += more
    return data


def write_all_fd(fd, data):
    while data:
        data = data[os.write(fd, data) :]


def recv_exact(sock, n):
    buf = bytearray(n)
    view = memoryview(buf)
    while view:
        got = sock.recv_into(view)
        if not got:
            raise EOFError
        view = view[got:]
    return buf


def recv_fds(sock, size, most):
    # One message of at most `size` bytes and the descriptors sent with it (SCM_RIGHTS).
    data, ancillary, _, _ = sock.recvmsg(size, _socket.CMSG_LEN(4 * most))
    fds = []
    for level, kind, payload in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            for i in range(0, len(payload) - 3, 4):
                fds.append(int.from_bytes(payload[i : i + 4], sys.byteorder))
    return data, fds


def prefork():
    # The next case's process, forked as soon as the last case is over, while the supervisor
    # still judges it: the fork is off the next case's path. It reads its request (and the
    # case's pipes) from the request socket itself and prepares the case.
    pid = os.fork()
    if pid == 0:
        try:
            CTL.close()
            header, fds = recv_fds(REQUESTS, 8, 4)
            if len(header) == 8 and len(fds) == 4:
                req = recv_exact(REQUESTS, int.from_bytes(header, "little"))
                REQUESTS.close()
                child(req, fds)
        finally:
            os._exit(120)
    return pid


def fork_case(state, prepared, workdir):
    # The case's process, with the native part: its pipes and limits come from the state that
    # sfstream_server_case_receive filled.
    pid = os.fork()
    if pid == 0:
        try:
            if CASE_SETUP(state, workdir) == 0:
                serve_case(prepared)
        finally:
            os._exit(120)
    return pid


def drain_requests():
    # What a killed process did not read of its request (all of it was sent before the kill
    # order): gone, so that the next process does not take it for its own.
    REQUESTS.setblocking(False)
    try:
        while True:
            data, fds = recv_fds(REQUESTS, 1 << 16, 4)
            for fd in fds:
                os.close(fd)
            if not data:
                break
    except BlockingIOError:
        pass
    finally:
        REQUESTS.setblocking(True)


def kill_order():
    # Waits for the case's process to exit or for a kill order about it. Returns "exited",
    # "kill" or "gone" (the supervisor closed the control socket). An order carries the
    # number of the case it is about; one about a case already answered crossed the reply
    # and is ignored.
    pidfd = os.pidfd_open(PID)
    try:
        while True:
            ready, _, _ = select.select([CTL, pidfd], [], [])
            if pidfd in ready:
                return "exited"
            try:
                order = recv_exact(CTL, 9)
            except EOFError:
                return "gone"
            if int.from_bytes(order[1:], "little") == REPLIES:
                return "kill"
    finally:
        os.close(pidfd)


def serve():
    # Leave as little as possible for every fork to copy: collect the start-up garbage and give
    # the freed heap pages back to the kernel, then keep the survivors out of the children's
    # collections.
    gc.collect()
    MALLOC_TRIM(0)
    gc.freeze()
    if CASE_OVER is None:
        serve_in_python()
        return
    state = State()
    state[0], state[1] = CTL_FD, REQUESTS_FD
    state[4], state[5], state[6], state[7] = PID_NS, UID, GID, PRIVATE
    if PRIVATE:
        state[8], state[9] = EMPTY_TMP
        state[10], state[11] = EMPTY_SHM
    state[16] = NULL_FD
    for i in range(20, 24):
        state[i] = -1  # no case's pipe ends held
    workdir = WORKDIR.encode()
    scratch = (SCRATCH if PRIVATE else "/").encode()
    while True:
        size = CASE_RECEIVE(state)
        if size < 0:
            return  # the supervisor is gone
        prepared = prepare_case(read_exact_fd(REQUESTS_FD, size))
        state[2] = fork_case(state, prepared, workdir)
        outcome = CASE_OVER(state, workdir, scratch)
        # Freed only now: while the case's process lived, it shared these pages.
        del prepared
        if outcome == READY:
            continue
        if outcome == GONE:
            return
        if outcome == SHARED:
            # Shared scratch directories are the host's: clean before the reply.
            clean_scratch()
            write_all_fd(CTL_FD, b"%d %d %d %d\n" % tuple(state[12:16]))
            state[3] += 1
        elif outcome == DIRTY:
            clean_scratch()
        else:
            raise OSError("the fork server's native part failed")


def serve_in_python():
    # The same as serve() with its native part, in Python.
    global PID, REPLIES, CTL, REQUESTS, _socket, select
    import _socket
    import select

    CTL = _socket.socket(fileno=CTL_FD)
    REQUESTS = _socket.socket(fileno=REQUESTS_FD)
    PID = prefork()
    while True:
        outcome = kill_order()
        kill_everything(PID)
        if outcome == "gone":
            return
        _, status, ru = os.wait4(PID, 0)
        reap_all()
        if outcome == "kill":
            drain_requests()
        if not PRIVATE:
            # Shared scratch directories are the host's: clean before the reply.
            clean_scratch()
        # Every process of the case is gone: the verdict can go. The private scratch space is
        # emptied and the next case's process forked while the supervisor judges.
        reply = "%d %d %d %d\n" % (
            status,
            int(ru.ru_utime * 1e6),
            int(ru.ru_stime * 1e6),
            ru.ru_maxrss,
        )
        CTL.sendall(reply.encode())
        REPLIES += 1
        if PRIVATE:
            clean_scratch()
        PID = prefork()


def child(raw, fds):
    head = [int.from_bytes(raw[i : i + 8], "little", signed=True) for i in range(0, 56, 8)]
    null_stdin, lim = head[0], head[1:]
    request = bytes(raw[56:])
    del raw
    if UID:
        # The pipes belong to the supervisor's uid: hand the standard streams to the sandbox uid
        # so that the case can reopen them (open("/dev/stdin"), /proc/self/fd/1) as anywhere.
        for fd in fds[:3]:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                os.fchown(fd, UID, GID)
    # Descriptors: 0..3 from the supervisor's pipes (or stdin /dev/null), nothing else.
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    if null_stdin:
        os.dup2(NULL_FD, 0)
    os.closerange(4, 1 << 16)
    os.set_inheritable(3, False)
    os.setsid()
    os.chdir(WORKDIR)
    cpu, address_space, fsize, nofile, nproc, stack = lim
    for res, value in (
        (resource.RLIMIT_CPU, (cpu, cpu + 1 if cpu >= 0 else -1)),
        (resource.RLIMIT_AS, (address_space, address_space)),
        (resource.RLIMIT_FSIZE, (fsize, fsize)),
        (resource.RLIMIT_NOFILE, (nofile, nofile)),
        (resource.RLIMIT_NPROC, (nproc, nproc)),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_STACK, (stack, stack)),
    ):
        soft, hard = value
        cur_hard = HARD_LIMITS[res]
        if hard < 0 or (cur_hard != resource.RLIM_INFINITY and hard > cur_hard):
            hard = cur_hard
        if soft < 0 or (hard != resource.RLIM_INFINITY and soft > hard):
            soft = hard
        resource.setrlimit(res, (soft, hard))
    if UID:
        os.setgroups([])
        os.setresgid(GID, GID, GID)
        os.setresuid(UID, UID, UID)
    # After the uid change (which resets it): no core dumps, no ptrace, /proc/<pid> stays root's.
    PRCTL(PR_SET_DUMPABLE, 0, 0, 0, 0)
    serve_case(prepare_case(request))


def standard_streams():
    # The child's sys.stdin/stdout/stderr, made once over a pipe so they are exactly what the
    # child would make over its own pipes (not seekable, not a tty); the child's dup2 puts its
    # pipes under these descriptors. Nothing is ever written to them here.
    saved = [os.dup(fd) for fd in (0, 1, 2)]
    r, w = os.pipe()
    os.dup2(r, 0)
    os.dup2(w, 1)
    os.dup2(w, 2)
    # newline="\n" as CPython's own standard streams on POSIX: no newline translation, so the
    # program reads exactly the bytes the judge sent ("\r\n" stays) and writes what it printed.
    streams = (
        io.TextIOWrapper(
            io.BufferedReader(io.FileIO(0, "r", closefd=False)),
            encoding="utf-8",
            errors="surrogateescape",
            newline="\n",
        ),
        io.TextIOWrapper(
            io.BufferedWriter(io.FileIO(1, "w", closefd=False)),
            encoding="utf-8",
            errors="surrogateescape",
            newline="\n",
        ),
        io.TextIOWrapper(
            io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
            encoding="utf-8",
            errors="backslashreplace",
            newline="\n",
            line_buffering=True,
        ),
    )
    for fd, old in enumerate(saved):
        os.dup2(old, fd)
        os.close(old)
    os.close(r)
    os.close(w)
    return streams


# Nothing of the parent remains reachable from the children but this module.
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
signal.signal(signal.SIGCHLD, signal.SIG_DFL)
if not PID_NS:
    PRCTL(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
# Inherited by every child and irreversible; setresuid still works without exec.
PRCTL(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
# Without a uid drop (in a user namespace) the cases share the server's uid: non-dumpable, its
# /proc files (descriptors, memory) stay closed to them.
PRCTL(PR_SET_DUMPABLE, 0, 0, 0, 0)
os.environ["HOME"] = WORKDIR
os.environ["TMPDIR"] = WORKDIR
# The server's hard limits, which bound the cases' (they never change).
HARD_LIMITS = {
    res: resource.getrlimit(res)[1]
    for res in (
        resource.RLIMIT_CPU,
        resource.RLIMIT_AS,
        resource.RLIMIT_FSIZE,
        resource.RLIMIT_NOFILE,
        resource.RLIMIT_NPROC,
        resource.RLIMIT_CORE,
        resource.RLIMIT_STACK,
    )
}
# Only for the server's own start (see forkserver.rs): the cases do not inherit it.
os.environ.pop("LD_BIND_NOW", None)
NULL_FD = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
sys.stdin, sys.stdout, sys.stderr = standard_streams()
sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr
SERVER_ARGS = sys.argv
sys.argv = [""]
sys.path[0] = ""
if PRIVATE:
    EMPTY_TMP = statvfs_free(SCRATCH)
    EMPTY_SHM = statvfs_free("/dev/shm")
try:
    os.mkdir(WORKDIR, 0o700)
    if UID:
        os.chown(WORKDIR, UID, GID)
    serve()
finally:
    if not PRIVATE:
        remove(SERVER_ARGS[6])
    os._exit(0)
