# How one test case runs a program and reports to the supervisor. Shared by the fork server's
# children (serve.py, then the sandbox's server.py) and the fresh-interpreter driver
# (driver.py): both scripts are this file followed by their own part.
#
# A request is one dict in marshal format (written by the supervisor, never by the program):
# mode ("stdio", "call" or "asserts"), program, per mode fn_name/args or entry_point, and for
# stdio/call the sentinel. Results go to fd 3, never stdout, as one line
#     <sentinel> <KIND> <repr of a plain value>\n
# where the sentinel is random per case and known only to the supervisor and this code. In
# stdio and call mode the supervisor does every comparison and the expected values never
# enter the child, so a program that forges the line only gains what returning a value gives.
#
# Assert-style tests hold their expected values, so they never run in the program's process:
# this process (the evaluator) forks the program's process first, and only then reads the
# sentinel and the test code from stdin (the supervisor's pipe, which the program's process
# replaced by /dev/null before any of its code ran). The program's process has neither the
# result pipe, nor the sentinel, nor the test code in its memory; it only answers calls
# (function name or handle, plain arguments) with plain data, serialised there and checked
# here, so frame walking, patched builtins, rigged __eq__/__bool__ and reading the tests all
# fail. The evaluator is non-dumpable, so the program cannot ptrace it or open its /proc files.
import builtins
import marshal
import os
import signal
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
    (type(None), bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset)
)
# Plain module-level values of the program larger than this reach the tests as handles.
MAX_SHARED_VALUE = 1 << 20


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


def like_site():
    # What the site module gives a plain interpreter, without running any .pth file or
    # sitecustomize: both paths start the interpreter with -S, so that whatever such hooks
    # import (a CA bundle, an editable install's finder) stays out of the sandbox (and out of
    # every case's pages). Here: the builtins exit, quit, help, copyright, credits and license,
    # and the site-packages on sys.path, a virtual environment's (its pyvenv.cfg) recognised as
    # the site module would. Imported under -S, the site module runs nothing by itself.
    import site

    site.setquit()
    site.setcopyright()
    site.sethelper()
    prefixes = [sys.prefix, sys.exec_prefix]
    exe_dir = os.path.dirname(os.path.abspath(sys.executable))
    venv = os.path.dirname(exe_dir)
    for conf in (os.path.join(exe_dir, "pyvenv.cfg"), os.path.join(venv, "pyvenv.cfg")):
        if os.path.isfile(conf):
            with open(conf, encoding="utf-8") as f:
                system = any(
                    key.strip().lower() == "include-system-site-packages"
                    and value.strip().lower() == "true"
                    for key, _, value in (line.partition("=") for line in f)
                )
            prefixes = [venv, *prefixes] if system else [venv]
            sys.prefix = sys.exec_prefix = venv
            break
    for path in site.getsitepackages(prefixes):
        if path not in sys.path and os.path.isdir(path):
            sys.path.append(path)


def read_request(raw):
    return marshal.loads(raw)


def read_exact(fd, n):
    chunks = []
    while n:
        b = os.read(fd, min(n, 1 << 20))
        if not b:
            raise EOFError
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def read_all(fd):
    chunks = []
    while True:
        b = os.read(fd, 1 << 20)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def reporter(sentinel):
    def report(kind, payload):
        # ascii(): one line, no surrogates to encode.
        write_all(3, (sentinel + " " + kind + " " + ascii(payload) + "\n").encode())

    return report


def redirect_stdin_to_null():
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)


def main_namespace():
    module = type(sys)("__main__")
    ns = module.__dict__
    ns["__builtins__"] = builtins
    ns["__file__"] = "solution.py"
    sys.modules["__main__"] = module
    return ns


def compile_program(text, report, module_return=False):
    try:
        return compile(text, "solution.py", "exec")
    except (SyntaxError, ValueError) as e:
        if module_return and isinstance(e, SyntaxError) and e.msg == "'return' outside function":
            try:
                return compile_with_module_return(text)
            except (SyntaxError, ValueError):
                pass
        report("SYNTAX", type(e).__name__ + ": " + str(e))
        return None


