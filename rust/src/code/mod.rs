//! Code verdicts: extracting a program from a completion and running it against test cases.
//!
//! Three test styles, all in one `tests` JSON object (see docs/records.md):
//!
//! * **stdin/stdout** (APPS, `fn_name` null or absent): `{"inputs": [str], "outputs": [str]}`.
//!   Each case runs the program as `__main__` with the input on stdin; stdout is compared by
//!   [`compare::compare_output`] under the spec's judge mode. List-of-lines inputs/outputs
//!   are joined with newlines (an APPS quirk). A `return` at module level ends the program, as in the APPS and
//!   LiveCodeBench harnesses, which run a stdin program as a function body.
//! * **call-based** (APPS/LiveCodeBench, `fn_name` set): each input is a list of positional
//!   arguments; an embedded driver runs the program, finds `fn_name` at module level or as a
//!   method of `Solution()`, calls it and writes the return value (plain types only, as a
//!   Python literal, see [`pyrepr`]) to fd 3 behind a random per-run sentinel. Rust compares it
//!   with the expected value ([`compare::compare_value`]).
//! * Both take an optional `"judge"` (a [`compare::Judge`] name; absent or null means
//!   `lines`, and returned values compare strictly) and an optional `"checker"`: Python source
//!   defining `check(input, expected, output) -> bool`, which then decides every case instead
//!   of the comparison. The checker runs in the sandbox like the program, as a call-based case
//!   of its own with its own time limit (`"checker_time_limit"`, seconds, default
//!   [`DEFAULT_CHECKER_TIME_LIMIT_S`]); it gets the case's input (the stdin text, or the list of
//!   arguments), the expected output and the program's stdout text or return value. A checker
//!   that does not return a bool, raises or runs out of time fails the case (`wrong_answer`,
//!   the detail says what the checker did).
//! * **asserts** (HumanEval/MBPP): `{"asserts": str, "entry_point": str | null}`. The test
//!   code runs in an evaluator process that sees the program's module-level names as proxies;
//!   the program runs in a process of its own (forked before the tests and the sentinel are
//!   read) and answers their calls with plain data. If `entry_point` is given and the tests
//!   define `check`, `check(<entry_point>)` is called. Passing is reported only by the
//!   evaluator's sentinel line, written after the tests finished. One case.
//!
//! The child reads its request in marshal format ([`marshal`]); one script, `case.py`, runs
//! the case in both the fork server's children (followed by `serve.py`, this module's
//! [`ServerCode`] for the sandbox's generic server) and the fresh-interpreter driver (followed
//! by `driver.py`).
//!
//! Each case is a fresh process (a fork of a warm server, or a fresh interpreter as the fallback)
//! under the limits of [`crate::sandbox`]. Cases of one solution run
//! sequentially; the functions are thread-safe and take no global lock, so callers get
//! parallelism by checking several solutions from several threads.

pub mod compare;
pub mod extract;
pub mod json;
pub mod marshal;
pub mod pyrepr;
mod scan;

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use extract::extract_program;

use crate::sandbox::forkserver::{self, Lease, ServerCode};
use crate::sandbox::{self, Interpreter, Job, Limits, Stop, Stream, Termination, Verdict};
use crate::Error;
use compare::Judge;
use json::Json;

/// The checker's time limit when the tests do not set `"checker_time_limit"`, in seconds.
pub const DEFAULT_CHECKER_TIME_LIMIT_S: f64 = 10.0;

/// The driver for call-based and assert-style tests in a fresh interpreter, run with `python -c`.
const DRIVER: &str = concat!(include_str!("case.py"), include_str!("driver.py"));

/// What the fork servers' children run: the case code and its `serve_case`.
static SERVER_CODE: ServerCode = ServerCode {
    source: concat!(include_str!("case.py"), include_str!("serve.py")),
    probe: probe_request,
    probe_stdout: b"1\n",
};

/// A stdin/stdout case that prints 1, with which a new server proves it works.
fn probe_request() -> Vec<u8> {
    let member = |k: &str, v: &str| (k.to_string(), Json::Str(v.into()));
    let mut request = Vec::new();
    marshal::write(
        &Json::Obj(vec![
            member("sentinel", "ok"),
            member("mode", "stdio"),
            member("program", "print(1)"),
        ]),
        &mut request,
    );
    request
}

