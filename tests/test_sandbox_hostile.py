"""Hostile programs: each is contained with the right status and leaves the host unharmed."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sfstream import _core, run_tests
from sfstream.code_verdict import CodeVerdict

CAPS = dict(_core.sandbox_capabilities())
FULL = all(
    CAPS[k]
    for k in (
        "pid_namespace",
        "network_namespace",
        "mount_namespace",
        "ipc_namespace",
        "uts_namespace",
        "seccomp",
        "fork_server",
    )
) and (CAPS["uid_drop"] or CAPS["user_namespace"])
needs_full = pytest.mark.skipif(not FULL, reason=f"sandbox protections missing: {CAPS['note']}")

SANDBOX_UID_BASE = 200_000
SECRET_NAME = "SFSTREAM_HOSTILE_SECRET"
SECRET_VALUE = "s3cr3t-4f1c9e"


def _status(pid: str) -> dict[str, str]:
    try:
        text = (Path("/proc") / pid / "status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def _ours(pid: str) -> bool:
    """Whether a process descends from this test process, or was orphaned to init (where an
    escaped daemon would end up). Sandboxes of other test runs on the host are not ours: their
    ancestry reaches init too, but not as their direct parent."""
    me = str(os.getpid())
    for step in range(64):
        ppid = _status(pid).get("PPid", "0").strip()
        if ppid == me:
            return True
        if ppid in ("0", "1"):
            return step == 0 and ppid == "1"
        pid = ppid
    return False


def sandbox_processes() -> list[str]:
    """Processes of this test run still running under a sandbox uid."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        status = _status(entry.name)
        uid = status.get("Uid", "0").split()
        if uid and int(uid[0]) >= SANDBOX_UID_BASE and _ours(entry.name):
            found.append(f"{entry.name}: {status.get('Name', '?').strip()}")
    return found


def listing(path: str) -> set[str]:
    """Entries of `path` that the sandbox could have made: owned by a sandbox uid or named like
    the fresh-interpreter path's working directories (other programs on the host use /tmp too).
    """
    found = set()
    for entry in Path(path).iterdir():
        try:
            owner = entry.lstat().st_uid
        except OSError:
            continue
        # Scratch directories carry their supervisor's pid: those of other processes on the
        # host (another test run) are not this test's business.
        mine = entry.name.startswith(f"sfstream-{os.getpid()}-")
        if owner >= SANDBOX_UID_BASE or mine:
            found.add(entry.name)
    return found


@pytest.fixture(autouse=True)
def host_unharmed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(SECRET_NAME, SECRET_VALUE)
    before = {p: listing(p) for p in ("/tmp", "/dev/shm", "/var/tmp")}
    yield
    # The verdict may reach us while the server is still reaping what it killed: the tree must
    # be gone within moments, not necessarily by the time run_tests returns.
    deadline = time.monotonic() + 5
    while sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox_processes() == []
    for path, names in before.items():
        new = listing(path) - names
        assert new == set(), f"left behind in {path}: {new}"


def stdio(code: str, expected: str = "ok\n", **kw: Any) -> CodeVerdict:
    kw.setdefault("time_limit", 2.0)
    return run_tests(code, {"inputs": [""], "outputs": [expected]}, **kw)


def test_fork_bomb() -> None:
    code = (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    v = stdio(code, time_limit=1.5)
    assert v.status == "timeout", v


def test_allocation_far_beyond_the_limit() -> None:
    assert stdio("x = bytearray(16 << 30)\n", memory_mb=512).status == "memory_limit"
    grow = "a = []\nwhile True:\n    a.append(bytearray(10 << 20))\n"
    assert stdio(grow, memory_mb=512).status == "memory_limit"


def test_infinite_loop() -> None:
    start = time.monotonic()
    v = stdio("while True:\n    pass\n", time_limit=1.0)
    assert v.status == "timeout" and time.monotonic() - start < 3.5, v


def test_sleep_past_the_wall_limit() -> None:
    start = time.monotonic()
    v = stdio("import time\ntime.sleep(60)\n", time_limit=1.0)
    assert v.status == "timeout", v
    assert "wall" in (v.detail or "")
    assert time.monotonic() - start < 2.5


def test_ignoring_sigxcpu() -> None:
    code = "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass\n"
    assert stdio(code, time_limit=1.0).status == "timeout"


def test_printing_gigabytes() -> None:
    code = "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n"
    start = time.monotonic()
    v = stdio(code, time_limit=10.0)
    assert v.status == "output_limit", v
    assert time.monotonic() - start < 3
    # stderr is truncated, never a verdict by itself: an endless flood ends at the time limit
    # with the supervisor's memory bounded.
    v = stdio(code.replace("stdout", "stderr"), time_limit=1.0)
    assert v.status == "timeout", v


def test_setsid_double_fork_daemon() -> None:
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(30)\n"
        "    os._exit(0)\n"
        "os.wait()\n"
        "print('ok')\n"
    )
    assert stdio(code).status == "correct"
    # host_unharmed checks that the daemon is gone.