def compile_with_module_return(text):
    # The APPS and LiveCodeBench harnesses run a stdin program as the body of a function, so a
    # `return` at module level ends the program there (APPS reference solutions rely on it).
    # Here it ends the program the same way: `return x` becomes `x; raise SystemExit`.
    import ast

    class ModuleReturn(ast.NodeTransformer):
        def visit_FunctionDef(self, node):
            return node  # a return in there is an ordinary one

        visit_AsyncFunctionDef = visit_ClassDef = visit_Lambda = visit_FunctionDef

        def visit_Return(self, node):
            stop = ast.Raise(exc=ast.Name(id="SystemExit", ctx=ast.Load()), cause=None)
            done = [ast.Expr(value=node.value), stop] if node.value is not None else [stop]
            return [ast.copy_location(s, node) for s in done]

    tree = ModuleReturn().visit(ast.parse(text, "solution.py"))
    return compile(ast.fix_missing_locations(tree), "solution.py", "exec")


def run_case(req, prelude_needed):
    # Runs the program of `req` as __main__ and the test of its mode. What the program raises
    # propagates to the caller; the verdict messages go to fd 3.
    mode = req["mode"]
    if mode == "asserts":
        evaluate_asserts(req)
        return
    report = reporter(req["sentinel"])
    # "code": the program as compiled by the fork server (see serve.py), if it compiled cleanly.
    program = req.get("code") or compile_program(
        req["program"], report, module_return=mode == "stdio"
    )
    if program is None:
        return
    ns = main_namespace()
    if mode == "stdio":
        exec(program, ns)
        return
    ns["__name__"] = "solution"
    if prelude_needed(req["program"]):
        # LeetCode/LiveCodeBench-style code assumes the judge's prelude (List, deque, ...).
        exec(req.get("prelude", CALL_PRELUDE), ns)
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
        try:
            value = plain(result)
        except TypeError:
            # Subclasses of built-in types (namedtuple, IntEnum, Counter) as their base type.
            value = plain(builtin_copy(result))
    except (TypeError, ValueError, RecursionError) as e:
        report("BADTYPE", type(e).__name__ + ": " + str(e))
        return
    sys.stdout.flush()
    report("RESULT", value)


def finish(body):
    # Runs body() and ends the process as the interpreter would after running a script:
    # SystemExit's code, a traceback and status 1 for anything else, non-daemon threads
    # joined, streams flushed. Never returns.
    code = 0
    try:
        body()
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
    except BaseException as e:
        try:
            # The interpreter's own report of an uncaught exception (written in C: no
            # traceback module, whose 1.3 MB the fork server would otherwise hold).
            sys.__excepthook__(type(e), e, e.__traceback__)
        except BaseException:
            pass
        code = 1
    finally:
        threading = sys.modules.get("threading")
        if threading is not None:
            try:
                threading._shutdown()
            except BaseException:
                pass
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        os._exit(code)


# ---- assert-style tests: the program's process ----------------------------------------------


def frame(data):
    return len(data).to_bytes(8, "little") + data


def send(fd, message):
    write_all(fd, frame(marshal.dumps(message)))


def receive(fd):
    return marshal.loads(read_exact(fd, int.from_bytes(read_exact(fd, 8), "little")))


def builtin_copy(value, depth=0):
    # A copy made only of built-in types, for values built from subclasses of them (Counter,
    # OrderedDict, defaultdict, namedtuple, IntEnum, ...), read through the base types' own
    # methods so no override runs. The copy compares as the value would against built-in data,
    # and whatever it holds the program could have returned directly. ValueError if not possible.
    t = type(value)
    if value is None or t is bool or t is int or t is float or t is str or t is bytes:
        return value
    if depth > 200:
        raise ValueError("nested too deeply")
    if isinstance(value, dict):
        return {
            builtin_copy(k, depth + 1): builtin_copy(v, depth + 1) for k, v in dict.items(value)
        }
    for base in (list, tuple, set, frozenset):
        if isinstance(value, base):
            return base(builtin_copy(v, depth + 1) for v in base.__iter__(value))
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if t is complex:
        return value
    raise ValueError("a value of type " + t.__name__ + " is not built-in data")