/// Starts fork servers for checking code under `interp` in the background until `count` exist,
/// so that the first `count` concurrent [`run_tests`] calls find them warm.
pub fn prestart(interp: &Interpreter, count: usize) {
    forkserver::prestart(interp, &SERVER_CODE, count);
}

/// Options for [`run_tests`].
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Wall-clock limit per case in seconds; the CPU limit is its ceiling.
    pub time_limit_s: f64,
    /// Address-space limit in MiB (0 = none).
    pub memory_mb: u64,
    /// Cap on stdout per case, in bytes (more ends the case: `output_limit`); stderr is kept up
    /// to as many bytes, truncated, and never decides a verdict.
    pub output_limit_bytes: usize,
    /// Stop at the first case that is not correct (the remaining cases are not run).
    pub stop_on_first_failure: bool,
    /// The Python interpreter; `None` = `$SFSTREAM_PYTHON` or `python3` from `PATH`.
    pub python: Option<PathBuf>,
    /// Run cases in a warm fork server inside the sandbox's namespaces (falls back to a fresh
    /// interpreter per case when no server can start).
    pub fork_server: bool,
    /// Once set, the running case's processes are killed and [`run_tests`] returns
    /// `Err(Error::Stopped)` without starting another case.
    pub stop: Option<Stop>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            time_limit_s: 4.0,
            memory_mb: 1024,
            output_limit_bytes: 1 << 20,
            stop_on_first_failure: true,
            python: None,
            fork_server: true,
            stop: None,
        }
    }
}

/// The verdict on a program (or on one case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeStatus {
    Correct,
    WrongAnswer,
    Timeout,
    MemoryLimit,
    OutputLimit,
    RuntimeError,
    SyntaxError,
    NoCode,
}

impl CodeStatus {
    /// The status string used in verdict records.
    pub fn as_str(self) -> &'static str {
        match self {
            CodeStatus::Correct => "correct",
            CodeStatus::WrongAnswer => "wrong_answer",
            CodeStatus::Timeout => "timeout",
            CodeStatus::MemoryLimit => "memory_limit",
            CodeStatus::OutputLimit => "output_limit",
            CodeStatus::RuntimeError => "runtime_error",
            CodeStatus::SyntaxError => "syntax_error",
            CodeStatus::NoCode => "no_code",
        }
    }
}

impl fmt::Display for CodeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one test case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub status: CodeStatus,
    /// Why it failed (first difference, exception line, limit), `None` when correct.
    pub detail: Option<String>,
    /// Wall time of the case as measured by the supervisor.
    pub wall: Duration,
    /// User + system CPU time of the case's processes.
    pub cpu: Duration,
    /// Peak resident set size of the case's process in bytes.
    pub max_rss_bytes: u64,
}

/// The result of checking one program.
#[derive(Debug, Clone)]
pub struct CodeCheck {
    /// The first non-correct case status, or `Correct` if every case passed.
    pub status: CodeStatus,
    /// Number of cases that passed.
    pub passed: usize,
    /// Number of cases in the tests (also those not run after an early stop).
    pub total: usize,
    /// The first failing case's detail, prefixed with its 1-based number.
    pub detail: Option<String>,
    /// The cases that were run, in order.
    pub cases: Vec<CaseResult>,
}

impl CodeCheck {
    /// Whether every case passed.
    pub fn correct(&self) -> bool {
        self.status == CodeStatus::Correct
    }
}

/// Parsed test specification.
enum Tests {
    Stdio(Vec<(String, String)>),
    Call {
        fn_name: String,
        cases: Vec<(Json, Json)>,
    },
    Asserts {
        asserts: String,
        entry_point: Option<String>,
    },
}

/// A special judge: Python source defining `check(input, expected, output) -> bool`.
struct Checker {
    source: String,
    time_limit_s: f64,
}

/// A parsed and validated test specification.
struct Spec {
    tests: Tests,
    judge: Judge,
    checker: Option<Checker>,
}

/// Validates a test specification (the JSON `tests` object) without running anything: the
/// same checks [`run_tests`] makes before it starts a process.
pub fn validate_tests(tests_json: &str) -> crate::Result<()> {
    parse_tests(tests_json).map(|_| ())
}

impl Tests {
    fn len(&self) -> usize {
        match self {
            Tests::Stdio(cases) => cases.len(),
            Tests::Call { cases, .. } => cases.len(),
            Tests::Asserts { .. } => 1,
        }
    }
}

