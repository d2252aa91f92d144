//! `run_tests` end to end against the real interpreter.

use super::*;
use std::time::Instant;

fn opts(time_limit_s: f64) -> RunOptions {
    RunOptions {
        time_limit_s,
        ..RunOptions::default()
    }
}

/// The interpreter for the fresh-interpreter path: as root that path runs code as nobody, who
/// must be able to execute it, so prefer the system's interpreter over one under a private home.
fn fallback_python() -> Option<std::path::PathBuf> {
    let system = std::path::Path::new("/usr/bin/python3");
    system.exists().then(|| system.to_path_buf())
}

fn check(program: &str, tests: &str) -> CodeCheck {
    run_tests(program, tests, &opts(4.0)).unwrap()
}

const SUM_TESTS: &str =
    r#"{"inputs": ["1 2\n", "10 -3\n", "0 0\n"], "outputs": ["3\n", "7\n", "0\n"]}"#;

#[test]
fn stdio_correct_and_wrong() {
    let c = check(
        "a, b = map(int, input().split())\nprint(a + b)\n",
        SUM_TESTS,
    );
    assert_eq!(
        (c.status, c.passed, c.total),
        (CodeStatus::Correct, 3, 3),
        "{c:?}"
    );
    assert!(c.detail.is_none());

    let c = check(
        "a, b = map(int, input().split())\nprint(a * b if a == 10 else a + b)\n",
        SUM_TESTS,
    );
    assert_eq!(
        (c.status, c.passed, c.total),
        (CodeStatus::WrongAnswer, 1, 3),
        "{c:?}"
    );
    assert_eq!(c.cases.len(), 2, "stops at the first failure");
    assert!(
        c.detail.as_deref().unwrap().starts_with("case 2: line 1"),
        "{c:?}"
    );

    let all = RunOptions {
        stop_on_first_failure: false,
        ..opts(4.0)
    };
    let c = run_tests(
        "a, b = map(int, input().split())\nprint(a * b if a == 10 else a + b)\n",
        SUM_TESTS,
        &all,
    )
    .unwrap();
    assert_eq!(
        (c.status, c.passed, c.cases.len()),
        (CodeStatus::WrongAnswer, 2, 3),
        "{c:?}"
    );
}

#[test]
fn stdio_reads_stdin_buffer_and_main_guard() {
    let prog = "import sys\ndef main():\n    a, b = map(int, sys.stdin.buffer.read().split())\n    sys.stdout.write(f'{a+b}\\n')\nif __name__ == '__main__':\n    main()\n";
    assert_eq!(check(prog, SUM_TESTS).status, CodeStatus::Correct);
}

#[test]
fn stdio_list_of_lines_inputs() {
    let tests = r#"{"inputs": [["2", "3 4"]], "outputs": [["7"]]}"#;
    let prog = "input()\nprint(sum(map(int, input().split())))";
    assert_eq!(check(prog, tests).status, CodeStatus::Correct);
}

#[test]
fn syntax_error_stops_immediately() {
    let all = RunOptions {
        stop_on_first_failure: false,
        ..opts(4.0)
    };
    let c = run_tests("def f(:\n  pass\n", SUM_TESTS, &all).unwrap();
    assert_eq!(c.status, CodeStatus::SyntaxError, "{c:?}");
    assert_eq!(c.cases.len(), 1);
    assert!(c.detail.unwrap().contains("SyntaxError"));
    let c = check("if True:\nprint(1)\n", SUM_TESTS);
    assert_eq!(c.status, CodeStatus::SyntaxError, "{c:?}");
    // a SyntaxError raised at run time is a runtime error
    let c = check("eval('1 +')", SUM_TESTS);
    assert_eq!(c.status, CodeStatus::RuntimeError, "{c:?}");
}

#[test]
fn runtime_error_detail() {
    let c = check("print(1 // 0)", SUM_TESTS);
    assert_eq!(c.status, CodeStatus::RuntimeError);
    assert_eq!(
        c.detail.as_deref(),
        Some("case 1: ZeroDivisionError: integer division or modulo by zero")
    );
    let c = check("import sys\nsys.exit(2)", SUM_TESTS);
    assert_eq!(
        (c.status, c.detail.as_deref()),
        (CodeStatus::RuntimeError, Some("case 1: exit status 2"))
    );
}