def serve_program(text, calls, replies, code=None):
    # The program's process: runs the program (`code` if the fork server compiled it), then
    # answers the evaluator's calls until EOF.
    objects = []

    def encode(value, limit=None):
        # ("v", value) for built-in data (the evaluator checks every type), else a handle.
        for attempt in (lambda: value, lambda: builtin_copy(value)):
            try:
                plain = attempt()
                data = marshal.dumps(plain)
            except (ValueError, TypeError, RecursionError):
                continue
            if limit is None or len(data) <= limit:
                return ("v", plain)
            break
        objects.append(value)
        return ("h", len(objects) - 1)

    def decode(item):
        return objects[item[1]] if item[0] == "h" else item[1]

    def perform(op, obj, args, kwargs):
        # One request of the evaluator: the result, and for a call the final state of its
        # list, dict and set arguments (what the function did to them).
        if op == "call":
            args = [decode(a) for a in args]
            result = obj(*args, **{k: decode(v) for k, v in kwargs.items()})
            return result, [a if type(a) in (list, dict, set) else None for a in args]
        if op == "getattr":
            return getattr(obj, args), None
        if op == "setattr":
            setattr(obj, args[0], decode(args[1]))
        elif op == "getitem":
            return obj[decode(args)], None
        elif op == "setitem":
            obj[decode(args[0])] = decode(args[1])
        elif op == "len":
            return len(obj), None
        elif op == "iter":
            return list(obj), None
        return None, None

    def body():
        program = code or compile_program(
            text, lambda kind, payload: send(replies, ("syntax", payload))
        )
        if program is None:
            return
        ns = main_namespace()
        exec(program, ns)
        names = {}
        for name, value in list(ns.items()):
            if not (name.startswith("__") and name.endswith("__")):
                names[name] = encode(value, MAX_SHARED_VALUE)
        send(replies, ("ready", names))
        while True:
            try:
                op, target, args, kwargs = receive(calls)
            except EOFError:
                return
            try:
                result, after = perform(op, objects[target], args, kwargs)
                try:
                    data = marshal.dumps(("ok", ("v", result), after))
                except (ValueError, RecursionError):
                    data = marshal.dumps(("ok", encode(result), after))
                data = frame(data)
            except Exception as e:
                names = [c.__name__ for c in type(e).__mro__]
                try:
                    message = str(e)
                except Exception:
                    message = ""
                data = frame(marshal.dumps(("raise", names, message)))
            write_all(replies, data)

    finish(body)


# ---- assert-style tests: the evaluator --------------------------------------------------------


class Channel:
    def __init__(self, pid, calls, replies):
        self.pid = pid
        self.calls = calls
        self.replies = replies

    def ask(self, op, target, args, kwargs):
        try:
            send(self.calls, (op, target, args, kwargs))
            data = read_exact(self.replies, int.from_bytes(read_exact(self.replies, 8), "little"))
        except (EOFError, BrokenPipeError):
            self.mirror_exit()
        reply = trusted(marshal.loads(data))
        if type(reply) is not tuple or not reply:
            raise AssertionError("malformed reply from the program")
        if reply[0] == "raise":
            raise program_exception(reply[1], reply[2])
        return reply

    def mirror_exit(self):
        # The program's process ended (exit(), a signal, a limit): end this process the same
        # way, so the supervisor sees the program's own status.
        _, status = os.waitpid(self.pid, 0)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), sig)
            os.kill(os.getpid(), signal.SIGKILL)
        os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def program_exception(names, message):
    # The nearest built-in exception class of what the program raised (so a test expecting
    # ValueError still catches a subclass of it); SystemExit & co. never cross.
    if type(names) is not list or type(message) is not str:
        return AssertionError("malformed exception from the program")
    error = RuntimeError(message)
    for name in names:
        cls = getattr(builtins, name, None) if type(name) is str else None
        if isinstance(cls, type) and issubclass(cls, Exception):
            try:
                error = cls(message)
            except Exception:
                pass
            break
    error._sfs_program = True  # raised by the program, not a failed test
    return error


def failed_assertion(error, tests_text):
    # "<the test's line> (tests.py line N): <message>" for the innermost line of the tests.
    line = 0
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "tests.py":
            line = tb.tb_lineno
        tb = tb.tb_next
    lines = tests_text.splitlines()
    where = lines[line - 1].strip() + " (tests.py line %d)" % line if 0 < line <= len(lines) else ""
    text = str(error)
    return where + (": " + text if where and text else text) or "assertion failed"


def trusted(value, depth=0):
    # A value made only of built-in types compares and tests truth by built-in rules.
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


