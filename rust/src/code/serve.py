# The fork server's part of the case code: case.py followed by this, which the sandbox's
# server.py continues (see forkserver.rs). Run once when a server starts: what
# competitive-programming code commonly imports is loaded here, so that every case starts warm.
# Rarer modules (decimal, fractions, random, statistics, datetime: about 1.3 MB together) are
# left to the programs that use them: each page the server holds costs every case, in fork and
# exit.
import bisect, collections, copy, functools, heapq, itertools, math, operator, re  # noqa
import string, typing, array  # noqa
import _warnings

like_site()

# The first compile() of a process builds the ~120 AST node types (about 2 ms): once, here.
compile("", "<warm-up>", "exec")
# Call-based cases run the judge's prelude before the program: compiled once, here.
CALL_PRELUDE_CODE = compile(CALL_PRELUDE, "<prelude>", "exec")
# Programs up to this size are compiled by the server, larger ones in the case's process.
PRECOMPILE_MAX = 1 << 17
# Any warning while the server compiles: the case's process compiles again, so that the
# warning reaches the case's stderr as it would from the program's own compile.
WARNINGS_AS_ERRORS = ("error", None, Warning, None, 0)


def prepare_case(request):
    # Called by the server, before it forks the case's process: the request decoded and the
    # program compiled there, once per program (the cases of a sample share the code object;
    # each process writes only to its own copy of it). Each page a case's process writes is a
    # copy of the server's page (about two microseconds each), and a compile in there writes
    # a hundred. The server compiles nothing it runs; what does not compile cleanly (a syntax
    # error, a warning, an APPS-style module-level return) is left to the case's process,
    # which compiles it again and reports the error from there, as if no server had tried.
    req = read_request(request)
    program = req.get("program")
    if req.get("mode") in ("stdio", "call", "asserts") and type(program) is str:
        kept = [pair for pair in COMPILED if pair[0] == program]
        code = kept[0][1] if kept else server_compile(program)
        # Most recent first: a sample's program and its checker alternate.
        COMPILED[:] = [(program, code), *(pair for pair in COMPILED if pair[0] != program)][:2]
        if code is not None:
            req["code"] = code
    if req.get("mode") == "call":
        req["prelude"] = CALL_PRELUDE_CODE
    return req


# The last two programs prepare_case saw with their code objects (None: left to the case's
# process), the most recent first.
COMPILED = []


def server_compile(program):
    filters = getattr(_warnings, "filters", None)
    if len(program) > PRECOMPILE_MAX or type(filters) is not list:
        return None
    filters.insert(0, WARNINGS_AS_ERRORS)
    _warnings._filters_mutated()
    try:
        return compile(program, "solution.py", "exec")
    except Exception:
        return None
    finally:
        filters.remove(WARNINGS_AS_ERRORS)
        _warnings._filters_mutated()


def serve_case(req):
    # Called by the server in the case's process with what prepare_case returned, once its
    # standard streams (stdin is /dev/null in call mode), working directory, limits and uid
    # are in place. Never returns.
    sys.argv = ["solution.py"]
    finish(lambda: run_case(req, lambda program: True))
