# The fork server: a warm interpreter that forks one child per test case.
#
# Started by the Rust supervisor as
# `python -s -P -c <this> <ctl_fd> <uid> <gid> <pid_ns> private|shared [<scratch dir>]`,
# already inside the sandbox's namespaces (pid 1 of its own PID namespace when available). It
# runs one case at a time:
#
#   request  = 8-byte little-endian length + 4 descriptors (SCM_RIGHTS: the child's stdin,
#              stdout, stderr and result pipe ends), then that many bytes: one Python literal.
#   the supervisor may then send b"k" (kill now); EOF on the control socket ends the server.
#   reply    = one line "status utime_us stime_us maxrss_kb\n" sent after the child exited or
#              was killed, every other process of the case was killed and reaped, and the
#              case's working directory, /tmp and /dev/shm were emptied.
#
# The child drops to the sandbox uid, sets its resource limits, enters a fresh working
# directory and runs the program (stdin/stdout, call-based or assert-style). The supervisor
# owns the pipes, the wall clock, the output caps and every comparison; this server only
# forks, waits and reports wait status and resource usage.
import ast
import builtins
import ctypes
import gc
import io
import os
import resource
import select
import shutil
import signal
import socket
import sys
import traceback

# What competitive-programming code commonly imports, loaded once here so children start warm.
import bisect, collections, copy, datetime, decimal, fractions, functools, heapq  # noqa
import itertools, math, operator, random, re, statistics, string, typing, array  # noqa

CTL = socket.socket(fileno=int(sys.argv[1]))
UID = int(sys.argv[2])
GID = int(sys.argv[3])
PID_NS = sys.argv[4] == "1"
LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_NO_NEW_PRIVS = 38
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
INF = float("inf")
# "private": /tmp and /dev/shm are this server's own size-capped tmpfs mounts, emptied after
# every case. Otherwise argv[6] is a directory the supervisor created for this server; after a
# case the server removes it and whatever the sandbox uid left in the shared scratch directories.
PRIVATE = sys.argv[5] == "private"
SHARED_SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")
SCRATCH_CAP = 1 << 30
if PRIVATE:
    # Refuse to empty anything but our own small tmpfs mounts inside the private root: "/" must
    # be the tiny tmpfs the supervisor pivoted into, and /tmp and /dev/shm small mounts on it.
    root = os.statvfs("/")
    if root.f_blocks * root.f_frsize > SCRATCH_CAP or os.path.exists("/.old"):
        sys.exit(3)
    for top in ("/tmp", "/dev/shm"):
        st = os.statvfs(top)
        if not os.path.ismount(top) or st.f_blocks * st.f_frsize > SCRATCH_CAP:
            sys.exit(3)
    WORKDIR = "/tmp/work"
else:
    WORKDIR = os.path.join(sys.argv[6], "work")

CALL_PRELUDE = """
import bisect, collections, functools, heapq, itertools, math, operator, re, string, sys
from typing import *
from collections import *
from heapq import *
from bisect import *
from itertools import *
from functools import *
from math import *
from builtins import *
"""


TRUSTED = frozenset(
    (type(None), bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset, range)
)


def trusted(value, depth=0):
    # A value made only of built-in types compares and tests truth by built-in rules, so an
    # object with a rigged __eq__ or __bool__ cannot pass an assert.
    t = type(value)
    if t not in TRUSTED or depth > 200:
        raise AssertionError("untrusted value of type " + t.__name__)
    if t is list or t is tuple or t is set or t is frozenset:
        for v in value:
            trusted(v, depth + 1)
    elif t is dict:
        for k, v in value.items():
            trusted(k, depth + 1)
            trusted(v, depth + 1)
    return value


def checked_call(fn, *args, **kwargs):
    result = fn(*args, **kwargs)
    return result if isinstance(fn, type) else trusted(result)


class WrapCalls(ast.NodeTransformer):
    # In the test code, every call of a plain name (candidate(...), the function under test)
    # goes through checked_call(): what a function (not a class) returns must be trusted().
    def visit_Call(self, node):
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and not node.func.id.startswith("_sfs_"):
            wrapper = ast.Name(id="_sfs_call", ctx=ast.Load())
            return ast.copy_location(
                ast.Call(func=wrapper, args=[node.func, *node.args], keywords=node.keywords),
                node,
            )
        return node


def compile_tests(text):
    tree = WrapCalls().visit(ast.parse(text, "tests.py"))
    return compile(ast.fix_missing_locations(tree), "tests.py", "exec")


def read_exact(n):
    chunks = []
    while n:
        b = CTL.recv(min(n, 1 << 20))
        if not b:
            raise EOFError
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


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


def clean_scratch():
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
        return
    for top in ("/tmp", "/dev/shm"):
        try:
            entries = os.listdir(top)
        except OSError:
            continue
        for name in entries:
            remove(os.path.join(top, name))


def remove(path):
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
    shutil.rmtree(path, ignore_errors=True)


def serve():
    gc.freeze()
    while True:
        try:
            header, fds, _, _ = socket.recv_fds(CTL, 8, 4)
        except OSError:
            return
        if len(header) < 8:
            return
        if len(header) < 8 or len(fds) != 4:
            for fd in fds:
                os.close(fd)
            return
        req = read_exact(int.from_bytes(header, "little"))
        os.mkdir(WORKDIR, 0o700)
        os.chown(WORKDIR, UID, GID)
        pid = os.fork()
        if pid == 0:
            try:
                child(req, fds)
            finally:
                os._exit(120)
        for fd in fds:
            os.close(fd)
        del req
        pidfd = os.pidfd_open(pid)
        killed = False
        while True:
            ready, _, _ = select.select([CTL, pidfd], [], [])
            if pidfd in ready:
                break
            msg = CTL.recv(1)
            if not msg:
                kill_everything(pid)
                return
            killed = True
            break
        os.close(pidfd)
        kill_everything(pid)
        _, status, ru = os.wait4(pid, 0)
        reap_all()
        clean_scratch()
        del killed
        reply = "%d %d %d %d\n" % (
            status,
            int(ru.ru_utime * 1e6),
            int(ru.ru_stime * 1e6),
            ru.ru_maxrss,
        )
        CTL.sendall(reply.encode())


