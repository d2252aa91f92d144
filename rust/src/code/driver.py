# The fresh-interpreter driver (python -c): case.py followed by this part. It runs one
# test case of any style. For call-based and assert-style tests the request arrives on stdin,
# which is then re-pointed at /dev/null so the program cannot read it. No json import: it would
# cost ~7 ms per case.

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
    if sys.argv[1:2] == ["stdio"]:
        # `-c DRIVER stdio <sentinel>`: the program is solution.py and stdin is its input.
        req = {"mode": "stdio", "sentinel": sys.argv[2]}
        with open("solution.py", encoding="utf-8", errors="surrogateescape") as f:
            req["program"] = f.read()
        sys.argv = ["solution.py"]
    else:
        # stdin: the request's length (8 bytes, little-endian), the request, then in asserts
        # mode the part only the evaluator reads (see case.py).
        req = read_request(read_exact(0, int.from_bytes(read_exact(0, 8), "little")))
        if req["mode"] != "asserts":
            redirect_stdin_to_null()
    os.set_inheritable(3, False)
    # The interpreter started with a small stack limit (glibc sized thread stacks by it); the
    # main thread may now grow to the hard limit for deep recursion.
    import resource

    _, stack = resource.getrlimit(resource.RLIMIT_STACK)
    resource.setrlimit(resource.RLIMIT_STACK, (stack, stack))
    like_site()
    run_case(req, uses_prelude)


_sfs_main()
