"""Symbolic equivalence with sympy, in worker processes that are killed on overrun.

sympy can run for minutes (or forever) on hostile input such as power towers, and neither a
thread nor a signal can interrupt a long C-level computation, so every check runs in a
separate process under a hard deadline: when the deadline passes the worker is killed and a
fresh one replaces it on the next call. Workers are plain subprocesses running this file (they
never re-import the caller's ``__main__``), talking JSON lines over pipes, so the pool is safe
to use from any thread, with any multiprocessing start method, and from async code through a
worker thread. Each worker caches parsed expressions (the gold is parsed once per problem), and
the pool caches decided outcomes.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import queue
import re
import select
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from typing import Any, Literal

__all__ = ["SymbolicPool", "clear_caches", "equivalent", "latex_to_sympy"]

Outcome = Literal["equal", "different", "timeout", "error"]

_SIMPLE = [
    (r"\\log_\{([^{}]+)\}\s*\{([^{}]+)\}", r" log(\2, \1)"),
    (r"\\log_\{([^{}]+)\}\s*([0-9A-Za-z]+)", r" log(\2, \1)"),
    (r"\\log_([0-9A-Za-z])\s*\{([^{}]+)\}", r" log(\2, \1)"),
    (r"\\log_([0-9A-Za-z])\s*([0-9A-Za-z]+)", r" log(\2, \1)"),
    (r"\\left|\\right|\\!|\\,|\\;|\\:|\\quad|\\displaystyle", ""),
    (r"\\cdot|\\times", "*"),
    (r"\\div", "/"),
    (r"\\pi\b", " pi "),
    (r"\\infty", " oo "),
    (r"\\ln\b", " log"),
    (r"\\log\b", " log"),
    # `\cos^2 x` is `(cos(x))**2`; `\sin^{2}(2x)` likewise.
    (
        r"\\(sin|cos|tan|cot|sec|csc)\^\{?(\d)\}?\s*(\([^()]*\)|\{[^{}]*\}|[0-9]*[A-Za-z])",
        r" (\1(\3))**\2 ",
    ),
    (r"\\(sin|cos|tan|cot|sec|csc)\s*([0-9]+[A-Za-z]|[A-Za-z])(?![A-Za-z(])", r" \1(\2) "),
    (r"\\(sin|cos|tan|cot|sec|csc|exp)\b", r" \1"),
    (r"\\sqrt\[([^\]]+)\]\{", r"root_\1{"),
    # Square brackets used as grouping (intervals and tuples never reach this point).
    (r"\[", "("),
    (r"\]", ")"),
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


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> Any:
    from sympy.parsing.sympy_parser import (
        convert_xor,
        implicit_multiplication_application,
        parse_expr,
        standard_transformations,
    )

    transformations = (*standard_transformations, implicit_multiplication_application, convert_xor)
    return parse_expr(latex_to_sympy(text), transformations=transformations, evaluate=True)


#: Working precision (decimal digits) of the numeric identity test.
PROBE_DIGITS = 60
#: Random points tried, and how many defined ones must agree before equality is accepted.
PROBE_POINTS = 6
PROBE_AGREEING = 3
#: At a point, ``|a - b| <= AGREE * max(1, |a|, |b|)`` agrees; above ``DIFFER * ...`` the
#: expressions differ. In between the point is inconclusive and sympy decides.
PROBE_AGREE = 1e-45
PROBE_DIFFER = 1e-20
#: Fixed seed: the same pair always gets the same verdict.
PROBE_SEED = 0x5F5E


def _probe(ea: Any, eb: Any) -> Outcome | None:
    """A numeric identity test for expressions with free symbols.

    Both sides are evaluated with mpmath at ``PROBE_DIGITS`` digits at seeded random points
    (each symbol drawn from ``±[0.25, 3]``; points where either side is undefined or infinite
    are skipped). A clear difference at any point means "different" at once. Agreement at
    ``PROBE_AGREEING`` or more defined points, and no inconclusive point, means "equal".
    Otherwise (too few defined points, a borderline difference, anything unevaluable) the
    result is None and ``simplify`` decides.

    Why agreement is accepted without ``simplify``: answers are compositions of elementary
    functions, analytic where defined, so a difference that is not identically zero vanishes
    only on a set of measure zero, and independent random points almost surely miss it (for
    polynomial and rational differences this is the Schwartz-Zippel bound: a nonzero degree-d
    difference vanishes at a random point with probability at most d/|S|, negligible for
    60-digit reals). What remains is a difference smaller than 1e-45 relative to the values
    at every sampled point, which no real answer has. Borderline differences (between 1e-45
    and 1e-20 relative, such as ``x/2^{99}`` against ``x/2^{98}``) never count as
    agreement: they go to sympy, exactly as constants always do.
    """
    import random

    import mpmath  # type: ignore[import-untyped]
    import sympy

    symbols = sorted(ea.free_symbols | eb.free_symbols, key=lambda s: s.name)
    if not symbols or len(symbols) > 8:
        return None
    try:
        fa = sympy.lambdify(symbols, ea, modules="mpmath")
        fb = sympy.lambdify(symbols, eb, modules="mpmath")
    except Exception:
        return None
    rng = random.Random(PROBE_SEED)
    agreeing = 0
    with mpmath.workdps(PROBE_DIGITS):
        for _ in range(PROBE_POINTS):
            point = [mpmath.mpf(rng.choice((-1, 1)) * rng.uniform(0.25, 3.0)) for _ in symbols]
            try:
                va, vb = mpmath.mpmathify(fa(*point)), mpmath.mpmathify(fb(*point))
            except (ZeroDivisionError, ValueError, OverflowError, ArithmeticError):
                continue
            except Exception:
                return None
            if not all(mpmath.isfinite(v) for v in (va, vb)):
                continue
            scale = max(mpmath.mpf(1), abs(va), abs(vb))
            gap = abs(va - vb)
            if gap > PROBE_DIFFER * scale:
                return "different"
            if gap > PROBE_AGREE * scale:
                return None
            agreeing += 1
    return "equal" if agreeing >= PROBE_AGREEING else None


def _split_top(text: str, sep: str) -> list[str]:
    """Splits ``text`` at ``sep`` outside brackets."""
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return parts


_MATRIX = re.compile(r"^\\begin\{([pbvBV]?matrix)\}(.*)\\end\{\1\}$", re.S)


def _structure(text: str) -> tuple[str, list[str]] | None:
    """A matrix (``"matrix"`` and its cells, row by row, with the shape in the kind) or a
    bracketed tuple (its brackets and items); None for a single expression."""
    t = text.strip()
    m = _MATRIX.match(t)
    if m and "\\begin" not in m.group(2):
        rows = [r for r in m.group(2).split("\\\\") if r.strip()]
        cells = [[c.strip() for c in r.split("&")] for r in rows]
        shape = f"{m.group(1)}:{len(cells)}x{','.join(str(len(r)) for r in cells)}"
        return shape, [c for r in cells for c in r]
    if len(t) >= 2 and t[0] in "([" and t[-1] in ")]":
        inner = t[1:-1]
        depth = 0
        for i, ch in enumerate(t):
            depth += ch in "([{"
            depth -= ch in ")]}"
            if depth == 0 and i < len(t) - 1:
                return None
        items = _split_top(inner, ",")
        if len(items) >= 2:
            return t[0] + t[-1] + str(len(items)), items
    return None


def _compare(a: str, b: str, rel_tol: float = 0.0) -> Outcome:
    sa, sb = _structure(a), _structure(b)
    if sa is not None or sb is not None:
        # Matrices and tuples compare entry by entry, in order.
        if sa is None or sb is None or sa[0] != sb[0]:
            return "different"
        worst: Outcome = "equal"
        for x, y in zip(sa[1], sb[1], strict=True):
            outcome = _compare(x, y, rel_tol)
            if outcome == "different":
                return "different"
            if outcome != "equal":
                worst = outcome
        return worst
    return _compare_values(a, b, rel_tol)


#: Digits and relative agreement at which two constants sympy cannot simplify are equal.
CONSTANT_DIGITS = 100
CONSTANT_AGREE = 1e-80
#: Relative gap beyond which two constants are different without simplifying.
CONSTANT_APART = 1e-40


def _close(ea: Any, eb: Any, tol: Any, digits: int) -> bool:
    """``|a - b| <= tol * max(|a|, |b|)``, evaluated in sympy floats (no underflow), and never
    for two zeros or non-finite values."""
    import sympy

    va, vb = sympy.N(ea, digits), sympy.N(eb, digits)
    if not (va.is_finite and vb.is_finite):
        return False
    scale = sympy.Max(abs(va), abs(vb))
    return bool(scale > 0 and abs(va - vb) <= tol * scale)


def _apart(ea: Any, eb: Any) -> bool:
    """Whether two constants differ by more than ``CONSTANT_APART`` relative to their size at
    ``CONSTANT_DIGITS`` digits (so never by rounding)."""
    import sympy

    va, vb = sympy.N(ea, CONSTANT_DIGITS), sympy.N(eb, CONSTANT_DIGITS)
    if not (va.is_number and vb.is_number and va.is_finite and vb.is_finite):
        return False
    gap = abs(va - vb)
    scale = sympy.Max(abs(va), abs(vb))
    return bool(gap.is_comparable and gap > sympy.Float(CONSTANT_APART) * scale)


def _compare_values(a: str, b: str, rel_tol: float) -> Outcome:
    import sympy

    try:
        ea, eb = _parse(a), _parse(b)
    except Exception:
        return "error"
    try:
        if ea.free_symbols or eb.free_symbols:
            probed = _probe(ea, eb)
            if probed is not None:
                return probed
        constants = not ea.free_symbols and not eb.free_symbols
        if rel_tol > 0 and constants and _close(ea, eb, sympy.Float(rel_tol), 30):
            return "equal"
        if constants:
            # Two constants: their values at CONSTANT_DIGITS digits decide, before simplify
            # (which can take long on nested radicals and trigonometric products).
            if _close(ea, eb, sympy.Float(CONSTANT_AGREE), CONSTANT_DIGITS):
                return "equal"
            if _apart(ea, eb):
                return "different"
        diff = sympy.simplify(ea - eb)
        if diff == 0:
            return "equal"
        if diff.is_number and diff.free_symbols == set():
            if diff.is_Rational:
                return "different"
            # Exact zero, in sympy's arbitrary-exponent floats (a Python float would
            # underflow 1/2004! - 1/2006! to zero): no absolute tolerance equates tiny
            # magnitudes. When simplify cannot prove an identity between constants
            # (products of cosines equal to 1/16), agreement to CONSTANT_AGREE relative to
            # their size at CONSTANT_DIGITS digits does.
            value = sympy.N(diff, 30)
            if value == 0 or value.is_zero:
                return "equal"
            if constants and _close(ea, eb, sympy.Float(CONSTANT_AGREE), CONSTANT_DIGITS):
                return "equal"
            return "different"
        return "equal" if ea.equals(eb) is True else "different"
    except Exception:
        return "error"


#: Address space a worker may use (sympy on hostile input can also exhaust memory).
WORKER_MEMORY_BYTES = 2 << 30
#: Seconds a new worker may take to start (import sympy) before it counts as broken.
STARTUP_LIMIT = 60.0


def _serve() -> None:
    """Worker loop: one JSON job ``[a, b]`` per line in, one outcome per line out."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    except (ImportError, ValueError, OSError):
        pass
    import sympy  # noqa: F401 - import once, before the first job

    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        try:
            a, b, rel_tol = json.loads(line)
            result: str = _compare(str(a), str(b), float(rel_tol))
        except MemoryError:
            result = "error"
        except Exception:
            result = "error"
        out.write(result + "\n")
        out.flush()