def plain(value):
    t = type(value)
    if value is None or t is bool or t is int or t is float or t is str:
        return value
    if t is list or t is tuple:
        return [plain(v) for v in value]
    if t is dict:
        # Keys become strings the way json.dumps converts them.
        out = {}
        for k, v in value.items():
            tk = type(k)
            if tk is str:
                key = k
            elif k is None or tk is bool:
                key = {None: "null", True: "true", False: "false"}[k]
            elif tk is int:
                key = str(k)
            elif tk is float:
                key = (
                    "NaN"
                    if k != k
                    else "Infinity"
                    if k == INF
                    else "-Infinity"
                    if k == -INF
                    else repr(k)
                )
            else:
                raise TypeError("dict key of type " + tk.__name__)
            out[key] = plain(v)
        return out
    raise TypeError("return value of type " + t.__name__)


def child(raw, fds):
    # Descriptors: 0..3 from the supervisor's pipes, nothing else.
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    os.closerange(4, 1 << 16)
    req = eval(raw.decode("utf-8"), {"__builtins__": {}, "nan": float("nan"), "inf": INF})
    del raw
    lim = req["limits"]
    os.setsid()
    os.chdir(WORKDIR)
    for res, value in (
        (resource.RLIMIT_CPU, (lim["cpu"], lim["cpu"] + 1)),
        (resource.RLIMIT_AS, (lim["as"], lim["as"])),
        (resource.RLIMIT_FSIZE, (lim["fsize"], lim["fsize"])),
        (resource.RLIMIT_NOFILE, (lim["nofile"], lim["nofile"])),
        (resource.RLIMIT_NPROC, (lim["nproc"], lim["nproc"])),
        (resource.RLIMIT_CORE, (0, 0)),
    ):
        soft, hard = value
        cur_soft, cur_hard = resource.getrlimit(res)
        if hard < 0 or (cur_hard != resource.RLIM_INFINITY and hard > cur_hard):
            hard = cur_hard
        if soft < 0 or (hard != resource.RLIM_INFINITY and soft > hard):
            soft = hard
        resource.setrlimit(res, (soft, hard))
    if UID:
        os.setgroups([])
        os.setresgid(GID, GID, GID)
        os.setresuid(UID, UID, UID)
    LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    os.environ["HOME"] = WORKDIR
    os.environ["TMPDIR"] = WORKDIR
    sentinel = req["sentinel"]
    mode = req["mode"]
    if mode != "stdio":
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
    os.set_inheritable(3, False)
    sys.stdin = io.TextIOWrapper(
        io.BufferedReader(io.FileIO(0, "r", closefd=False)),
        encoding="utf-8",
        errors="surrogateescape",
    )
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(1, "w", closefd=False)), encoding="utf-8"
    )
    sys.stderr = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
    )
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr
    sys.argv = ["solution.py"]
    sys.path[0] = ""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)

    def report(kind, payload):
        data = (sentinel + " " + kind + " " + ascii(payload) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[os.write(3, view) :]

    code = 0
    try:
        try:
            program = compile(req["program"], "solution.py", "exec")
        except (SyntaxError, ValueError) as e:
            report("SYNTAX", type(e).__name__ + ": " + str(e))
            return
        module = type(sys)("__main__")
        ns = module.__dict__
        ns["__builtins__"] = builtins
        ns["__file__"] = "solution.py"
        sys.modules["__main__"] = module
        if mode == "stdio":
            del req
            exec(program, ns)
        elif mode == "call":
            ns["__name__"] = "solution"
            exec(CALL_PRELUDE, ns)
            exec(program, ns)
            name = req["fn_name"]
            fn = ns.get(name)
            if not callable(fn):
                cls = ns.get("Solution")
                fn = getattr(cls(), name, None) if isinstance(cls, type) else None
            if not callable(fn):
                report("NOFN", name)
                return
            result = fn(*req["args"])
            try:
                value = plain(result)
            except (TypeError, RecursionError) as e:
                report("BADTYPE", type(e).__name__ + ": " + str(e))
                return
            sys.stdout.flush()
            report("RESULT", value)
        else:
            try:
                tests = compile_tests(req["asserts"])
            except (SyntaxError, ValueError) as e:
                report("TESTSYNTAX", type(e).__name__ + ": " + str(e))
                return
            exec(program, ns)
            ns["_sfs_call"] = checked_call
            exec(tests, ns)
            entry = req.get("entry_point")
            if entry:
                if entry not in ns:
                    report("NOFN", entry)
                    return
                check = ns.get("check")
                if callable(check):
                    check(ns[entry])
            sys.stdout.flush()
            report("PASSED", None)
    except SystemExit as e:
        arg = e.code
        if arg is None:
            code = 0
        elif isinstance(arg, int):
            code = arg & 0xFF
        else:
            try:
                print(arg, file=sys.stderr)
            except BaseException:
                pass
            code = 1
    except BaseException:
        try:
            traceback.print_exc()
        except BaseException:
            pass
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        os._exit(code)


# Nothing of the parent remains reachable from the children but this module.
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
if not PID_NS:
    LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
try:
    serve()
finally:
    if not PRIVATE:
        shutil.rmtree(sys.argv[6], ignore_errors=True)
    os._exit(0)