def make_remote(channel):
    def value_of(item):
        if type(item) is not tuple or len(item) != 2:
            raise AssertionError("malformed value from the program")
        if item[0] == "v":
            return item[1]
        if item[0] != "h" or type(item[1]) is not int:
            raise AssertionError("malformed value from the program")
        return Remote(item[1])

    def argument(value):
        if type(value) is Remote:
            return ("h", object.__getattribute__(value, "_sfs_id"))
        try:
            marshal.dumps(value)
        except ValueError:
            raise TypeError("cannot pass a " + type(value).__name__ + " to the program") from None
        return ("v", value)

    def refuse(self, *args):
        raise AssertionError("the program returned an object that is not plain data")

    def ask(remote, op, args):
        return channel.ask(op, object.__getattribute__(remote, "_sfs_id"), args, {})

    class Remote:
        # An object that lives in the program's process: it can be called, its attributes
        # read and its items listed; everything else (==, bool, hash, ...) fails the test.
        __slots__ = ("_sfs_id",)

        def __init__(self, ident):
            object.__setattr__(self, "_sfs_id", ident)

        def __call__(self, *args, **kwargs):
            sent = [argument(a) for a in args]
            reply = channel.ask(
                "call",
                object.__getattribute__(self, "_sfs_id"),
                sent,
                {k: argument(v) for k, v in kwargs.items()},
            )
            for original, new in zip(args, reply[2] or ()):
                # What the function did to a list, dict or set argument, done here too.
                if new is None or type(original) is not type(new):
                    continue
                if type(original) is list:
                    original[:] = new
                else:
                    original.clear()
                    original.update(new)
            return value_of(reply[1])

        def __getattr__(self, name):
            return value_of(ask(self, "getattr", name)[1])

        def __setattr__(self, name, value):
            ask(self, "setattr", (name, argument(value)))

        def __getitem__(self, key):
            return value_of(ask(self, "getitem", argument(key))[1])

        def __setitem__(self, key, value):
            ask(self, "setitem", (argument(key), argument(value)))

        def __len__(self):
            return value_of(ask(self, "len", None)[1])

        def __iter__(self):
            return iter(value_of(ask(self, "iter", None)[1]))

        def __contains__(self, item):
            # Membership by the built-in rules, over the items listed in the program.
            return item in value_of(ask(self, "iter", None)[1])

        def __repr__(self):
            return "<object of the program>"

        __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = refuse
        __bool__ = __hash__ = refuse
        __int__ = __float__ = __index__ = __str__ = __format__ = __delattr__ = refuse

    return Remote, value_of


def evaluate_asserts(req):
    calls_r, calls_w = os.pipe()
    replies_r, replies_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        # Before any of the program's code runs: no stdin (it carries the secret part), no
        # result pipe, no end of the channel but its own.
        redirect_stdin_to_null()
        os.close(3)
        os.close(calls_w)
        os.close(replies_r)
        serve_program(req["program"], calls_r, replies_w, req.get("code"))
    os.close(calls_r)
    os.close(replies_w)
    secret = read_all(0).decode("utf-8", "surrogatepass")
    redirect_stdin_to_null()
    sentinel, _, tests_text = secret.partition("\n")
    report = reporter(sentinel)
    # Nothing the program writes (working directory, /tmp) may be imported by the tests.
    sys.path[:] = [p for p in sys.path if p and os.path.isabs(p) and p != os.getcwd()]
    channel = Channel(pid, calls_w, replies_r)
    try:
        try:
            tests = compile(tests_text, "tests.py", "exec")
        except (SyntaxError, ValueError) as e:
            report("TESTSYNTAX", type(e).__name__ + ": " + str(e))
            return
        try:
            first = receive(replies_r)
        except EOFError:
            channel.mirror_exit()
        first = trusted(first)
        if first[0] == "syntax":
            report("SYNTAX", first[1])
            return
        Remote, value_of = make_remote(channel)
        ns = main_namespace()
        for name, item in first[1].items():
            ns[name] = value_of(item)
        entry = req.get("entry_point")
        if entry and entry not in first[1]:
            report("NOFN", entry)
            return
        try:
            exec(tests, ns)
            check = ns.get("check")
            # check(entry_point) when the tests define check (not when the program does).
            if entry and callable(check) and type(check) is not Remote:
                check(ns[entry])
        except AssertionError as e:
            if getattr(e, "_sfs_program", False):
                raise
            report("FAILED", failed_assertion(e, tests_text))
            return
        sys.stdout.flush()
        report("PASSED", None)
    finally:
        os.close(calls_w)
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
