# Runs one call-based or assert-style test inside the sandboxed interpreter (python -c).
#
# The request arrives as one JSON object on stdin; stdin is then re-pointed at /dev/null so the
# program cannot read it. Results go to fd 3, never stdout, as one line
#     <sentinel> <KIND> <json>\n
# where the sentinel is random per run and known only to the supervisor and this driver. The
# supervisor (Rust) does every comparison; this driver only serialises plain values, so objects
# with a rigged __eq__ cannot pass.
import builtins
import json
import os
import sys

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


def _sfs_main():
    req = json.loads(sys.stdin.buffer.read())
    sentinel = req["sentinel"]
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.set_inheritable(3, False)

    def report(kind, payload, encoded=None):
        if encoded is None:
            encoded = json.dumps(payload)
        data = (sentinel + " " + kind + " " + encoded + "\n").encode("utf-8", "surrogatepass")
        view = memoryview(data)
        while view:
            view = view[os.write(3, view) :]

    def plain(value):
        t = type(value)
        if value is None or t is bool or t is int or t is float or t is str:
            return value
        if t is list or t is tuple:
            return [plain(v) for v in value]
        if t is dict:
            out = {}
            for k, v in value.items():
                if type(k) not in (str, int, float, bool) and k is not None:
                    raise TypeError("dict key of type " + type(k).__name__)
                out[k] = plain(v)
            return out
        raise TypeError("return value of type " + t.__name__)

    try:
        code = compile(req["program"], "solution.py", "exec")
    except (SyntaxError, ValueError) as e:
        report("SYNTAX", type(e).__name__ + ": " + str(e))
        return
    ns = {"__name__": "solution", "__builtins__": builtins}
    if req["mode"] == "call":
        # LeetCode/LiveCodeBench-style code assumes the judge's prelude (List, deque, inf, ...).
        exec(CALL_PRELUDE, ns)
    exec(code, ns)

    if req["mode"] == "call":
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
            encoded = json.dumps(plain(result), allow_nan=True)
        except (TypeError, ValueError, RecursionError) as e:
            report("BADTYPE", type(e).__name__ + ": " + str(e))
            return
        sys.stdout.flush()
        report("RESULT", None, encoded)
    else:
        try:
            tests = compile(req["asserts"], "tests.py", "exec")
        except (SyntaxError, ValueError) as e:
            report("TESTSYNTAX", type(e).__name__ + ": " + str(e))
            return
        ns["__name__"] = "__main__"
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


_sfs_main()
