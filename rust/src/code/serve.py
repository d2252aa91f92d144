# The fork server's part of the case code: case.py followed by this, which the sandbox's
# server.py continues (see forkserver.rs). Run once when a server starts: what
# competitive-programming code commonly imports is loaded here, so that every case starts warm.
# Rarer modules (decimal, fractions, random, statistics, datetime: about 1.3 MB together) are
# left to the programs that use them: each page the server holds costs every case, in fork and
# exit.
import bisect, collections, copy, functools, heapq, itertools, math, operator, re  # noqa
import string, typing, array  # noqa

# The first compile() of a process builds the ~120 AST node types (about 2 ms): once, here.
compile("", "<warm-up>", "exec")


def serve_case(request):
    # Called by the server in the case's process, once its standard streams (stdin is
    # /dev/null in call mode), working directory, limits and uid are in place. Never returns.
    req = read_request(request)
    del request
    sys.argv = ["solution.py"]
    finish(lambda: run_case(req, lambda program: True))
