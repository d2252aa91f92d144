"""The sandbox started by an unprivileged user: the namespaces are created inside a user
namespace, and hostile programs are contained as they are under root.

Run as root, this test switches to `nobody` (setpriv) and runs the built core under the
system's Python, which `nobody` can execute; run by a user, the rest of the suite already
exercises this path.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sfstream import _core

SYSTEM_PYTHON = Path("/usr/bin/python3")
NOBODY = 65534

BATTERY = r"""
import json, os, sys, time
import _core

os.environ["SFSTREAM_SECRET"] = "s3cret-xyz"


def run(code, tests=None, time_limit=2.0):
    tests = tests or {"inputs": [""], "outputs": ["ok\n"]}
    status, passed, total, detail, _ = _core.run_tests(
        code, json.dumps(tests), time_limit, 256, 1 << 20, True, None, True
    )
    return status, detail


out = {"caps": dict(_core.sandbox_capabilities())}
out["sum"] = run("print(sum(map(int, input().split())))", {"inputs": ["1 2\n"], "outputs": ["3\n"]})
out["asserts"] = run("def add(a, b):\n    return a + b\n", {"asserts": "assert add(1, 2) == 3\n"})
out["fork_bomb"] = run(
    "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
)
out["kill_all"] = run(
    "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept ProcessLookupError:\n"
    "    pass\nos.kill(1, signal.SIGKILL)\nprint('ok')\n"
)
out["memory"] = run("x = bytearray(1 << 30)\nprint('ok')\n")
out["loop"] = run("while True:\n    pass\n", time_limit=1.0)
out["daemon"] = run(
    "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
    "        time.sleep(30)\n    os._exit(0)\nprint('ok')\n"
)
out["environment"] = run(
    "import os\nleak = 'SFSTREAM_SECRET' in os.environ\n"
    "for pid in os.listdir('/proc'):\n    if pid.isdigit():\n        try:\n"
    "            leak |= b's3cret' in open(f'/proc/{pid}/environ', 'rb').read()\n"
    "        except OSError:\n            pass\nprint('leak' if leak else 'ok')\n"
)
out["host_files"] = run(
    "import os\nseen = [p for p in ('/root', '/home', %r) if os.path.exists(p)]\n"
    "print(seen or 'ok')\n" % os.getcwd()
)
out["network"] = run(
    "import socket\ns = socket.socket()\ns.settimeout(1)\ntry:\n"
    "    s.connect(('127.0.0.1', 22))\n    print('connected')\nexcept OSError:\n    print('ok')\n"
)
out["write_outside"] = run(
    "n = 0\nfor p in ('/usr/x', '/etc/x', '/x', '/proc/x'):\n    try:\n"
    "        open(p, 'w').write('x')\n        n += 1\n    except OSError:\n        pass\n"
    "print('ok' if n == 0 else n)\n"
)
out["new_user_namespace"] = run(
    "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
    "print('ok' if libc.unshare(0x10000000) == -1 else 'unshared')\n"
)
out["forged_pass"] = run(
    "import os, sys\ndef add(a, b):\n    return 0\nf = sys._getframe()\nwhile f:\n"
    "    r = f.f_locals.get('report')\n    if callable(r):\n        r('PASSED', None)\n"
    "        os._exit(0)\n    f = f.f_back\n",
    {"asserts": "assert add(1, 2) == 3\n"},
)
out["evaluator_proc"] = run(
    "import os\nOPENED = []\nfor name in ('mem', 'fd/3', 'environ'):\n    try:\n"
    "        os.close(os.open(f'/proc/{os.getppid()}/{name}', os.O_RDONLY))\n"
    "        OPENED.append(name)\n    except OSError:\n        pass\n",
    {"asserts": "assert OPENED == []\n"},
)
out["dev_stdin"] = run(
    "import sys\nsys.stdin = open('/dev/stdin')\nprint(input()[::-1])\n",
    {"inputs": ["ko\n"], "outputs": ["ok\n"]},
)
out["stderr_flood"] = run("import sys\nsys.stderr.write('x' * (8 << 20))\nprint('ok')\n")
out["deep_recursion"] = run(
    "import sys, functools\nsys.setrecursionlimit(10**6)\n@functools.lru_cache(None)\n"
    "def f(n):\n    return 0 if n == 0 else 1 + f(n - 1)\nprint('ok' if f(10**5) == 10**5 else 0)\n"
)
out["loopback_self"] = run(
    "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen()\n"
    "c = socket.create_connection(s.getsockname(), timeout=2)\na, _ = s.accept()\n"
    "c.sendall(b'ok\\n')\nprint(a.recv(3).decode(), end='')\n"
)
import socket

listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()
listener.setblocking(False)
out["loopback_host"] = run(
    "import socket\ntry:\n"
    "    socket.create_connection(('127.0.0.1', %d), timeout=1)\n    print('connected')\n"
    "except OSError:\n    print('ok')\n" % listener.getsockname()[1]
)
try:
    listener.accept()
    out["host_heard"] = True
except BlockingIOError:
    out["host_heard"] = False
out["other_fds"] = run(
    "import os\nopened = []\nfor pid in os.listdir('/proc'):\n"
    "    if not pid.isdigit() or int(pid) == os.getpid():\n        continue\n"
    "    for name in [f'fd/{fd}' for fd in range(8)] + ['mem', 'environ']:\n        try:\n"
    "            os.close(os.open(f'/proc/{pid}/{name}', os.O_RDONLY))\n"
    "            opened.append((pid, name))\n        except OSError:\n            pass\n"
    "print(opened or 'ok')\n"
)
time.sleep(0.5)
# What runs under our uid now: this process, the fork server with its host-side parent, and
# the server's child waiting for the next case.
left = []
for pid in os.listdir("/proc"):
    if pid.isdigit() and int(pid) != os.getpid():
        try:
            status = dict(
                line.split(":\t", 1) for line in open(f"/proc/{pid}/status").read().splitlines()
                if ":\t" in line
            )
        except OSError:
            continue
        if status["Uid"].split()[0] == str(os.getuid()):
            left.append((int(pid), int(status["PPid"]), status["Name"].strip()))
out["left"] = left
out["me"] = os.getpid()
print(json.dumps(out))
"""


@pytest.fixture
def unprivileged_dir() -> Iterator[Path]:
    """A directory `nobody` can read, holding a copy of the built core."""
    if os.geteuid() != 0:
        pytest.skip("not root: the whole suite runs this path")
    if shutil.which("setpriv") is None or not SYSTEM_PYTHON.exists():
        pytest.skip("needs setpriv and /usr/bin/python3")
    d = Path(tempfile.mkdtemp(prefix="sfstream-unprivileged-", dir="/tmp"))
    try:
        d.chmod(0o755)
        shutil.copy(_core.__file__, d / Path(_core.__file__).name)
        (d / "battery.py").write_text(BATTERY)
        for f in d.iterdir():
            f.chmod(0o644)
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_hostile_programs_are_contained_without_root(unprivileged_dir: Path) -> None:
    version = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import sys; print(sys.version_info >= (3, 11))"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if version != "True":
        pytest.skip("the system's Python is older than 3.11, the core's minimum")
    proc = subprocess.run(
        [
            "setpriv",
            f"--reuid={NOBODY}",
            f"--regid={NOBODY}",
            "--clear-groups",
            str(SYSTEM_PYTHON),
            "battery.py",
        ],
        cwd=unprivileged_dir,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(unprivileged_dir), "HOME": "/"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    caps = out.pop("caps")
    for name in (
        "pid_namespace",
        "network_namespace",
        "mount_namespace",
        "ipc_namespace",
        "uts_namespace",
        "user_namespace",
        "seccomp",
        "fork_server",
    ):
        assert caps[name], caps
    assert not caps["uid_drop"] and caps["note"] is None, caps
    expected = {
        "sum": "correct",
        "asserts": "correct",
        "fork_bomb": "timeout",
        "kill_all": "correct",
        "memory": "memory_limit",
        "loop": "timeout",
        "daemon": "correct",
        "environment": "correct",
        "host_files": "correct",
        "network": "correct",
        "write_outside": "correct",
        "new_user_namespace": "correct",
        "forged_pass": "wrong_answer",
        "evaluator_proc": "correct",
        "dev_stdin": "correct",
        "stderr_flood": "correct",
        "deep_recursion": "correct",
        "loopback_self": "correct",
        "loopback_host": "correct",
        "other_fds": "correct",
    }
    assert {k: out[k][0] for k in expected} == expected, out
    assert out["host_heard"] is False, out
    # Nothing of the cases is left: under our uid run only the battery itself and the fork
    # server (pid 1 of its namespace, which forks a case's process only once its request came)
    # with the host-side process it hangs from.
    me, left = out["me"], out["left"]
    children = [p for p in left if p[1] == me]
    grandchildren = [p for p in left if p[1] in {c[0] for c in children}]
    assert len(children) == 1 and len(grandchildren) == 1, left
    assert len(left) == 2, left
