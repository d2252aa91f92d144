"""Symbolic equivalence with sympy, in worker processes that are killed on overrun.

sympy can run for minutes (or forever) on hostile input such as power towers, and a thread
cannot be interrupted, so every check runs in a separate process under a hard deadline: when
the deadline passes the worker is killed and a fresh one replaces it on the next call. The pool
is safe to use from any thread; async code reaches it through a worker thread.
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import queue
import re
import threading
from multiprocessing.connection import Connection
from typing import Any, Literal

__all__ = ["SymbolicPool", "equivalent", "latex_to_sympy"]

Outcome = Literal["equal", "different", "timeout", "error"]

_SIMPLE = [
    (r"\\left|\\right|\\!|\\,|\\;|\\:|\\quad|\\displaystyle", ""),
    (r"\\cdot|\\times", "*"),
    (r"\\div", "/"),
    (r"\\pi\b", " pi "),
    (r"\\infty", " oo "),
    (r"\\ln\b", " log"),
    (r"\\log\b", " log"),
    (r"\\(sin|cos|tan|cot|sec|csc|exp)\b", r" \1"),
    (r"\\sqrt\[([^\]]+)\]\{", r"root_\1{"),
]


def _braced(text: str, start: int) -> tuple[str, int]:
    """The content of the brace group opening at ``text[start]`` and the index after it."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
    raise ValueError("unbalanced braces")


def latex_to_sympy(latex: str) -> str:
    """Rewrites a normalised LaTeX answer as a sympy expression string.

    Covers what final answers use: fractions, roots, powers, products, pi, infinity and the
    common functions. Anything else is left for sympy's parser to accept or refuse.
    """
    s = latex.strip().strip("$")
    for pattern, repl in _SIMPLE:
        s = re.sub(pattern, repl, s)
    out: list[str] = []
    i = 0
    while i < len(s):
        if s.startswith("\\frac", i) or s.startswith("\\dfrac", i) or s.startswith("\\tfrac", i):
            j = s.index("{", i) if "{" in s[i:] else -1
            if j < 0:
                raise ValueError("fraction without braces")
            num, k = _braced(s, j)
            if k >= len(s) or s[k] != "{":
                raise ValueError("fraction without denominator")
            den, k = _braced(s, k)
            out.append(f"(({latex_to_sympy(num)})/({latex_to_sympy(den)}))")
            i = k
        elif s.startswith("\\sqrt", i) and i + 5 < len(s) and s[i + 5] == "{":
            arg, k = _braced(s, i + 5)
            out.append(f"sqrt({latex_to_sympy(arg)})")
            i = k
        elif s.startswith("root_", i):
            n_end = s.index("{", i)
            n = s[i + 5 : n_end]
            arg, k = _braced(s, n_end)
            out.append(f"(({latex_to_sympy(arg)})**(1/({latex_to_sympy(n)})))")
            i = k
        elif s[i] == "{":
            arg, k = _braced(s, i)
            out.append(f"({latex_to_sympy(arg)})")
            i = k
        elif s[i] == "^":
            out.append("**")
            i += 1
        elif s[i] == "\\":
            m = re.match(r"\\[A-Za-z]+", s[i:])
            name = m.group(0)[1:] if m else s[i + 1 : i + 2]
            out.append(f" {name} ")
            i += 1 + len(name)
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def _parse(text: str) -> Any:
    from sympy.parsing.sympy_parser import (
        convert_xor,
        implicit_multiplication_application,
        parse_expr,
        standard_transformations,
    )

    transformations = (*standard_transformations, implicit_multiplication_application, convert_xor)
    return parse_expr(latex_to_sympy(text), transformations=transformations, evaluate=True)


def _compare(a: str, b: str) -> Outcome:
    import sympy

    try:
        ea, eb = _parse(a), _parse(b)
    except Exception:
        return "error"
    try:
        diff = sympy.simplify(ea - eb)
        if diff == 0:
            return "equal"
        if diff.is_number and diff.free_symbols == set():
            value = complex(sympy.N(diff, 30))
            # Exact zero only: a tolerance would equate tiny distinct magnitudes.
            return "equal" if value == 0 else "different"
        return "equal" if ea.equals(eb) is True else "different"
    except Exception:
        return "error"


def _worker_main(conn: Connection) -> None:
    import sympy  # noqa: F401 - import once, before the first job

    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        conn.send(_compare(*job))


class _Worker:
    def __init__(self, ctx: Any) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child,), daemon=True)
        self.proc.start()
        child.close()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join(5)
        self.conn.close()


class SymbolicPool:
    """Worker processes for sympy comparisons, each under a hard deadline.

    Args:
        size: Most workers alive at once (one check runs in each).
    """

    def __init__(self, size: int = 2) -> None:
        self._ctx = mp.get_context(
            "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        )
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._slots = threading.Semaphore(size)
        self._lock = threading.Lock()
        self._all: list[_Worker] = []

    def compare(self, a: str, b: str, timeout: float) -> Outcome:
        """Whether two LaTeX answers are equal; ``timeout`` and ``error`` are outcomes too."""
        with self._slots:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                worker = _Worker(self._ctx)
                with self._lock:
                    self._all.append(worker)
            try:
                worker.conn.send((a, b))
                if worker.conn.poll(timeout):
                    result: Outcome = worker.conn.recv()
                    self._idle.put(worker)
                    return result
            except (EOFError, OSError, BrokenPipeError):
                result = "error"
            else:
                result = "timeout"
            worker.kill()
            with self._lock:
                self._all.remove(worker)
            return result

    def close(self) -> None:
        """Stops every worker."""
        with self._lock:
            for w in self._all:
                w.kill()
            self._all.clear()


_pool: SymbolicPool | None = None
_pool_lock = threading.Lock()


def equivalent(a: str, b: str, timeout: float = 5.0) -> Outcome:
    """Compares two answers with sympy in the shared worker pool."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = SymbolicPool()
            atexit.register(_pool.close)
    return _pool.compare(a, b, timeout)