class _Worker:
    """One worker subprocess and the bytes read from it so far."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        self.proc = subprocess.Popen(
            # -P: the package's own folder is not put on sys.path, so none of its modules can
            # shadow a standard-library module in the worker.
            [sys.executable, "-u", "-P", os.path.abspath(__file__)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        self._buf = b""
        if self.read_line(STARTUP_LIMIT) != "ready":
            self.kill()
            raise OSError("symbolic worker did not start")

    def read_line(self, timeout: float) -> str | None:
        """The next line from the worker; None when ``timeout`` passes, "" when it died."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                return ""
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line.decode("utf-8", "replace").strip()

    def send(self, a: str, b: str, rel_tol: float = 0.0) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps([a, b, rel_tol]) + "\n").encode())
        self.proc.stdin.flush()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()


class SymbolicPool:
    """Worker processes for sympy comparisons, each under a hard deadline.

    Args:
        size: Most workers alive at once (one check runs in each).
        cache_size: Decided outcomes remembered by ``(answer, gold)``.
    """

    def __init__(self, size: int = 2, cache_size: int = 8192) -> None:
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._slots = threading.Semaphore(size)
        self._lock = threading.Lock()
        self._all: list[_Worker] = []
        self._cache: OrderedDict[tuple[str, str, float], Outcome] = OrderedDict()
        self._cache_size = cache_size

    def compare(self, a: str, b: str, timeout: float, rel_tol: float = 0.0) -> Outcome:
        """Whether two LaTeX answers are equal; ``timeout`` and ``error`` are outcomes too.

        ``rel_tol`` > 0 also accepts constants whose values are that close (relatively).
        """
        key = (a, b, rel_tol)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        with self._slots:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                try:
                    worker = _Worker()
                except OSError:
                    return "error"
                with self._lock:
                    self._all.append(worker)
            try:
                worker.send(a, b, rel_tol)
                line = worker.read_line(timeout)
            except (OSError, ValueError):
                line = ""
            if line in ("equal", "different", "error"):
                self._idle.put(worker)
                result: Outcome = line  # type: ignore[assignment]
                if result != "error":
                    with self._lock:
                        self._cache[key] = result
                        if len(self._cache) > self._cache_size:
                            self._cache.popitem(last=False)
                return result
            # Overrun (None) or a dead worker (""): kill it; the next call starts a fresh one.
            worker.kill()
            with self._lock:
                self._all.remove(worker)
            return "timeout" if line is None else "error"

    def clear_cache(self) -> None:
        """Forgets every remembered outcome."""
        with self._lock:
            self._cache.clear()

    def close(self) -> None:
        """Stops every worker."""
        with self._lock:
            workers, self._all = self._all, []
        for w in workers:
            w.kill()


_pool: SymbolicPool | None = None
_pool_lock = threading.Lock()


def _shared_pool() -> SymbolicPool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = SymbolicPool()
            atexit.register(_pool.close)
        return _pool


def equivalent(a: str, b: str, timeout: float = 5.0, *, rel_tol: float = 0.0) -> Outcome:
    """Compares two answers with sympy in the shared worker pool."""
    return _shared_pool().compare(a, b, timeout, rel_tol)


def clear_caches() -> None:
    """Forgets the shared pool's remembered outcomes (workers keep their parse caches)."""
    _shared_pool().clear_cache()


if __name__ == "__main__":
    _serve()