@needs_full
def test_writing_outside_the_working_directory() -> None:
    code = (
        "import os\n"
        "ok = []\n"
        "for p in ['/x', '/etc/sfs', '/tmp/sfs', '/var/tmp/sfs', '/usr/sfs', '/proc/sfs',\n"
        "          os.path.dirname(os.__file__) + '/sfs']:\n"
        "    try:\n"
        "        open(p, 'w').write('x')\n"
        "        ok.append(p)\n"
        "    except OSError:\n"
        "        pass\n"
        "open('inside.txt', 'w').write('fine')\n"
        "print('ok' if not ok else ok)\n"
    )
    v = stdio(code)
    assert v.status == "correct", v


@needs_full
def test_filling_the_disk_with_small_files() -> None:
    code = (
        "n = 0\n"
        "try:\n"
        "    while True:\n"
        "        open(f'f{n}', 'wb').write(b'x' * 65536)\n"
        "        n += 1\n"
        "except OSError:\n"
        "    pass\n"
        "print('ok' if n < 5000 else n)\n"
    )
    v = stdio(code, time_limit=10.0)
    assert v.status == "correct", v
    # The next case starts with an empty scratch space again.
    assert stdio("open('a', 'wb').write(b'x' * (1 << 20))\nprint('ok')\n").status == "correct"


@needs_full
def test_connecting_to_a_loopback_port() -> None:
    # The sandbox has a loopback of its own (up: programs may serve themselves); the host's
    # listeners on 127.0.0.1, TCP and UDP, hear nothing of it.
    with socket.socket() as listener, socket.socket(type=socket.SOCK_DGRAM) as udp:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        udp.bind(("127.0.0.1", 0))
        udp.setblocking(False)
        port = listener.getsockname()[1]
        udp_port = udp.getsockname()[1]
        code = (
            "import socket\n"
            "own = socket.socket()\nown.bind(('127.0.0.1', 0))\nown.listen()\n"
            "socket.create_connection(own.getsockname(), timeout=1).close()\n"
            "reached = []\n"
            "for host in ('127.0.0.1', 'localhost', '::1', '127.0.0.2', '0.0.0.0'):\n"
            "    try:\n"
            f"        socket.create_connection((host, {port}), timeout=1).close()\n"
            "        reached.append(host)\n"
            "    except OSError:\n"
            "        pass\n"
            "    try:\n"
            "        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            f"        u.sendto(b'hello', ('127.0.0.1', {udp_port}))\n"
            "    except OSError:\n"
            "        pass\n"
            "print('ok' if not reached else reached)\n"
        )
        v = stdio(code)
        assert v.status == "correct", v
        with pytest.raises(BlockingIOError):
            listener.accept()
        with pytest.raises(BlockingIOError):
            udp.recv(16)


