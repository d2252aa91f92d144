# Runs one call-based or assert-style test inside the sandboxed interpreter (python -c).
#
# The request arrives on stdin as one Python literal (a dict), read with eval() without builtins;
# stdin is then re-pointed at /dev/null so the program cannot read it. Results go to fd 3, never
# stdout, as one line
#     <sentinel> <KIND> <repr of a plain value>\n
# where the sentinel is random per run and known only to the supervisor and this driver. The
# supervisor (Rust) does every comparison; this driver only serialises plain values, so objects
# with a rigged __eq__ cannot pass. No json import: it would cost ~7 ms per case.
import builtins
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

# Every name CALL_PRELUDE provides (beyond builtins). Importing typing & co. costs ~10 ms, so the
# prelude only runs if one of these words occurs in the program text (a superset test: a false
# positive only costs time).
PRELUDE_NAMES = frozenset(
    """
AbstractSet Annotated Any AnyStr AsyncContextManager AsyncGenerator AsyncIterable
AsyncIterator Awaitable BinaryIO ByteString Callable ChainMap ClassVar Collection
Concatenate Container ContextManager Coroutine Counter DefaultDict Deque Dict Final
ForwardRef FrozenSet Generator Generic Hashable IO ItemsView Iterable Iterator KeysView List
Literal LiteralString Mapping MappingView Match MutableMapping MutableSequence MutableSet
NamedTuple Never NewType NoReturn NotRequired Optional OrderedDict ParamSpec ParamSpecArgs
ParamSpecKwargs Pattern Protocol Required Reversible Self Sequence Set Sized SupportsAbs
SupportsBytes SupportsComplex SupportsFloat SupportsIndex SupportsInt SupportsRound
TYPE_CHECKING Text TextIO Tuple Type TypeAlias TypeGuard TypeVar TypeVarTuple TypedDict
Union Unpack UserDict UserList UserString ValuesView WRAPPER_ASSIGNMENTS WRAPPER_UPDATES
accumulate acos acosh asin asinh assert_never assert_type atan atan2 atanh bisect
bisect_left bisect_right cache cached_property cast cbrt ceil chain clear_overloads
cmp_to_key collections comb combinations combinations_with_replacement compress copysign cos
cosh count cycle dataclass_transform defaultdict degrees deque dist dropwhile e erf erfc exp
exp2 expm1 fabs factorial filterfalse final floor fmod frexp fsum functools gamma gcd
get_args get_origin get_overloads get_type_hints groupby heapify heappop heappush
heappushpop heapq heapreplace hypot inf insort insort_left insort_right is_typeddict isclose
isfinite isinf islice isnan isqrt itertools lcm ldexp lgamma log log10 log1p log2 lru_cache
math merge modf namedtuple nan nextafter nlargest no_type_check no_type_check_decorator
nsmallest operator overload pairwise partial partialmethod perm permutations pi prod product
radians re reduce remainder repeat reveal_type runtime_checkable sin singledispatch
singledispatchmethod sinh sqrt starmap string sys takewhile tan tanh tau tee total_ordering
trunc ulp update_wrapper wraps zip_longest
""".split()
)


def uses_prelude(program):
    not_ident = {c: " " for c in range(128) if not (chr(c).isalnum() or chr(c) == "_")}
    return not PRELUDE_NAMES.isdisjoint(program.translate(not_ident).split())


def _sfs_main():
    literal = sys.stdin.buffer.read().decode("utf-8")
    req = eval(literal, {"__builtins__": {}, "nan": float("nan"), "inf": float("inf")})
    del literal
    sentinel = req["sentinel"]
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.set_inheritable(3, False)

    def report(kind, payload):
        # ascii(): one line, no surrogates to encode.
        data = (sentinel + " " + kind + " " + ascii(payload) + "\n").encode()
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

    try:
        code = compile(req["program"], "solution.py", "exec")
    except (SyntaxError, ValueError) as e:
        report("SYNTAX", type(e).__name__ + ": " + str(e))
        return
    ns = {"__name__": "solution", "__builtins__": builtins}
    if req["mode"] == "call" and uses_prelude(req["program"]):
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
            value = plain(result)
        except (TypeError, RecursionError) as e:
            report("BADTYPE", type(e).__name__ + ": " + str(e))
            return
        sys.stdout.flush()
        report("RESULT", value)
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
