"""Programs run as they would under a judge: stdin arrives byte for byte, the standard streams
can be reopened, stderr never decides a verdict, 127.0.0.1 works inside the sandbox, and deep
recursion gets a big stack. Each runs on both paths: the fork server and, as the fallback, a
fresh interpreter per case."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from sfstream import _core

SYSTEM_PYTHON = Path("/usr/bin/python3")


def fresh_interpreter() -> str:
    """The interpreter of the fresh-interpreter path: as root it runs programs as `nobody`,
    who must be able to execute it."""
    if os.geteuid() != 0:
        return sys.executable
    if not SYSTEM_PYTHON.exists():
        pytest.skip("as root the fresh-interpreter path needs /usr/bin/python3")
    return str(SYSTEM_PYTHON)


@pytest.fixture(params=["fork_server", "fresh_interpreter"])
def run(request: pytest.FixtureRequest) -> Any:
    server = request.param == "fork_server"
    python = sys.executable if server else fresh_interpreter()

    def run(
        code: str,
        inputs: list[str],
        outputs: list[str],
        time_limit: float = 10.0,
        memory_mb: int = 1024,
    ) -> tuple[str, str | None]:
        tests = json.dumps({"inputs": inputs, "outputs": outputs})
        status, _, _, detail, _ = _core.run_tests(
            code, tests, time_limit, memory_mb, 1 << 20, True, python, server
        )
        return status, detail

    return run


def test_stdin_reaches_the_program_byte_for_byte(run: Any) -> None:
    # As CPython reads a pipe on POSIX: no newline translation, "\r" stays.
    code = "s = input()\nprint(len(s), repr(s))\n"
    assert run(code, ["abc\r\n"], ["4 'abc\\r'\n"]) == ("correct", None)
    code = "import sys\nprint(sys.stdin.buffer.read().hex())\n"
    data = "a\r\nb\rc\n\x00\x7f\r\r\n"
    assert run(code, [data], [data.encode().hex() + "\n"]) == ("correct", None)
    code = "import sys\nprint(repr(sys.stdin.read()))\n"
    assert run(code, ["1\r\n2\r3\n"], ["'1\\r\\n2\\r3\\n'\n"]) == ("correct", None)


def test_standard_streams_can_be_reopened(run: Any) -> None:
    code = (
        "import os, sys\n"
        "sys.stdin = open('/dev/stdin')\n"
        "n = int(input())\n"
        "print(n * 2, flush=True)\n"
        "with open('/dev/stdout', 'w') as out:\n"
        "    out.write('via /dev/stdout\\n')\n"
        "with open('/proc/self/fd/1', 'w') as out:\n"
        "    out.write('via fd 1\\n')\n"
        "with open('/proc/self/fd/0') as again:\n"
        "    print(repr(again.read()), repr(sys.stdin.read()))\n"
        "with open('/dev/stderr', 'w') as err:\n"
        "    err.write('debug\\n')\n"
    )
    # The reopened stdin read ahead (buffered): the second reader finds the pipe empty.
    expected = "42\nvia /dev/stdout\nvia fd 1\n'' 'rest\\n'\n"
    assert run(code, ["21\nrest\n"], [expected]) == ("correct", None)


def test_stderr_never_decides_the_verdict(run: Any) -> None:
    # 8 MB of debug output (8 x the output limit) next to a correct answer.
    code = (
        "import sys\n"
        "for i in range(128):\n    sys.stderr.write(str(i % 10) * 65536)\n"
        "print(sum(map(int, input().split())))\n"
    )
    assert run(code, ["1 2\n"], ["3\n"]) == ("correct", None)
    # A program that fails after flooding stderr is reported by its traceback's last line.
    code = "import sys\nsys.stderr.write('x' * (8 << 20))\nraise KeyError('the end')\n"
    assert run(code, [""], [""]) == ("runtime_error", "case 1: KeyError: 'the end'")
    # stdout keeps its own limit.
    code = "import sys\nsys.stdout.write('x' * (2 << 20))\n"
    status, detail = run(code, [""], [""])
    assert status == "output_limit" and "stdout" in (detail or ""), detail


def test_deep_recursion_gets_its_answer(run: Any) -> None:
    # Recursion through C (lru_cache) needs about 500 bytes of C stack per level: far more
    # than the usual 8 MiB at depth 10^5.
    code = (
        "import sys, functools\n"
        "sys.setrecursionlimit(10**6)\n"
        "@functools.lru_cache(None)\n"
        "def depth(n):\n    return 0 if n == 0 else 1 + depth(n - 1)\n"
        "print(depth(int(input())))\n"
    )
    assert run(code, ["100000\n"], ["100000\n"]) == ("correct", None)
    dfs = (
        "import sys\n"
        "sys.setrecursionlimit(10**6)\n"
        "n = int(input())\n"
        "nxt = list(range(1, n + 1))\n"
        "seen = [False] * (n + 1)\n"
        "def dfs(u):\n"
        "    seen[u] = True\n"
        "    if u < n and not seen[nxt[u]]:\n        dfs(nxt[u])\n"
        "dfs(0)\n"
        "print(sum(seen))\n"
    )
    assert run(dfs, ["100000\n"], ["100001\n"]) == ("correct", None)


def test_unbounded_recursion_is_a_clean_runtime_error(run: Any) -> None:
    # Endless recursion through C overflows even the big stack: a runtime error that says so,
    # never a memory limit or a timeout.
    code = (
        "import sys, functools\n"
        "sys.setrecursionlimit(10**9)\n"
        "@functools.lru_cache(None)\n"
        "def up(n):\n    return 1 + up(n + 1)\n"
        "print(up(0))\n"
    )
    for memory_mb in (1024, 512):
        status, detail = run(code, [""], ["1\n"], memory_mb=memory_mb)
        assert status == "runtime_error", (memory_mb, detail)
        assert "SIGSEGV" in (detail or "") and "stack" in (detail or ""), detail
    # Without a raised recursion limit it is Python's own RecursionError.
    code = "def up(n):\n    return 1 + up(n + 1)\nprint(up(0))\n"
    status, detail = run(code, [""], ["1\n"])
    assert status == "runtime_error" and "RecursionError" in (detail or ""), detail


def test_programs_talk_to_themselves_over_loopback() -> None:
    caps = dict(_core.sandbox_capabilities())
    if not caps["network_namespace"]:
        pytest.skip("no network namespace: the host's own loopback is in use")
    server = (
        "import socket, threading\n"
        "s = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen()\n"
        "def serve():\n"
        "    c, _ = s.accept()\n    c.sendall(c.recv(16)[::-1])\n    c.close()\n"
        "t = threading.Thread(target=serve)\nt.start()\n"
        "c = socket.create_connection(s.getsockname(), timeout=5)\n"
        "c.sendall(input().encode())\nprint(c.recv(16).decode())\nt.join()\n"
    )
    manager = (
        "import multiprocessing.managers as mm\n"
        "with mm.SyncManager(address=('127.0.0.1', 0)) as m:\n"
        "    d = m.dict()\n    d['k'] = int(input())\n    print(d['k'] * 2)\n"
        "with mm.SyncManager() as m:\n"  # the default: a Unix socket
        "    q = m.Queue()\n    q.put('unix')\n    print(q.get())\n"
    )
    for code, inp, out in ((server, "abc\n", "cba\n"), (manager, "21\n", "42\nunix\n")):
        tests = json.dumps({"inputs": [inp], "outputs": [out]})
        status, _, _, detail, _ = _core.run_tests(
            code, tests, 20.0, 1024, 1 << 20, True, sys.executable, True
        )
        assert status == "correct", detail


def test_compile_warnings_reach_the_programs_stderr(run: Any) -> None:
    """The fork server compiles each program once, before it forks the case's process; a
    program whose compile warns is compiled again in that process, so the warning reaches the
    program's stderr as from a fresh interpreter (its last line is the detail of a failing exit:
    the warning, or the source line shown under it where solution.py is a file)."""
    code = "x = 1 is 1\nimport os\nos._exit(3)\n"
    status, detail = run(code, ["\n"], ["\n"])
    assert status == "runtime_error", detail
    assert detail is not None, detail
    assert "solution.py:1: SyntaxWarning" in detail or detail.endswith(": x = 1 is 1"), detail


def test_programs_that_do_not_compile_as_modules_still_run(run: Any) -> None:
    """A module-level return (APPS, LiveCodeBench) and a syntax error get what they always
    got, whichever process compiles them."""
    code = "n = int(input())\nprint(n)\nif n:\n    return\nprint(0)\n"
    assert run(code, ["2\n"], ["2\n"]) == ("correct", None)
    assert run(code, ["0\n"], ["0\n0\n"]) == ("correct", None)
    status, detail = run("print(1\n", ["\n"], ["1\n"])
    assert status == "syntax_error" and detail is not None and "SyntaxError" in detail, detail


def test_each_case_starts_from_the_program_as_written(run: Any) -> None:
    """The fork server compiles a sample's program once and its cases share that code object,
    each in its own copy: a case that overwrites a constant of its own code in memory changes
    nothing for the next case."""
    code = (
        "import ctypes, sys\n"
        "s = 'AAAA-a-constant-of-the-program'\n"
        "print(s, flush=True)\n"
        "at = id(s) + sys.getsizeof(s) - len(s) - 1\n"
        "ctypes.memmove(at, b'BBBB', 4)\n"
        "print(s)\n"
    )
    expected = "AAAA-a-constant-of-the-program\nBBBB-a-constant-of-the-program\n"
    assert run(code, ["\n"] * 3, [expected] * 3) == ("correct", None)


def test_site_packages_are_importable_and_no_pth_file_runs() -> None:
    """A program may import what the interpreter has installed (here a virtual environment's
    site-packages), on both paths; the interpreter's .pth files never run (hooks there would
    load into every case's process)."""
    import subprocess
    import tempfile

    code = "import sys, installed_here\nprint(installed_here.VALUE + 1, hasattr(sys, 'hooked'))\n"
    tests = json.dumps({"inputs": ["\n"], "outputs": ["42 False\n"]})
    for server, base in ((True, sys.executable), (False, fresh_interpreter())):
        # World-readable: as root the fresh-interpreter path runs programs as `nobody`.
        with tempfile.TemporaryDirectory() as tmp:
            os.chmod(tmp, 0o755)
            env = Path(tmp) / "env"
            subprocess.run([base, "-m", "venv", "--without-pip", str(env)], check=True)
            site = next((env / "lib").glob("python3*")) / "site-packages"
            (site / "installed_here").mkdir()
            (site / "installed_here" / "__init__.py").write_text("VALUE = 41\n")
            (site / "hook.pth").write_text("import sys; sys.hooked = True\n")
            status, _, _, detail, _ = _core.run_tests(
                code, tests, 10.0, 1024, 1 << 20, True, str(env / "bin" / "python"), server
            )
        assert (status, detail) == ("correct", None), (server, detail)


def test_the_site_builtins_exist(run: Any) -> None:
    """exit() and quit() (which many solutions call), help and copyright are there, as in a
    plain interpreter, although the site module itself does not run."""
    code = "print(int(input()) + 1)\nimport sys\nsys.stdout.flush()\nexit()\nprint('after')\n"
    assert run(code, ["1\n"], ["2\n"]) == ("correct", None)
    code = "print(callable(help), 'Python' in str(copyright))\nquit(0)\n"
    assert run(code, ["\n"], ["True True\n"]) == ("correct", None)
    assert run("quit(3)\n", ["\n"], ["\n"])[0] == "runtime_error"


def test_a_program_too_big_for_the_server_to_compile_runs(run: Any) -> None:
    """Programs above the size the fork server compiles (128 KiB) are compiled in the case's
    process, with the same result."""
    code = "# " + "x" * 200_000 + "\nprint(sum(map(int, input().split())))\n"
    assert run(code, ["1 2\n", "3 4\n"], ["3\n", "7\n"]) == ("correct", None)