@needs_full
def test_reopening_descriptors_of_other_processes() -> None:
    # The case may reopen its own standard streams (/dev/stdin); no other process's
    # descriptors (the fork server's control socket and pipes, the host's) open through /proc.
    code = (
        "import os\n"
        "me = os.getpid()\n"
        "mine = []\n"
        "for p, flags in (('stdin', 0), ('stdout', os.O_WRONLY), ('stderr', os.O_WRONLY)):\n"
        "    os.close(os.open('/dev/' + p, flags))\n"
        "    mine.append(p)\n"
        "opened, seen = [], 0\n"
        "pids = [p for p in os.listdir('/proc') if p.isdigit() and int(p) != me]\n"
        "for pid in pids + ['1', str(os.getppid())]:\n"
        "    try:\n"
        "        fds = os.listdir(f'/proc/{pid}/fd')\n"
        "    except OSError:\n"
        "        fds = [str(n) for n in range(8)]\n"
        "    for fd in fds:\n"
        "        seen += 1\n"
        "        for flags in (os.O_RDONLY, os.O_WRONLY):\n"
        "            try:\n"
        "                os.close(os.open(f'/proc/{pid}/fd/{fd}', flags))\n"
        "                opened.append((pid, fd))\n"
        "            except OSError:\n"
        "                pass\n"
        "print(mine, 'ok' if seen and not opened else opened, flush=True)\n"
    )
    v = stdio(code, "['stdin', 'stdout', 'stderr'] ok\n")
    assert v.status == "correct", v
    # The same from a child process of the case.
    forked = (
        "import os\nif os.fork() == 0:\n"
        + "".join("    " + line + "\n" for line in code.splitlines())
        + "    os._exit(0)\nos.wait()\n"
    )
    v = stdio(forked, "['stdin', 'stdout', 'stderr'] ok\n")
    assert v.status == "correct", v


@needs_full
def test_reading_the_parents_environment_and_proc() -> None:
    code = (
        "import os\n"
        f"name = {SECRET_NAME!r}\n"
        "leaks = [k for k in os.environ if k == name]\n"
        "pids = [p for p in os.listdir('/proc') if p.isdigit()]\n"
        "for p in pids:\n"
        "    for f in ('environ', 'cmdline'):\n"
        "        try:\n"
        "            if name.encode() in open(f'/proc/{p}/{f}', 'rb').read():\n"
        "                leaks.append((p, f))\n"
        "        except OSError:\n"
        "            pass\n"
        "print('ok' if not leaks and len(pids) <= 3 else (leaks, pids))\n"
    )
    v = stdio(code)
    assert v.status == "correct", v


@needs_full
def test_signalling_the_parent_and_kill_minus_one() -> None:
    # Never send these signals from a child that could carry them out: check first that the
    # sandbox really runs programs as an unprivileged user.
    probe = stdio("import os\nprint('unprivileged' if os.getuid() else 'root')\n", "unprivileged\n")
    assert probe.status == "correct", probe
    host = os.getpid()
    code = (
        "import os, signal\n"
        "refused = 0\n"
        f"for pid in (os.getppid(), 1, {host}):\n"
        "    try:\n"
        "        os.kill(pid, signal.SIGKILL)\n"
        "    except OSError:\n"
        "        refused += 1\n"
        "try:\n"
        "    os.kill(-1, signal.SIGKILL)\n"
        "except OSError:\n"
        "    pass\n"
        "print('ok' if refused == 3 else refused)\n"
    )
    v = stdio(code)
    assert v.status == "correct", v
    # The server survived: the next case runs normally.
    assert stdio("print('ok')\n").status == "correct"


def test_closing_stdout_then_spinning() -> None:
    code = "import os\nos.close(1)\nos.close(2)\nwhile True:\n    pass\n"
    assert stdio(code, time_limit=1.0).status == "timeout"


def test_deep_recursion() -> None:
    code = "import sys\nsys.setrecursionlimit(10**7)\ndef f(n):\n    return f(n + 1)\nf(0)\n"
    v = stdio(code, time_limit=2.0, memory_mb=512)
    assert v.status in {"runtime_error", "memory_limit", "timeout"}, v
    legit = (
        "import sys, threading\n"
        "sys.setrecursionlimit(10**6)\n"
        "threading.stack_size(2**26)\n"
        "def f(n):\n    return 0 if n == 0 else 1 + f(n - 1)\n"
        "def main():\n    print('ok' if f(100000) == 100000 else 'no')\n"
        "t = threading.Thread(target=main)\nt.start()\nt.join()\n"
    )
    assert stdio(legit, time_limit=4.0).status == "correct"