/// Runs `program` against the tests in `tests_json` (see the module documentation).
///
/// Returns `Err(Error::InvalidInput)` for malformed tests or options and `Err(Error::Sandbox)`
/// if no process can be started; everything the program does is a verdict in the `CodeCheck`.
/// An empty program gives `no_code`. When [`RunOptions::stop`] is set the running case is
/// killed (every process of it is gone when this returns) and the result is `Err(Error::Stopped)`.
///
/// ```no_run
/// use _core::code::{run_tests, RunOptions};
/// let tests = r#"{"inputs": ["1 2\n"], "outputs": ["3\n"]}"#;
/// let check = run_tests("a, b = map(int, input().split())\nprint(a + b)\n", tests,
///                       &RunOptions::default()).unwrap();
/// assert_eq!(check.status.as_str(), "correct");
/// ```
pub fn run_tests(program: &str, tests_json: &str, opts: &RunOptions) -> crate::Result<CodeCheck> {
    let Spec {
        tests,
        judge,
        checker,
    } = parse_tests(tests_json)?;
    let limits = limits_for(opts)?;
    let checker = match &checker {
        Some(c) => Some((
            c.source.as_str(),
            limits_for(&RunOptions {
                time_limit_s: c.time_limit_s,
                ..opts.clone()
            })?,
        )),
        None => None,
    };
    let total = tests.len();
    if program.trim().is_empty() {
        return Ok(CodeCheck {
            status: CodeStatus::NoCode,
            passed: 0,
            total,
            detail: Some("no program".into()),
            cases: Vec::new(),
        });
    }
    let interp = sandbox::interpreter(opts.python.as_deref())?;
    let mut runner = Runner {
        interp: &interp,
        limits: &limits,
        program,
        lease: if opts.fork_server {
            forkserver::lease(&interp, &SERVER_CODE, opts.stop.as_ref())
        } else {
            None
        },
        stop: opts.stop.as_ref(),
    };

    let mut check = CodeCheck {
        status: CodeStatus::Correct,
        passed: 0,
        total,
        detail: None,
        cases: Vec::new(),
    };
    for index in 0..total {
        if let Some(stop) = &opts.stop {
            stop.check()?;
        }
        let checker = checker.as_ref().map(|(source, limits)| (*source, limits));
        let case = match &tests {
            Tests::Stdio(cases) => {
                runner.stdio_case(&cases[index].0, &cases[index].1, judge, checker)?
            }
            Tests::Call { fn_name, cases } => {
                runner.call_case(fn_name, &cases[index].0, &cases[index].1, judge, checker)?
            }
            Tests::Asserts {
                asserts,
                entry_point,
            } => runner.asserts_case(asserts, entry_point.as_deref())?,
        };
        let status = case.status;
        if status == CodeStatus::Correct {
            check.passed += 1;
        } else if check.status == CodeStatus::Correct {
            check.status = status;
            check.detail = Some(match &case.detail {
                Some(d) => format!("case {}: {d}", index + 1),
                None => format!("case {}", index + 1),
            });
        }
        check.cases.push(case);
        // A syntax error fails every case the same way.
        if status != CodeStatus::Correct
            && (opts.stop_on_first_failure || status == CodeStatus::SyntaxError)
        {
            break;
        }
    }
    Ok(check)
}

fn limits_for(opts: &RunOptions) -> crate::Result<Limits> {
    if !(opts.time_limit_s.is_finite() && opts.time_limit_s > 0.0 && opts.time_limit_s <= 86_400.0)
    {
        return Err(Error::InvalidInput(format!(
            "time limit must be in (0, 86400] seconds, got {}",
            opts.time_limit_s
        )));
    }
    if opts.output_limit_bytes == 0 {
        return Err(Error::InvalidInput("output limit must be positive".into()));
    }
    let memory = opts.memory_mb.checked_mul(1 << 20).ok_or_else(|| {
        Error::InvalidInput(format!("memory limit too large: {} MiB", opts.memory_mb))
    })?;
    Ok(Limits {
        wall: Duration::from_secs_f64(opts.time_limit_s),
        cpu_seconds: (opts.time_limit_s.ceil() as u64).max(1),
        address_space_bytes: memory,
        // Half the memory at most, so that a stack overflow (SIGSEGV) is not mistaken for
        // running out of memory.
        stack_bytes: if memory == 0 {
            sandbox::DEFAULT_STACK_BYTES
        } else {
            sandbox::DEFAULT_STACK_BYTES.min(memory / 2)
        },
        stdout_bytes: opts.output_limit_bytes,
        stderr_bytes: opts.output_limit_bytes,
        result_bytes: opts.output_limit_bytes,
        ..Limits::default()
    })
}

