# How one test case runs a program and reports to the supervisor. Shared by the fork server's
# children (server.py) and the fresh-interpreter driver (code/driver.py): both scripts are this
# file followed by their own part.
#
# A request is one dict in marshal format (written by the supervisor, never by the program):
# sentinel, mode ("stdio", "call" or "asserts"), program, and per mode fn_name/args or
# asserts/entry_point (the fork server also reads "limits"). Results go to fd 3, never stdout,
# as one line
#     <sentinel> <KIND> <repr of a plain value>\n
# where the sentinel is random per case and known only to the supervisor and this code. The
# supervisor does every comparison; this code only serialises plain values, so objects with a
# rigged __eq__ cannot pass.
import ast
import builtins
import marshal
import os
import sys

INF = float("inf")

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


def read_request(raw):
    return marshal.loads(raw)


def reporter(sentinel):
    def report(kind, payload):
        # ascii(): one line, no surrogates to encode.
        data = (sentinel + " " + kind + " " + ascii(payload) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[os.write(3, view) :]

    return report


def run_case(req, report, prelude_needed):
    # Runs the program of `req` as __main__ and the test of its mode. What the program raises
    # propagates to the caller; the verdict messages go through `report`.
    mode = req["mode"]
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
        exec(program, ns)
    elif mode == "call":
        ns["__name__"] = "solution"
        if prelude_needed(req["program"]):
            # LeetCode/LiveCodeBench-style code assumes the judge's prelude (List, deque, ...).
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