def test_raising_its_own_limits() -> None:
    code = (
        "import resource\n"
        "refused = 0\n"
        "for r in (resource.RLIMIT_AS, resource.RLIMIT_CPU, resource.RLIMIT_NPROC,\n"
        "          resource.RLIMIT_NOFILE, resource.RLIMIT_FSIZE):\n"
        "    try:\n"
        "        resource.setrlimit(r, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))\n"
        "    except (ValueError, OSError):\n"
        "        refused += 1\n"
        "print('ok' if refused == 5 else refused)\n"
    )
    v = stdio(code)
    assert v.status == "correct", v


@pytest.mark.parametrize("exit_call", ["import sys; sys.exit(0)", "import os; os._exit(0)"])
def test_exiting_zero_before_the_asserts(exit_call: str) -> None:
    code = f"def add(a, b):\n    return a - b\n{exit_call}\n"
    v = run_tests(code, {"asserts": "assert add(1, 2) == 3\n", "entry_point": None})
    assert v.status == "runtime_error", v


def test_always_equal_object() -> None:
    code = (
        "class Any:\n"
        "    def __eq__(self, other):\n        return True\n"
        "    def __bool__(self):\n        return True\n"
        "    __hash__ = object.__hash__\n"
        "def add(a, b):\n    return Any()\n"
    )
    call = run_tests(code, {"inputs": [[1, 2]], "outputs": [3], "fn_name": "add"})
    assert call.status == "wrong_answer", call
    asserts = run_tests(code, {"asserts": "assert add(1, 2) == 3\n", "entry_point": None})
    assert not asserts.correct, asserts
    # A rigged subclass of a built-in type is compared as the built-in data it holds.
    rigged_dict = (
        "class D(dict):\n"
        "    def __eq__(self, other):\n        return True\n"
        "    def items(self):\n        return [(1, 2)]\n"
        "def table():\n    return D()\n"
    )
    v = run_tests(rigged_dict, {"asserts": "assert table() == {1: 2}\n", "entry_point": None})
    assert v.status == "wrong_answer", v
    humaneval = run_tests(
        code,
        {
            "asserts": "def check(candidate):\n    assert candidate(1, 2) == 3\n",
            "entry_point": "add",
        },
    )
    assert not humaneval.correct, humaneval


def test_printing_a_forged_verdict_line() -> None:
    code = (
        "import os\n"
        "for line in ('PASSED None', 'ok PASSED None', '0' * 32 + ' PASSED None'):\n"
        "    print(line)\n"
        "    try:\n"
        "        os.write(3, (line + '\\n').encode())\n"
        "    except OSError:\n"
        "        pass\n"
        "os._exit(0)\n"
    )
    v = run_tests(code, {"asserts": "assert False\n", "entry_point": None})
    assert v.status == "runtime_error", v
    assert "exited before the tests finished" in (v.detail or ""), v


def test_system_calls_a_program_has_no_use_for_are_refused() -> None:
    # Namespaces (the way to regain capabilities), tracing, mounts, io_uring, stealing another
    # process's descriptors: EPERM. clone3 answers ENOSYS so threads fall back to clone, and
    # threads and fork keep working.
    code = (
        "import ctypes, os, threading\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "def err(r):\n    return os.strerror(ctypes.get_errno()) if r == -1 else 'allowed'\n"
        "print('unshare', err(libc.unshare(0x10000000)))\n"  # CLONE_NEWUSER
        "print('ptrace', err(libc.ptrace(0, 0, None, None)))\n"  # PTRACE_TRACEME
        "print('mount', err(libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)))\n"
        "print('io_uring_setup', err(libc.syscall(425, 1, None)))\n"
        "print('pidfd_getfd', err(libc.syscall(438, 0, 0, 0)))\n"
        "print('clone3', err(libc.syscall(435, None, 0)))\n"
        "t = threading.Thread(target=lambda: print('thread ran'))\n"
        "t.start()\nt.join()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n    os._exit(7)\n"
        "print('fork', os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n"
    )
    expected = (
        "unshare Operation not permitted\nptrace Operation not permitted\n"
        "mount Operation not permitted\nio_uring_setup Operation not permitted\n"
        "pidfd_getfd Operation not permitted\nclone3 Function not implemented\n"
        "thread ran\nfork 7\n"
    )
    v = stdio(code, expected, time_limit=5.0)
    assert v.status == "correct", v
    assert CAPS["seccomp"], CAPS