fn parse_tests(text: &str) -> crate::Result<Spec> {
    let bad = |msg: String| Error::InvalidInput(format!("tests: {msg}"));
    let v = json::parse(text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
    if !matches!(v, Json::Obj(_)) {
        return Err(bad("expected a JSON object".into()));
    }
    let judge = match v.get("judge") {
        None | Some(Json::Null) => None,
        Some(Json::Str(name)) => Some(Judge::from_name(name).ok_or_else(|| {
            bad(format!(
                "unknown judge {name:?} (known: {})",
                Judge::ALL.map(Judge::name).join(", ")
            ))
        })?),
        Some(_) => return Err(bad("\"judge\" must be a string or null".into())),
    };
    let checker = match v.get("checker") {
        None | Some(Json::Null) => None,
        Some(Json::Str(source)) if !source.trim().is_empty() => Some(source.clone()),
        Some(_) => {
            return Err(bad(
                "\"checker\" must be Python source defining check(input, expected, output), \
                 or null"
                    .into(),
            ))
        }
    };
    let checker_time_limit = match v.get("checker_time_limit") {
        None | Some(Json::Null) => None,
        Some(Json::Num(n)) => match n.parse::<f64>() {
            Ok(t) if t.is_finite() && t > 0.0 && t <= 86_400.0 => Some(t),
            _ => {
                return Err(bad(format!(
                    "\"checker_time_limit\" must be in (0, 86400] seconds, got {n}"
                )))
            }
        },
        Some(_) => return Err(bad("\"checker_time_limit\" must be a number or null".into())),
    };
    if checker.is_none() && checker_time_limit.is_some() {
        return Err(bad("\"checker_time_limit\" without a \"checker\"".into()));
    }
    let tests = tests_of(&v, &bad)?;
    if matches!(tests, Tests::Asserts { .. }) && (judge.is_some() || checker.is_some()) {
        return Err(bad(
            "\"judge\" and \"checker\" apply to \"inputs\"/\"outputs\" tests, not to \"asserts\""
                .into(),
        ));
    }
    Ok(Spec {
        tests,
        judge: judge.unwrap_or(Judge::DEFAULT),
        checker: checker.map(|source| Checker {
            source,
            time_limit_s: checker_time_limit.unwrap_or(DEFAULT_CHECKER_TIME_LIMIT_S),
        }),
    })
}

fn tests_of(v: &Json, bad: &impl Fn(String) -> Error) -> crate::Result<Tests> {
    if let Some(asserts) = v.get("asserts") {
        let Json::Str(asserts) = asserts else {
            return Err(bad("\"asserts\" must be a string".into()));
        };
        let entry_point = match v.get("entry_point") {
            None | Some(Json::Null) => None,
            Some(Json::Str(s)) if !s.is_empty() => Some(s.clone()),
            Some(_) => {
                return Err(bad(
                    "\"entry_point\" must be a non-empty string or null".into()
                ))
            }
        };
        return Ok(Tests::Asserts {
            asserts: asserts.clone(),
            entry_point,
        });
    }
    let (Some(Json::Arr(inputs)), Some(Json::Arr(outputs))) = (v.get("inputs"), v.get("outputs"))
    else {
        return Err(bad(
            "expected \"inputs\" and \"outputs\" lists (or \"asserts\")".into(),
        ));
    };
    if inputs.len() != outputs.len() {
        return Err(bad(format!(
            "{} inputs but {} outputs",
            inputs.len(),
            outputs.len()
        )));
    }
    if inputs.is_empty() {
        return Err(bad("no test cases".into()));
    }
    match v.get("fn_name") {
        None | Some(Json::Null) => {
            let mut cases = Vec::with_capacity(inputs.len());
            for (i, (inp, out)) in inputs.iter().zip(outputs).enumerate() {
                let inp =
                    text_of(inp).ok_or_else(|| bad(format!("input {} is not a string", i + 1)))?;
                let out =
                    text_of(out).ok_or_else(|| bad(format!("output {} is not a string", i + 1)))?;
                cases.push((inp, out));
            }
            Ok(Tests::Stdio(cases))
        }
        Some(Json::Str(name)) if !name.is_empty() => {
            let mut cases = Vec::with_capacity(inputs.len());
            for (i, (inp, out)) in inputs.iter().zip(outputs).enumerate() {
                if !matches!(inp, Json::Arr(_)) {
                    return Err(bad(format!("input {} is not a list of arguments", i + 1)));
                }
                cases.push((inp.clone(), out.clone()));
            }
            Ok(Tests::Call {
                fn_name: name.clone(),
                cases,
            })
        }
        Some(_) => Err(bad("\"fn_name\" must be a non-empty string or null".into())),
    }
}

/// A stdin/stdout test value: a string, or (APPS) a list of lines joined with newlines.
fn text_of(v: &Json) -> Option<String> {
    match v {
        Json::Str(s) => Some(s.clone()),
        Json::Num(n) => Some(n.clone()),
        Json::Arr(lines) => {
            let lines: Option<Vec<&str>> = lines
                .iter()
                .map(|l| match l {
                    Json::Str(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect();
            let mut joined = lines?.join("\n");
            if !joined.is_empty() && !joined.ends_with('\n') {
                joined.push('\n');
            }
            Some(joined)
        }
        _ => None,
    }
}

/// What a case's child reads on stdin.
enum Feed<'a> {
    /// The program's input (stdin/stdout tests).
    Stdio(&'a str),
    /// Nothing (call-based tests).
    Nothing,
    /// Test code, which only the evaluator reads, after the program's process split off.
    Secret(&'a str),
}

struct Runner<'a> {
    interp: &'a Interpreter,
    limits: &'a Limits,
    program: &'a str,
    /// The fork server of this call, if one is available.
    lease: Option<Lease>,
    /// The caller's stop flag.
    stop: Option<&'a Stop>,
}

impl Runner<'_> {
    fn job(&self, mut args: Vec<OsString>, stdin: Vec<u8>) -> Job {
        let mut all = self.interp.flags.clone();
        all.append(&mut args);
        let mut job = Job::new(&self.interp.path, all);
        job.stdin = stdin;
        job.limits = self.limits.clone();
        job.stop = self.stop.cloned();
        job
    }

    fn stdio_case(
        &mut self,
        input: &str,
        expected: &str,
        judge: Judge,
        checker: Option<(&str, &Limits)>,
    ) -> crate::Result<CaseResult> {
        let fields = [("mode", Json::Str("stdio".into()))];
        let (outcome, message) = self.run_case(&fields, Feed::Stdio(input))?;
        let mut exited_cleanly = false;
        let mut case = self.judge(&outcome, message, driver_message, || {
            exited_cleanly = true;
            (CodeStatus::Correct, None)
        })?;
        if exited_cleanly {
            let got = String::from_utf8_lossy(&outcome.stdout);
            (case.status, case.detail) = match checker {
                Some((source, limits)) => self.checked(
                    source,
                    limits,
                    [
                        Json::Str(input.into()),
                        Json::Str(expected.into()),
                        Json::Str(got.into_owned()),
                    ],
                )?,
                None => match compare::compare_output(judge, &got, expected) {
                    Ok(()) => (CodeStatus::Correct, None),
                    Err(diff) => (CodeStatus::WrongAnswer, Some(diff)),
                },
            };
        }
        Ok(case)
    }

    fn call_case(
        &mut self,
        fn_name: &str,
        args: &Json,
        expected: &Json,
        judge: Judge,
        checker: Option<(&str, &Limits)>,
    ) -> crate::Result<CaseResult> {
        let (outcome, message) = self.call(fn_name, args)?;
        let mut returned = None;
        let on_message = |kind: &str, payload: &str| match kind {
            "RESULT" => Ok(match pyrepr::parse_repr(payload) {
                Ok(got) => {
                    returned = Some(got);
                    (CodeStatus::Correct, None)
                }
                Err(e) => (
                    CodeStatus::WrongAnswer,
                    Some(format!("unreadable return value: {e}")),
                ),
            }),
            _ => driver_message(kind, payload),
        };
        let mut case = self.judge(&outcome, message, on_message, || {
            (
                CodeStatus::RuntimeError,
                Some("exited before returning a result".into()),
            )
        })?;
        if let Some(got) = returned {
            (case.status, case.detail) = match checker {
                Some((source, limits)) => {
                    self.checked(source, limits, [args.clone(), expected.clone(), got])?
                }
                None => match compare::compare_value(judge, &got, expected) {
                    Ok(()) => (CodeStatus::Correct, None),
                    Err(diff) => (CodeStatus::WrongAnswer, Some(diff)),
                },
            };
        }
        Ok(case)
    }

    /// Runs `fn_name(*args)` of the program as a call-based case.
    fn call(
        &mut self,
        fn_name: &str,
        args: &Json,
    ) -> crate::Result<(sandbox::Outcome, Option<(String, String)>)> {
        let fields = [
            ("mode", Json::Str("call".into())),
            ("fn_name", Json::Str(fn_name.into())),
            ("args", args.clone()),
        ];
        self.run_case(&fields, Feed::Nothing)
    }

    /// The checker's verdict on one case: `check(input, expected, output)` run in the sandbox
    /// under the checker's own limits (on this runner's fork server, if it has one).
    fn checked(
        &mut self,
        source: &str,
        limits: &Limits,
        [input, expected, output]: [Json; 3],
    ) -> crate::Result<(CodeStatus, Option<String>)> {
        let mut sub = Runner {
            interp: self.interp,
            limits,
            program: source,
            lease: self.lease.take(),
            stop: self.stop,
        };
        let run = sub.call("check", &Json::Arr(vec![input, expected, output]));
        self.lease = sub.lease.take();
        let (outcome, message) = run?;
        let failed = |what: String| (CodeStatus::WrongAnswer, Some(format!("checker {what}")));
        Ok(match (outcome.verdict(), message) {
            (Verdict::Exited(_), Some((kind, payload))) => match kind.as_str() {
                "RESULT" => match pyrepr::parse_repr(&payload) {
                    Ok(Json::Bool(true)) => (CodeStatus::Correct, None),
                    Ok(Json::Bool(false)) => failed("rejected the output".into()),
                    Ok(other) => failed(format!(
                        "returned {}, not a bool",
                        shorten(&other.to_json(), 80)
                    )),
                    Err(e) => failed(format!("returned an unreadable value: {e}")),
                },
                "SYNTAX" => {
                    return Err(Error::InvalidInput(format!(
                        "tests: the checker does not compile: {}",
                        driver_text(&payload)
                    )))
                }
                "NOFN" => {
                    return Err(Error::InvalidInput(
                        "tests: the checker defines no function check(input, expected, output)"
                            .into(),
                    ))
                }
                "BADTYPE" => failed(format!(
                    "returned an unsupported value: {}",
                    driver_text(&payload)
                )),
                other => failed(format!("sent an unexpected message {other}")),
            },
            (Verdict::Exited(0), None) => failed("exited without a verdict".into()),
            (Verdict::Exited(code), None) => {
                let (_, detail) = python_failure(&outcome.stderr, code);
                failed(format!(
                    "failed: {}",
                    detail.unwrap_or_else(|| format!("exit status {code}"))
                ))
            }
            (other, _) => {
                let (_, detail) = limit_verdict(other, &outcome, limits);
                failed(format!(
                    "did not finish: {}",
                    detail.unwrap_or_else(|| "killed".into())
                ))
            }
        })
    }

    fn asserts_case(
        &mut self,
        asserts: &str,
        entry_point: Option<&str>,
    ) -> crate::Result<CaseResult> {
        let fields = [
            ("mode", Json::Str("asserts".into())),
            (
                "entry_point",
                entry_point.map_or(Json::Null, |e| Json::Str(e.into())),
            ),
        ];
        let (outcome, message) = self.run_case(&fields, Feed::Secret(asserts))?;
        let on_message = |kind: &str, payload: &str| match kind {
            "PASSED" => Ok((CodeStatus::Correct, None)),
            "FAILED" => Ok((
                CodeStatus::WrongAnswer,
                Some(shorten(&driver_text(payload), 300)),
            )),
            _ => driver_message(kind, payload),
        };
        self.judge(&outcome, message, on_message, || {
            (
                CodeStatus::RuntimeError,
                Some("exited before the tests finished".into()),
            )
        })
    }

    /// The verdict on one case: the child's message if it exited with one, else `clean_exit`
    /// for status 0, the interpreter's error for another status, or the limit that ended it.
    fn judge(
        &self,
        outcome: &sandbox::Outcome,
        message: Option<(String, String)>,
        on_message: impl FnOnce(&str, &str) -> crate::Result<(CodeStatus, Option<String>)>,
        clean_exit: impl FnOnce() -> (CodeStatus, Option<String>),
    ) -> crate::Result<CaseResult> {
        let (status, detail) = match (outcome.verdict(), message) {
            (Verdict::Exited(_), Some((kind, payload))) => on_message(&kind, &payload)?,
            (Verdict::Exited(0), None) => clean_exit(),
            (Verdict::Exited(code), None) => python_failure(&outcome.stderr, code),
            (other, _) => limit_verdict(other, outcome, self.limits),
        };
        Ok(CaseResult {
            status,
            detail,
            wall: outcome.wall,
            cpu: outcome.cpu,
            max_rss_bytes: outcome.max_rss_bytes,
        })
    }

    /// The request for the child (see `case.py`), its random sentinel, and what the
    /// child reads on stdin: the program's input, or for `Feed::Secret` the sentinel and the
    /// tests (then not in the request, which the program's process sees).
    fn request(
        &self,
        fields: &[(&str, Json)],
        feed: &Feed,
    ) -> crate::Result<(String, Vec<u8>, Vec<u8>)> {
        let sentinel = sandbox::random_hex(16)?;
        let mut members = vec![("program".to_string(), Json::Str(self.program.into()))];
        let stdin = match feed {
            Feed::Stdio(input) => input.as_bytes().to_vec(),
            Feed::Nothing => Vec::new(),
            Feed::Secret(text) => format!("{sentinel}\n{text}").into_bytes(),
        };
        if !matches!(feed, Feed::Secret(_)) {
            members.push(("sentinel".to_string(), Json::Str(sentinel.clone())));
        }
        members.extend(fields.iter().map(|(k, v)| (k.to_string(), v.clone())));
        let mut request = Vec::new();
        marshal::write(&Json::Obj(members), &mut request);
        Ok((sentinel, request, stdin))
    }

    /// Runs one case: in the fork server when there is one (if it fails, it is dropped and the
    /// fresh-interpreter path takes over), else in a fresh interpreter. Returns the outcome and
    /// the child's message, if any.
    fn run_case(
        &mut self,
        fields: &[(&str, Json)],
        feed: Feed,
    ) -> crate::Result<(sandbox::Outcome, Option<(String, String)>)> {
        let (sentinel, request, input) = self.request(fields, &feed)?;
        let input = input.as_slice();
        let mut served = None;
        // A server that failed a case (e.g. it could not reap a fork bomb within its grace on a
        // loaded machine) is dropped, which kills its whole PID namespace; the case is run once
        // more on a fresh server before the fresh-interpreter path is considered.
        for attempt in 0..2 {
            let Some(lease) = self.lease.as_mut() else {
                break;
            };
            // A call-based case reads nothing: its stdin is /dev/null.
            let stdin = (!matches!(feed, Feed::Nothing)).then_some(input);
            let case = forkserver::Case {
                request: &request,
                stdin,
                limits: self.limits,
                stop: self.stop,
            };
            match lease.server().run(&case) {
                Ok(outcome) => {
                    served = Some(outcome);
                    break;
                }
                Err(Error::Stopped) => return Err(Error::Stopped),
                Err(e) => {
                    self.lease = None;
                    if attempt == 0 {
                        self.lease = forkserver::lease(self.interp, &SERVER_CODE, self.stop);
                    }
                    if self.lease.is_none() {
                        eprintln!(
                            "sfstream sandbox: fork server failed ({e}); continuing without it"
                        );
                    }
                }
            }
        }
        let outcome = match served {
            Some(outcome) => outcome,
            None if matches!(feed, Feed::Stdio(_)) => {
                // The driver runs solution.py with the input on stdin.
                let args = vec![
                    "-c".into(),
                    DRIVER.into(),
                    "stdio".into(),
                    sentinel.clone().into(),
                ];
                let mut job = self.job(args, input.to_vec());
                job.files
                    .push(("solution.py".into(), self.program.as_bytes().to_vec()));
                job.result_pipe = true;
                sandbox::run(&job)?
            }
            None => {
                // The driver reads the request's length, the request, then the rest.
                let mut stdin = (request.len() as u64).to_le_bytes().to_vec();
                stdin.extend_from_slice(&request);
                stdin.extend_from_slice(input);
                let mut job = self.job(vec!["-c".into(), DRIVER.into()], stdin);
                job.result_pipe = true;
                sandbox::run(&job)?
            }
        };
        let message = find_message(&outcome.result, &sentinel);
        Ok((outcome, message))
    }
}

/// Finds `<sentinel> <KIND> <payload>` in what the child wrote to fd 3. Lines without the
/// sentinel (anything the program itself wrote there) are ignored.
fn find_message(result: &[u8], sentinel: &str) -> Option<(String, String)> {
    let text = String::from_utf8_lossy(result);
    let prefix = format!("{sentinel} ");
    let line = text.lines().find_map(|l| l.strip_prefix(prefix.as_str()))?;
    let (kind, payload) = line.split_once(' ')?;
    Some((kind.to_string(), payload.to_string()))
}

/// The text of a driver message's payload (a Python string literal).
fn driver_text(payload: &str) -> String {
    match pyrepr::parse_repr(payload) {
        Ok(Json::Str(s)) => s,
        _ => payload.to_string(),
    }
}

/// Non-result driver messages.
fn driver_message(kind: &str, payload: &str) -> crate::Result<(CodeStatus, Option<String>)> {
    let text = driver_text(payload);
    Ok(match kind {
        "SYNTAX" => (CodeStatus::SyntaxError, Some(text)),
        "NOFN" => (
            CodeStatus::RuntimeError,
            Some(format!("function {text:?} not found")),
        ),
        "BADTYPE" => (
            CodeStatus::WrongAnswer,
            Some(format!("unsupported return value: {text}")),
        ),
        "TESTSYNTAX" => {
            return Err(Error::InvalidInput(format!(
                "the test code does not compile: {text}"
            )))
        }
        other => (
            CodeStatus::RuntimeError,
            Some(format!("unexpected driver message {other}")),
        ),
    })
}

/// Verdicts decided by the supervisor's limits rather than by the program's exit.
fn limit_verdict(
    verdict: Verdict,
    outcome: &sandbox::Outcome,
    limits: &Limits,
) -> (CodeStatus, Option<String>) {
    match verdict {
        Verdict::Timeout => {
            let what = if outcome.termination == Termination::WallTimeout {
                format!(
                    "wall-clock limit of {} s exceeded",
                    limits.wall.as_secs_f64()
                )
            } else {
                format!("CPU limit of {} s exceeded", outcome.cpu_limit_seconds)
            };
            (CodeStatus::Timeout, Some(what))
        }
        Verdict::MemoryLimit => (
            CodeStatus::MemoryLimit,
            Some(format!(
                "killed near the memory limit (peak RSS {} MiB)",
                outcome.max_rss_bytes >> 20
            )),
        ),
        Verdict::OutputLimit(stream) => {
            let (name, cap) = match stream {
                Stream::Stdout => ("stdout", outcome.stdout.len()),
                Stream::Stderr => ("stderr", outcome.stderr.len()),
                Stream::Result => ("result", outcome.result.len()),
            };
            (
                CodeStatus::OutputLimit,
                Some(format!("{name} exceeded {cap} bytes")),
            )
        }
        Verdict::Signaled(sig) => (
            CodeStatus::RuntimeError,
            Some(if sig == libc::SIGSEGV {
                format!(
                    "killed by SIGSEGV (a crash, or the stack limit of {} MiB exceeded by deep \
                     recursion)",
                    limits.stack_bytes >> 20
                )
            } else {
                format!("killed by {}", sandbox::signal_name(sig))
            }),
        ),
        Verdict::Exited(code) => (
            CodeStatus::RuntimeError,
            Some(format!("exit status {code}")),
        ),
    }
}

/// At most `max` characters of `s`, with an ellipsis if cut.
fn shorten(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if s.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// Classifies a Python program that exited with a non-zero status, from its stderr.
/// (A syntax error of the program itself is the case code's SYNTAX message, not this.)
fn python_failure(stderr: &[u8], code: i32) -> (CodeStatus, Option<String>) {
    let text = String::from_utf8_lossy(stderr);
    let last = text.lines().rev().map(str::trim).find(|l| !l.is_empty());
    let detail = last.map_or_else(|| format!("exit status {code}"), |l| shorten(l, 200));
    if last.is_some_and(|l| l.starts_with("MemoryError")) {
        return (CodeStatus::MemoryLimit, Some(detail));
    }
    (CodeStatus::RuntimeError, Some(detail))
}

#[cfg(test)]
mod tests;