#[test]
fn infinite_loop_is_a_timeout_within_the_limit() {
    let start = Instant::now();
    let c = run_tests("while True: pass", SUM_TESTS, &opts(1.0)).unwrap();
    assert_eq!(c.status, CodeStatus::Timeout, "{c:?}");
    assert!(
        start.elapsed() < Duration::from_millis(1600),
        "{:?}",
        start.elapsed()
    );
    let c = run_tests("import time\ntime.sleep(10)", SUM_TESTS, &opts(0.5)).unwrap();
    assert_eq!(c.status, CodeStatus::Timeout, "{c:?}");
    assert!(c.detail.unwrap().contains("wall-clock"));
}

#[test]
fn memory_limit() {
    let o = RunOptions {
        memory_mb: 256,
        ..opts(5.0)
    };
    let c = run_tests("x = [0] * (10 ** 9)", SUM_TESTS, &o).unwrap();
    assert_eq!(c.status, CodeStatus::MemoryLimit, "{c:?}");
    let c = run_tests("s = 'x' * (2 << 30)", SUM_TESTS, &o).unwrap();
    assert_eq!(c.status, CodeStatus::MemoryLimit, "{c:?}");
}

#[test]
fn output_limit_is_fast() {
    let start = Instant::now();
    let c = check(
        "import sys\nwhile True: sys.stdout.write('y' * 100000)",
        SUM_TESTS,
    );
    assert_eq!(c.status, CodeStatus::OutputLimit, "{c:?}");
    // Cut at the cap, not at the time limit (generous: the machine may be busy).
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn no_code() {
    let c = check("  \n", SUM_TESTS);
    assert_eq!((c.status, c.passed, c.total), (CodeStatus::NoCode, 0, 3));
}

#[test]
fn malformed_tests_are_errors() {
    for bad in [
        "",
        "[]",
        "{}",
        r#"{"inputs": ["1"], "outputs": []}"#,
        r#"{"inputs": [], "outputs": []}"#,
        r#"{"inputs": [1], "outputs": ["1"], "fn_name": "f"}"#,
        r#"{"inputs": [{"a": 1}], "outputs": ["1"]}"#,
        r#"{"inputs": [[1]], "outputs": [1], "fn_name": 3}"#,
        r#"{"asserts": 5}"#,
    ] {
        assert!(
            matches!(
                run_tests("print(1)", bad, &opts(1.0)),
                Err(Error::InvalidInput(_))
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        run_tests("print(1)", SUM_TESTS, &opts(f64::NAN)),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        run_tests("print(1)", SUM_TESTS, &opts(-1.0)),
        Err(Error::InvalidInput(_))
    ));
}

/// APPS-shaped call-based tests: the expected values are stored as `[value]`, which only the
/// `apps` judge unwraps.
const CALL_TESTS: &str = r#"{"fn_name": "add", "inputs": [[1, 2], [[1, 2], [3]], [0.1, 0.2]], "outputs": [[3], [[1, 2, 3]], 0.3], "judge": "apps"}"#;

#[test]
fn call_based_module_function() {
    let c = check(
        "def add(a, b):\n    print('noise')\n    return a + b\n",
        CALL_TESTS,
    );
    assert_eq!((c.status, c.passed), (CodeStatus::Correct, 3), "{c:?}");
    // tuples equal lists
    let c = check(
        "def add(a, b):\n    r = a + b\n    return tuple(r) if isinstance(r, list) else r\n",
        CALL_TESTS,
    );
    assert_eq!(c.status, CodeStatus::Correct, "{c:?}");
    let c = check("def add(a, b):\n    return a - b\n", CALL_TESTS);
    assert_eq!(c.status, CodeStatus::WrongAnswer, "{c:?}");
}

#[test]
fn call_based_solution_class() {
    let prog = "from typing import List\nclass Solution:\n    def add(self, a, b):\n        return a + b\n";
    let c = check(prog, CALL_TESTS);
    assert_eq!(c.status, CodeStatus::Correct, "{c:?}");
    // Names from the judge's prelude work without imports...
    let prelude = "def add(a, b):\n    d = deque([a])\n    return reduce(lambda x, y: x + y, [d.popleft(), b])\n";
    assert_eq!(check(prelude, CALL_TESTS).status, CodeStatus::Correct);
    let c = check("def other(): pass\n", CALL_TESTS);
    assert_eq!(c.status, CodeStatus::RuntimeError, "{c:?}");
    assert!(c.detail.unwrap().contains("not found"));
}

#[test]
fn call_based_big_ints_and_rigged_eq() {
    let tests = r#"{"fn_name": "f", "inputs": [[]], "outputs": [123456789012345678901234567890]}"#;
    assert_eq!(
        check("def f(): return 123456789012345678901234567890", tests).status,
        CodeStatus::Correct
    );
    assert_eq!(
        check("def f(): return 123456789012345678901234567891", tests).status,
        CodeStatus::WrongAnswer
    );
    // An object that claims equality with everything is not a plain value.
    let rigged = "class A:\n    def __eq__(self, o): return True\ndef f(): return A()\n";
    let c = check(rigged, tests);
    assert_eq!(c.status, CodeStatus::WrongAnswer, "{c:?}");
}

#[test]
fn call_based_main_guard_and_stdin_are_inert() {
    let prog = "def add(a, b): return a + b\nif __name__ == '__main__':\n    print(add(*map(int, input().split())))\n";
    assert_eq!(check(prog, CALL_TESTS).status, CodeStatus::Correct);
    let reads =
        "import sys\ndata = sys.stdin.read()\ndef add(a, b): return a + b if not data else None\n";
    let c = check(reads, CALL_TESTS);
    assert_eq!(c.status, CodeStatus::Correct, "{c:?}");
}

#[test]
fn call_based_forged_result_does_not_pass() {
    let prog = "import os\nos.write(3, b'0000 RESULT [3]\\n')\ndef add(a, b): return None\n";
    assert_eq!(check(prog, CALL_TESTS).status, CodeStatus::WrongAnswer);
    let exits = "import os\ndef add(a, b): os._exit(0)\n";
    assert_eq!(check(exits, CALL_TESTS).status, CodeStatus::RuntimeError);
}

#[test]
fn call_based_syntax_error() {
    let c = check("def add(a, b)\n    return a + b\n", CALL_TESTS);
    assert_eq!(c.status, CodeStatus::SyntaxError, "{c:?}");
}

#[test]
fn asserts_style() {
    let prog = "def add(a, b):\n    return a + b\n";
    let tests = r#"{"asserts": "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-1, 1) == 0\n", "entry_point": "add"}"#;
    assert_eq!(check(prog, tests).status, CodeStatus::Correct);
    let explicit = r#"{"asserts": "assert add(1, 2) == 3\nassert add(2, 2) == 4\n"}"#;
    assert_eq!(check(prog, explicit).status, CodeStatus::Correct);
    // a failed assertion is a wrong answer, reported with the test's line
    let c = check("def add(a, b):\n    return a * b\n", tests);
    assert_eq!(c.status, CodeStatus::WrongAnswer, "{c:?}");
    assert_eq!(
        c.cases[0].detail.as_deref(),
        Some("assert candidate(1, 2) == 3 (tests.py line 2)")
    );
    // what the program raises is a runtime error, even an AssertionError of its own
    for body in ["raise ValueError('no')", "assert a < 0, 'mine'"] {
        let c = check(&format!("def add(a, b):\n    {body}\n"), tests);
        assert_eq!(c.status, CodeStatus::RuntimeError, "{c:?}");
    }
    // the tests see the program's module-level data and what a call did to its arguments
    let shared = "LIMIT = 3\ndef push(xs, x):\n    xs.append(x)\n";
    let uses = r#"{"asserts": "xs = [1]\npush(xs, 2)\nassert xs == [1, 2] and LIMIT == 3\n"}"#;
    assert_eq!(check(shared, uses).status, CodeStatus::Correct);
    // exiting with status 0 before the asserts ran is not a pass
    let c = check("import sys\ndef add(a, b): return 0\nsys.exit(0)\n", tests);
    assert_eq!(c.status, CodeStatus::RuntimeError, "{c:?}");
    let c = check("import os\ndef add(a, b):\n    os._exit(0)\n", tests);
    assert_eq!(c.status, CodeStatus::RuntimeError, "{c:?}");
    // broken test code is the caller's problem
    let broken = r#"{"asserts": "assert (", "entry_point": "add"}"#;
    assert!(matches!(
        run_tests(prog, broken, &opts(4.0)),
        Err(Error::InvalidInput(_))
    ));
}

#[test]
fn threads_are_independent() {
    let handles: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let prog = if i % 2 == 0 {
                    "a, b = map(int, input().split())\nprint(a + b)\n"
                } else {
                    "print('nope')"
                };
                let c = check(prog, SUM_TESTS);
                let want = if i % 2 == 0 {
                    CodeStatus::Correct
                } else {
                    CodeStatus::WrongAnswer
                };
                assert_eq!(c.status, want, "{c:?}");
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn call_based_value_round_trip() {
    // Arguments and return values of every plain type survive the trip through the driver.
    let tests = r#"{"fn_name": "f", "inputs": [["é\"'\\\n\u0000😀", 123456789012345678901234567890, -0.5, null, true, {"k": [1, 2]}]],
                    "outputs": [["é\"'\\\n\u0000😀", 123456789012345678901234567890, -0.5, null, true, {"k": [1, 2]}]]}"#;
    let c = check("def f(*args):\n    return list(args)\n", tests);
    assert_eq!(c.status, CodeStatus::Correct, "{c:?}");
    let keys = r#"{"fn_name": "f", "inputs": [[]], "outputs": [{"1": "a", "null": true, "2.5": [], "x": {}}]}"#;
    let c = check(
        "def f():\n    return {1: 'a', None: True, 2.5: (), 'x': {}}\n",
        keys,
    );
    assert_eq!(c.status, CodeStatus::Correct, "{c:?}");
    let c = check("def f():\n    return {1, 2}\n", keys);
    assert_eq!(c.status, CodeStatus::WrongAnswer, "{c:?}");
    assert!(c.detail.unwrap().contains("set"));
    let nan = r#"{"fn_name": "f", "inputs": [[NaN, Infinity]], "outputs": [[NaN, Infinity]]}"#;
    assert_eq!(
        check("def f(a, b):\n    return [a, b]\n", nan).status,
        CodeStatus::Correct
    );
}

/// Walks up the stack from the program's module code to whatever reports verdicts and
/// reports a pass (this forged a pass when program and tests shared a process).
const FRAME_WALK: &str = "import os, sys\ndef add(a, b): return 0\nf = sys._getframe()\nwhile f:\n    r = f.f_locals.get('report')\n    if callable(r):\n        r('PASSED', None)\n        os._exit(0)\n    f = f.f_back\n";

#[test]
fn fresh_interpreter_path_agrees_with_the_fork_server() {
    // The same case code (case.py) runs behind both paths: every verdict is the same.
    let asserts = r#"{"asserts": "def check(candidate):\n    assert candidate(1, 2) == 3\n", "entry_point": "add"}"#;
    let rigged = "class A:\n    def __eq__(self, o): return True\n    def __bool__(self): return True\ndef add(a, b): return A()\n";
    let round_trip = r#"{"fn_name": "f", "inputs": [["é\"'\\\n\u0000😀", 123456789012345678901234567890, -123456789012345678901234567890, -0.5, 1e400, NaN, null, true, {"k": [1, 2]}]],
                    "outputs": [["é\"'\\\n\u0000😀", 123456789012345678901234567890, -123456789012345678901234567890, -0.5, Infinity, NaN, null, true, {"k": [1, 2]}]]}"#;
    let deep = format!(
        r#"{{"fn_name": "f", "inputs": [[{}1{}]], "outputs": [1]}}"#,
        "[".repeat(300),
        "]".repeat(300)
    );
    use CodeStatus::*;
    let cases: Vec<(&str, &str, CodeStatus)> = vec![
        ("def add(a, b):\n    return a + b\n", CALL_TESTS, Correct),
        ("def add(a, b):\n    return a - b\n", CALL_TESTS, WrongAnswer),
        // a module-level return ends a stdin program (APPS convention); a real error stays one
        (
            "a, b = map(int, input().split())\nprint(a + b)\nif a == a:\n    return\nprint(0)\n",
            SUM_TESTS,
            Correct,
        ),
        ("print((1\n", SUM_TESTS, SyntaxError),
        // subclasses of built-in types are returned as their base type; other objects are not
        (
            "class L(list): pass\nclass I(int): pass\nclass F(float): pass\ndef add(a, b):\n    r = a + b\n    return L(r) if type(r) is list else I(r) if type(r) is int else F(r)\n",
            CALL_TESTS,
            Correct,
        ),
        ("def add(a, b):\n    return object()\n", CALL_TESTS, WrongAnswer),
        ("return\nprint((1\n", SUM_TESTS, SyntaxError),
        (
            "def add(a, b):\n    d = deque([a])\n    return d.popleft() + b\n",
            CALL_TESTS,
            Correct,
        ),
        ("def other(): pass\n", CALL_TESTS, RuntimeError),
        ("def add(a, b)\n", CALL_TESTS, SyntaxError),
        ("def add(a, b):\n    return a + b\n", asserts, Correct),
        ("def add(a, b):\n    return a * b\n", asserts, WrongAnswer),
        ("def add(a, b):\n    return [][a]\n", asserts, RuntimeError),
        (rigged, asserts, WrongAnswer),
        (FRAME_WALK, asserts, WrongAnswer),
        ("def f(*args):\n    return list(args)\n", round_trip, Correct),
        (
            "def f(x):\n    while isinstance(x, list):\n        x = x[0]\n    return x\n",
            &deep,
            Correct,
        ),
        (
            "import threading\ndef go():\n    a, b = map(int, input().split())\n    print(a + b)\nthreading.Thread(target=go).start()\n",
            SUM_TESTS,
            Correct,
        ),
    ];
    for (program, tests, want) in cases {
        let served = run_tests(program, tests, &opts(10.0)).unwrap();
        let fresh = RunOptions {
            fork_server: false,
            python: fallback_python(),
            ..opts(10.0)
        };
        let fresh = run_tests(program, tests, &fresh).unwrap();
        assert_eq!(served.status, want, "{program:?}: {served:?}");
        assert_eq!(fresh.status, want, "{program:?}: {fresh:?}");
        assert_eq!(served.passed, fresh.passed, "{program:?}");
    }
}

#[test]
fn call_based_is_strict_without_the_apps_judge() {
    // A spec without a judge compares returned values strictly: 5 is not [5], ['a'] is not
    // [['a']]. Only the apps judge (APPS's own rule) also accepts the unwrapped value.
    let five = r#"{"fn_name": "f", "inputs": [[]], "outputs": [[5]]}"#;
    let nested = r#"{"fn_name": "f", "inputs": [[]], "outputs": [[["a"]]]}"#;
    for (program, tests) in [
        ("def f(): return 5", five),
        ("def f(): return ['a']", nested),
    ] {
        let c = check(program, tests);
        assert_eq!(c.status, CodeStatus::WrongAnswer, "{program}: {c:?}");
        assert!(c.detail.unwrap().contains("expected"));
        for judge in ["lines", "tokens+float", "exact"] {
            let t = tests.replace('}', &format!(r#", "judge": "{judge}"}}"#));
            assert_eq!(check(program, &t).status, CodeStatus::WrongAnswer, "{t}");
        }
        let apps = tests.replace('}', r#", "judge": "apps"}"#);
        assert_eq!(check(program, &apps).status, CodeStatus::Correct, "{apps}");
    }
    // The wrapped value itself passes in every mode.
    assert_eq!(
        check("def f(): return [5]", five).status,
        CodeStatus::Correct
    );
}

#[test]
fn stdio_judge_modes() {
    let spec = |judge: &str| {
        format!(r#"{{"inputs": ["2\n"], "outputs": ["1 2\n3.0\n"], "judge": "{judge}"}}"#)
    };
    // (program, [exact, lines, lines+float, tokens, tokens+float, apps]); no judge = lines.
    let table: &[(&str, [bool; 6])] = &[
        ("print('1 2'); print('3.0')", [true; 6]),
        (
            "print(' 1  2'); print('3.0 ')",
            [false, true, true, true, true, true],
        ),
        (
            "print(1); print(2); print('3.0')",
            [false, false, false, true, true, false],
        ),
        (
            "print('1 2'); print(3)",
            [false, false, true, false, true, true],
        ),
        (
            "print('1 2'); print(3.0000001)",
            [false, false, true, false, true, true],
        ),
        ("print('1 2'); print(3.01)", [false; 6]),
        ("print('2 1'); print('3.0')", [false; 6]),
    ];
    for (program, want) in table {
        for (judge, ok) in compare::Judge::ALL.into_iter().zip(want) {
            let c = check(program, &spec(judge.name()));
            assert_eq!(c.correct(), *ok, "{program} under {}: {c:?}", judge.name());
        }
        let default = check(program, r#"{"inputs": ["2\n"], "outputs": ["1 2\n3.0\n"]}"#);
        assert_eq!(default.correct(), want[1], "{program} without a judge");
    }
}

#[test]
fn judge_and_checker_are_validated() {
    let bad = [
        r#"{"inputs": ["1"], "outputs": ["1"], "judge": "token"}"#,
        r#"{"inputs": ["1"], "outputs": ["1"], "judge": "LINES"}"#,
        r#"{"inputs": ["1"], "outputs": ["1"], "judge": 3}"#,
        r#"{"inputs": ["1"], "outputs": ["1"], "checker": 5}"#,
        r#"{"inputs": ["1"], "outputs": ["1"], "checker": "  "}"#,
        r#"{"inputs": ["1"], "outputs": ["1"], "checker_time_limit": 2}"#,
        r#"{"inputs": ["1"], "outputs": ["1"], "checker": "def check(i, e, o): return True", "checker_time_limit": 0}"#,
        r#"{"inputs": ["1"], "outputs": ["1"], "checker": "def check(i, e, o): return True", "checker_time_limit": "2"}"#,
        r#"{"asserts": "assert True", "judge": "lines"}"#,
        r#"{"asserts": "assert True", "checker": "def check(i, e, o): return True"}"#,
    ];
    for spec in bad {
        let err = validate_tests(spec).unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{spec}");
        let Err(Error::InvalidInput(msg)) = run_tests("print(1)", spec, &opts(1.0)) else {
            panic!("{spec} was accepted");
        };
        assert!(msg.starts_with("tests: "), "{msg}");
    }
    let Err(Error::InvalidInput(msg)) = validate_tests(bad[0]) else {
        unreachable!()
    };
    assert!(
        msg.contains("unknown judge \"token\"") && msg.contains("tokens+float"),
        "{msg}"
    );
    for good in [
        r#"{"inputs": ["1"], "outputs": ["1"], "judge": null, "checker": null}"#,
        r#"{"inputs": ["1"], "outputs": ["1"], "judge": "tokens+float"}"#,
        r#"{"inputs": [[1]], "outputs": [1], "fn_name": "f", "judge": "apps"}"#,
        r#"{"inputs": ["1"], "outputs": ["1"], "checker": "def check(i, e, o): return True", "checker_time_limit": 2.5}"#,
        r#"{"asserts": "assert True", "judge": null}"#,
    ] {
        validate_tests(good).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
}

/// A checker for "print any divisor of n greater than 1": the expected output is one of many.
const DIVISOR_CHECKER: &str = "def check(input, expected, output):\n    n = int(input)\n    d = int(output.split()[0])\n    return 1 < d <= n and n % d == 0\n";

fn divisor_tests(checker: &str, extra: &str) -> String {
    let mut t =
        String::from(r#"{"inputs": ["12\n", "7\n"], "outputs": ["2\n", "7\n"], "checker": "#);
    json::write_str(checker, &mut t);
    t.push_str(extra);
    t.push('}');
    t
}

#[test]
fn checker_decides_stdio_cases() {
    let tests = divisor_tests(DIVISOR_CHECKER, "");
    // Any valid answer passes, though it differs from the expected output...
    let largest = "n = int(input())\nprint(n)\n";
    let c = check(largest, &tests);
    assert_eq!((c.status, c.passed), (CodeStatus::Correct, 2), "{c:?}");
    // ...and an invalid one fails.
    let c = check("print(1)\n", &tests);
    assert_eq!(c.status, CodeStatus::WrongAnswer, "{c:?}");
    assert!(c.detail.unwrap().contains("checker rejected the output"));
    // The program's own failures are reported before the checker is asked.
    let c = check("raise ValueError('boom')\n", &tests);
    assert_eq!(c.status, CodeStatus::RuntimeError, "{c:?}");
    // Output the checker cannot parse makes it raise: a failed case that says so, not a pass.
    let c = check("print('many')\n", &tests);
    assert_eq!(c.status, CodeStatus::WrongAnswer, "{c:?}");
    let detail = c.detail.unwrap();
    assert!(
        detail.contains("checker failed") && detail.contains("ValueError"),
        "{detail}"
    );
}

#[test]
fn checker_failures_are_verdict_details() {
    let program = "print(int(input()))\n";
    let cases = [
        (
            "def check(i, e, o):\n    return 1\n",
            "",
            "returned 1, not a bool",
        ),
        ("def check(i, e, o):\n    return None\n", "", "not a bool"),
        (
            "def check(i, e, o):\n    raise KeyError('x')\n",
            "",
            "checker failed: KeyError",
        ),
        (
            "def check(i, e, o):\n    while True: pass\n",
            r#", "checker_time_limit": 0.5"#,
            "checker did not finish",
        ),
        (
            "import os\ndef check(i, e, o):\n    os._exit(0)\n",
            "",
            "checker exited without a verdict",
        ),
    ];
    for (checker, extra, want) in cases {
        let c = check(program, &divisor_tests(checker, extra));
        assert_eq!(c.status, CodeStatus::WrongAnswer, "{checker}: {c:?}");
        let detail = c.detail.unwrap();
        assert!(detail.contains(want), "{checker}: {detail}");
    }
    // A checker that does not compile, or has no check function, is a malformed spec.
    for checker in ["def check(i, e, o)\n", "def judge(i, e, o): return True\n"] {
        let r = run_tests(program, &divisor_tests(checker, ""), &opts(4.0));
        assert!(matches!(r, Err(Error::InvalidInput(_))), "{checker}: {r:?}");
    }
}

#[test]
fn checker_decides_call_based_cases() {
    // "Return any index of a maximum": the checker gets the arguments, the expected value and
    // the returned value as plain data.
    let checker = "def check(args, expected, got):\n    (xs,) = args\n    return isinstance(got, int) and 0 <= got < len(xs) and xs[got] == max(xs)\n";
    let mut tests = String::from(
        r#"{"fn_name": "argmax", "inputs": [[[3, 1, 3]], [[0, 5]]], "outputs": [0, 1], "checker": "#,
    );
    json::write_str(checker, &mut tests);
    tests.push('}');
    let last = "def argmax(xs):\n    return max(range(len(xs)), key=lambda i: (xs[i], i))\n";
    let c = check(last, &tests);
    assert_eq!((c.status, c.passed), (CodeStatus::Correct, 2), "{c:?}");
    let c = check("def argmax(xs):\n    return 1\n", &tests);
    assert_eq!(c.status, CodeStatus::WrongAnswer, "{c:?}");
    assert!(c.detail.unwrap().contains("checker rejected"));
    // The fresh-interpreter path runs the checker too.
    let fresh = RunOptions {
        fork_server: false,
        python: fallback_python(),
        ..opts(10.0)
    };
    assert_eq!(
        run_tests(last, &tests, &fresh).unwrap().status,
        CodeStatus::Correct
    );
}

#[test]
fn cases_carry_cpu_time_and_peak_memory() {
    // 48 MiB written byte by byte, then a busy loop: both show in the case's measures.
    let program = "x = bytearray(b'\\x01') * (48 << 20)\nn = 0\nfor i in range(2_000_000):\n    n += i\na, b = map(int, input().split())\nprint(a + b)\n";
    let c = check(program, SUM_TESTS);
    assert_eq!(c.status, CodeStatus::Correct, "{c:?}");
    assert_eq!(c.cases.len(), 3);
    for case in &c.cases {
        assert!(case.max_rss_bytes >= 48 << 20, "{case:?}");
        assert!(case.cpu > Duration::ZERO, "{case:?}");
    }
}