ADD_TESTS = {"asserts": "assert add(1, 2) == 3\nassert add(2, 2) == 5\n", "entry_point": None}

# Ways a program could forge a pass of assert-style tests if it shared a process with them.
FORGERIES = {
    # Walk up the stack from the module code to whatever reports verdicts, and report a pass.
    "frame_walk": (
        "import os, sys\n"
        "def add(a, b):\n    return 0\n"
        "f = sys._getframe()\n"
        "while f:\n"
        "    for v in list(f.f_locals.values()) + list(f.f_globals.values()):\n"
        "        if callable(v) and getattr(v, '__name__', '') in ('report', 'reporter'):\n"
        "            r = v if v.__name__ == 'report' else None\n"
        "            if r:\n"
        "                r('PASSED', None)\n"
        "                os._exit(0)\n"
        "    f = f.f_back\n"
    ),
    # Find the sentinel in memory and write the verdict line to every descriptor there is.
    "sentinel_from_memory": (
        "import gc, os, re\n"
        "def add(a, b):\n    return 0\n"
        "for o in gc.get_objects():\n"
        "    if isinstance(o, dict):\n"
        "        s = o.get('sentinel')\n"
        "        if isinstance(s, str) and re.fullmatch('[0-9a-f]{32}', s):\n"
        "            for fd in range(3, 64):\n"
        "                try:\n"
        "                    os.write(fd, (s + ' PASSED None\\n').encode())\n"
        "                except OSError:\n"
        "                    pass\n"
        "            os._exit(0)\n"
    ),
    # Read the expected values out of the test code in memory and answer from them.
    "answers_from_the_tests": (
        "import gc, re\n"
        "def add(a, b):\n"
        "    for o in gc.get_objects():\n"
        "        if isinstance(o, (dict, str)):\n"
        "            text = o if isinstance(o, str) else str(o.get('asserts', ''))\n"
        "            for x, y, r in re.findall(r'add\\((\\d+), (\\d+)\\) == (\\d+)', text):\n"
        "                if (int(x), int(y)) == (a, b):\n"
        "                    return int(r)\n"
        "    return -1\n"
    ),
    # Make the checker's own type tests lie, then return an always-equal object.
    "patched_builtins": (
        "import builtins\n"
        "class Any:\n"
        "    def __eq__(self, o):\n        return True\n"
        "    __hash__ = object.__hash__\n"
        "real_type = type\n"
        "builtins.type = lambda x, *rest: int if real_type(x) is Any else real_type(x, *rest)\n"
        "builtins.isinstance = lambda x, t: True\n"
        "def add(a, b):\n    return Any()\n"
    ),
    # Leave a module in the working directory for the tests' own imports to pick up.
    "planted_module": (
        "forge = 'import os, sys\\nf = sys._getframe()\\nwhile f:\\n"
        '    r = f.f_locals.get("report")\\n    if callable(r):\\n'
        '        r("PASSED", None)\\n        os._exit(0)\\n    f = f.f_back\\n\'\n'
        "for name in ('colorsys.py', 'sched.py', 'wave.py'):\n"
        "    open(name, 'w').write(forge)\n"
        "def add(a, b):\n    return 0\n"
    ),
    # Stop the evaluator: it never finishes, which is no pass either.
    "stopped_evaluator": (
        "import os, signal\ndef add(a, b):\n    return 0\nos.kill(os.getppid(), signal.SIGSTOP)\n"
    ),
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_forging_a_pass_of_assert_tests(name: str) -> None:
    tests = dict(ADD_TESTS)
    if name == "planted_module":
        tests["asserts"] = "import colorsys, sched, wave\n" + tests["asserts"]
    v = run_tests(FORGERIES[name], tests, time_limit=2.0)
    assert not v.correct, v
    assert v.status in {"wrong_answer", "runtime_error", "timeout"}, v


def test_program_cannot_reach_the_evaluator_through_proc() -> None:
    code = (
        "import os\n"
        "pp = os.getppid()\n"
        "OPENED = []\n"
        "for name, flags in (('mem', os.O_RDWR), ('fd/3', os.O_WRONLY), ('environ', 0),\n"
        "                    ('maps', 0), ('fd/0', 0)):\n"
        "    try:\n"
        "        os.close(os.open(f'/proc/{pp}/{name}', flags))\n"
        "        OPENED.append(name)\n"
        "    except OSError:\n"
        "        pass\n"
        "def parent():\n    return pp\n"
    )
    v = run_tests(code, {"asserts": "assert parent() > 1\nassert OPENED == []\n"})
    assert v.status == "correct", v


def test_asserts_see_plain_data_and_argument_changes() -> None:
    # What crosses from the program to the tests is data: module-level values, return values,
    # what a call did to a list argument, and exceptions by their built-in class.
    code = (
        "TABLE = {'a': (1, 2.5, None, {3})}\n"
        "def push(xs, x):\n    xs.append(x)\n"
        "def fail(x):\n    raise KeyError(x)\n"
        "class Counter:\n"
        "    def __init__(self):\n        self.n = 0\n"
        "    def bump(self):\n        self.n += 1\n        return self.n\n"
        "def gen(n):\n    yield from range(n)\n"
        "import collections\n"
        "def tally(xs):\n    return collections.Counter(xs)\n"
        "Point = collections.namedtuple('Point', 'x y')\n"
        "class Node:\n    def __init__(self, v):\n        self.v, self.next = v, None\n"
        "def length(node):\n    return 0 if node is None else 1 + length(node.next)\n"
        "def check(x):\n    return x > 0\n"
    )
    tests = (
        "assert TABLE == {'a': (1, 2.5, None, {3})}\n"
        "xs = [1]\npush(xs, 2)\nassert xs == [1, 2]\n"
        "try:\n    fail(7)\nexcept LookupError as e:\n    assert e.args == ('7',)\n"
        "else:\n    assert False\n"
        "c = Counter()\nc.bump()\nassert c.bump() == 2 and c.n == 2\n"
        "assert list(gen(3)) == [0, 1, 2]\n"
        # subclasses of built-in types cross as their base type
        "assert tally('abca') == {'a': 2, 'b': 1, 'c': 1}\n"
        "assert Point(1, 2) == (1, 2)\n"
        # the tests may build and change the program's objects
        "head = Node(1)\nhead.next = Node(2)\nhead.next.next = Node(3)\n"
        "assert length(head) == 3 and head.next.v == 2\n"
    )
    v = run_tests(code, {"asserts": tests, "entry_point": None})
    assert v.status == "correct", v
    # A `check` of the program's own is not the tests' check(entry_point).
    v = run_tests(code, {"asserts": "assert check(2) and not check(-1)\n", "entry_point": "check"})
    assert v.status == "correct", v
    # An object of the program is not data: comparing it or testing its truth fails.
    for check in ("assert c == c", "assert c", "assert str(c)"):
        v = run_tests(code, {"asserts": "c = Counter()\n" + check + "\n", "entry_point": None})
        assert v.status == "wrong_answer", (check, v)


def test_numpy_imports_when_installed() -> None:
    np = pytest.importorskip("numpy")
    code = "import numpy as np\nprint(int(np.arange(10).sum()))\n"
    v = run_tests(code, {"inputs": [""], "outputs": ["45\n"]}, time_limit=10.0)
    assert v.status == "correct", (v, np.__version__)


def test_capabilities_are_reported() -> None:
    caps = _core.sandbox_capabilities()
    names = [name for name, _ in caps]
    assert names[:6] == [
        "pid_namespace",
        "network_namespace",
        "mount_namespace",
        "ipc_namespace",
        "uts_namespace",
        "uid_drop",
    ]
    forced_off = os.environ.get("SFSTREAM_SANDBOX_NAMESPACES") == "0"
    if os.geteuid() == 0 and Path("/proc/self/ns/pid").exists() and not forced_off:
        # As root on Linux every protection is expected.
        assert FULL, CAPS
