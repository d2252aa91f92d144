//! Spawning tests against the real interpreter (`$SFSTREAM_PYTHON` or `python3`).

use super::*;
use std::time::Instant;

/// As root this path runs code as nobody, who must be able to execute the interpreter: the
/// system's one rather than one under a private home.
fn test_interpreter() -> Interpreter {
    let system = std::path::Path::new("/usr/bin/python3");
    if system.exists() {
        interpreter(Some(system))
    } else {
        default_interpreter()
    }
    .expect("a python3 interpreter is needed for these tests")
}

fn python_job(code: &str) -> Job {
    let interp = test_interpreter();
    let mut args = interp.flags.clone();
    args.push("-c".into());
    args.push(code.into());
    Job::new(interp.path, args)
}

fn limits(wall_s: f64, cpu: u64) -> Limits {
    Limits {
        wall: Duration::from_secs_f64(wall_s),
        cpu_seconds: cpu,
        ..Limits::default()
    }
}

#[test]
fn hello_world() {
    let out = run(&python_job("print('hello')")).unwrap();
    assert_eq!(out.termination, Termination::Exited(0));
    assert_eq!(out.verdict(), Verdict::Exited(0));
    assert_eq!(out.stdout, b"hello\n");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn exit_code_and_stderr() {
    let out = run(&python_job(
        "import sys; sys.stderr.write('bad'); sys.exit(3)",
    ))
    .unwrap();
    assert_eq!(out.termination, Termination::Exited(3));
    assert_eq!(out.stderr, b"bad");
}

#[test]
fn busy_loop_times_out_on_cpu_limit() {
    let mut job = python_job("while True: pass");
    job.limits = limits(10.0, 1);
    let start = Instant::now();
    let out = run(&job).unwrap();
    let took = start.elapsed();
    assert_eq!(out.verdict(), Verdict::Timeout, "{:?}", out.termination);
    assert!(
        matches!(out.termination, Termination::Signaled(_)),
        "{:?}",
        out.termination
    );
    // Ended by the 1 s CPU limit, not the 10 s wall clock (generous: the machine may be busy).
    assert!(took < Duration::from_secs(8), "took {took:?}");
}

#[test]
fn sleep_times_out_on_wall_clock() {
    let mut job = python_job("import time; time.sleep(30)");
    job.limits = limits(0.5, 5);
    let start = Instant::now();
    let out = run(&job).unwrap();
    let took = start.elapsed();
    assert_eq!(out.termination, Termination::WallTimeout);
    assert_eq!(out.verdict(), Verdict::Timeout);
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(15),
        "{took:?}"
    );
}

#[test]
fn big_allocation_hits_the_address_space_limit() {
    let mut job = python_job("x = bytearray(2 * 1024 ** 3)\nprint(len(x))");
    job.limits.address_space_bytes = 256 << 20;
    let out = run(&job).unwrap();
    assert_eq!(out.termination, Termination::Exited(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("MemoryError"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn huge_output_is_cut_quickly() {
    // 100 MB in 1 MB writes.
    let mut job = python_job("import sys\nfor _ in range(100): sys.stdout.write('x' * 1000000)");
    job.limits = limits(20.0, 20);
    let start = Instant::now();
    let out = run(&job).unwrap();
    let took = start.elapsed();
    assert_eq!(out.termination, Termination::OutputLimit(Stream::Stdout));
    assert_eq!(out.verdict(), Verdict::OutputLimit(Stream::Stdout));
    assert_eq!(out.stdout.len(), job.limits.stdout_bytes);
    // Cut at the cap, long before the 20 s limit (generous: the machine may be busy).
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn stderr_is_truncated_and_never_ends_the_run() {
    // 8 MB of stderr (8 x the cap) between a first and a last line, then the answer.
    let code = "import sys\n\
                sys.stderr.write('first\\n')\n\
                for _ in range(128): sys.stderr.write('e' * 65536)\n\
                sys.stderr.write('\\nlast line\\n')\n\
                print('done')";
    let mut job = python_job(code);
    job.limits = limits(20.0, 20);
    let out = run(&job).unwrap();
    assert_eq!(out.termination, Termination::Exited(0));
    assert_eq!(out.stdout, b"done\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("first\n"), "{}", &err[..40]);
    assert!(err.ends_with("\nlast line\n"), "{}", &err[err.len() - 40..]);
    assert!(err.contains("bytes not kept ..."));
    assert!(out.stderr.len() < job.limits.stderr_bytes + 100);
    // A stream that never stops is ended by the time limit, not by its size.
    let mut job = python_job("import sys\nwhile True: sys.stderr.write('e' * 65536)");
    job.limits = limits(1.0, 1);
    let out = run(&job).unwrap();
    assert_eq!(out.verdict(), Verdict::Timeout);
}

#[test]
fn forked_child_holding_stdout_does_not_hang() {
    // The child stays in the group (no setsid) and keeps the inherited stdout open for 30 s.
    let code = "import os, sys, time\n\
                pid = os.fork()\n\
                if pid == 0:\n    time.sleep(30)\n    os._exit(0)\n\
                print(pid, flush=True)\n";
    let mut job = python_job(code);
    job.limits = limits(10.0, 10);
    let start = Instant::now();
    let out = run(&job).unwrap();
    let took = start.elapsed();
    assert_eq!(out.termination, Termination::Exited(0));
    // Not held until the 10 s limit or the child's 30 s (generous: the machine may be busy).
    assert!(took < Duration::from_secs(8), "took {took:?}");
    let pid: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    // The group kill reached the grandchild: it is gone or a zombie awaiting its new parent.
    let mut gone = false;
    for _ in 0..100 {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => gone = true,
            Ok(stat) => {
                gone = stat
                    .rsplit(')')
                    .next()
                    .is_some_and(|s| s.trim_start().starts_with('Z'))
            }
        }
        if gone {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(gone, "grandchild {pid} survived");
}

#[test]
fn unread_stdin_does_not_deadlock() {
    let mut job = python_job("print('ignored stdin')");
    job.stdin = vec![b'x'; 16 << 20];
    job.limits = limits(10.0, 10);
    let start = Instant::now();
    let out = run(&job).unwrap();
    assert_eq!(out.termination, Termination::Exited(0));
    assert_eq!(out.stdout, b"ignored stdin\n");
    assert!(start.elapsed() < Duration::from_secs(8)); // not held until the 10 s limit
}

#[test]
fn stdin_echo_round_trips_large_data() {
    // 3 MiB through stdin and back while both pipes are active.
    let mut job = python_job("import sys\nsys.stdout.buffer.write(sys.stdin.buffer.read())");
    job.stdin = (0..(3u32 << 20)).map(|i| (i % 251) as u8).collect();
    job.limits = Limits {
        stdout_bytes: 4 << 20,
        ..limits(10.0, 10)
    };
    let out = run(&job).unwrap();
    assert_eq!(out.termination, Termination::Exited(0));
    assert_eq!(out.stdout, job.stdin);
}

#[test]
fn result_pipe_on_fd_3() {
    let mut job = python_job("import os\nos.write(3, b'result!')\nprint('out')");
    job.result_pipe = true;
    let out = run(&job).unwrap();
    assert_eq!(out.termination, Termination::Exited(0));
    assert_eq!(out.result, b"result!");
    assert_eq!(out.stdout, b"out\n");
    // Without the pipe, fd 3 is not open in the child.
    let out = run(&python_job("import os\nos.write(3, b'x')")).unwrap();
    assert_eq!(out.termination, Termination::Exited(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Bad file descriptor"));
}

#[test]
fn environment_is_an_allow_list() {
    let code = "import os\nprint(sorted(os.environ))\nprint(os.environ['PYTHONHASHSEED'], os.environ['LANG'])";
    let out = run(&python_job(code)).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("'PATH'") && text.contains("'HOME'"), "{text}");
    assert!(!text.contains("CARGO"), "{text}");
    assert!(text.ends_with("0 C.UTF-8\n"), "{text}");
}

#[test]
fn working_directory_is_fresh_and_removed() {
    let code =
        "import os\nopen('f.txt', 'w').write('x')\nprint(os.getcwd())\nprint(os.listdir('.'))";
    let out = run(&python_job(code)).unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut lines = text.lines();
    let cwd = lines.next().unwrap();
    assert_eq!(lines.next(), Some("['f.txt']"));
    assert!(cwd.contains("sfstream-"), "{cwd}");
    assert!(!std::path::Path::new(cwd).exists(), "{cwd} was not removed");
}

#[test]
fn files_are_written_into_the_working_directory() {
    let interp = test_interpreter();
    let mut args = interp.flags.clone();
    args.push("prog.py".into());
    let mut job = Job::new(interp.path, args);
    job.files
        .push(("prog.py".into(), b"print(input()[::-1])".to_vec()));
    job.stdin = b"abc\n".to_vec();
    let out = run(&job).unwrap();
    assert_eq!(out.stdout, b"cba\n");
    job.files[0].0 = "../escape.py".into();
    assert!(run(&job).is_err());
}

#[test]
fn segfault_is_a_signal() {
    let out = run(&python_job("import ctypes\nctypes.string_at(0)")).unwrap();
    assert_eq!(out.termination, Termination::Signaled(libc::SIGSEGV));
    assert_eq!(out.verdict(), Verdict::Signaled(libc::SIGSEGV));
}

#[test]
fn rlimits_are_applied() {
    let code = "import resource as r\n\
                for n in ('RLIMIT_CPU','RLIMIT_AS','RLIMIT_FSIZE','RLIMIT_NOFILE','RLIMIT_CORE','RLIMIT_NPROC'):\n    print(n, *r.getrlimit(getattr(r, n)))\n\
                import os; print('sid', os.getsid(0) == os.getpid())";
    let mut job = python_job(code);
    job.limits = limits(5.0, 2);
    let out = run(&job).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("RLIMIT_CPU 2 3\n"), "{text}");
    assert!(
        text.contains(&format!("RLIMIT_AS {0} {0}\n", 1024u64 << 20)),
        "{text}"
    );
    assert!(
        text.contains(&format!("RLIMIT_FSIZE {0} {0}\n", 16u64 << 20)),
        "{text}"
    );
    assert!(text.contains("RLIMIT_CORE 0 0\n"), "{text}");
    assert!(text.contains("sid True"), "{text}");
}

#[test]
fn file_size_limit() {
    let mut job = python_job("open('big', 'wb').write(b'x' * (64 << 20))");
    job.limits = limits(10.0, 10);
    let out = run(&job).unwrap();
    // CPython ignores SIGXFSZ, so the write fails with EFBIG instead of killing it.
    assert_eq!(
        out.termination,
        Termination::Exited(1),
        "{:?}",
        out.termination
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("File too large"));
}

#[test]
fn missing_program_is_an_error() {
    let job = Job::new("/nonexistent/python3", vec![]);
    assert!(matches!(run(&job), Err(crate::Error::Sandbox(_))));
}

#[test]
fn verdict_classification() {
    let base = Outcome {
        termination: Termination::Signaled(libc::SIGKILL),
        stdout: vec![],
        stderr: vec![],
        result: vec![],
        wall: Duration::from_secs(1),
        cpu: Duration::from_millis(100),
        max_rss_bytes: 10 << 20,
        cpu_limit_seconds: 2,
        address_space_limit_bytes: 1 << 30,
    };
    assert_eq!(base.verdict(), Verdict::Signaled(libc::SIGKILL));
    let cpu = Outcome {
        cpu: Duration::from_millis(3000),
        ..base.clone()
    };
    assert_eq!(cpu.verdict(), Verdict::Timeout);
    let xcpu = Outcome {
        termination: Termination::Signaled(libc::SIGXCPU),
        ..base.clone()
    };
    assert_eq!(xcpu.verdict(), Verdict::Timeout);
    let mem = Outcome {
        max_rss_bytes: 900 << 20,
        ..base.clone()
    };
    assert_eq!(mem.verdict(), Verdict::MemoryLimit);
    let segv = Outcome {
        termination: Termination::Signaled(libc::SIGSEGV),
        max_rss_bytes: 1000 << 20,
        ..base.clone()
    };
    assert_eq!(segv.verdict(), Verdict::MemoryLimit);
    let small_segv = Outcome {
        termination: Termination::Signaled(libc::SIGSEGV),
        ..base
    };
    assert_eq!(small_segv.verdict(), Verdict::Signaled(libc::SIGSEGV));
}

#[test]
fn parallel_runs_from_threads() {
    let handles: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                let out = run(&python_job(&format!("print({i} * 2)"))).unwrap();
                assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{}\n", i * 2));
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn random_hex_is_random() {
    let a = random_hex(16).unwrap();
    let b = random_hex(16).unwrap();
    assert_eq!(a.len(), 32);
    assert_ne!(a, b);
}

#[test]
fn a_stop_flag_ends_the_run_and_kills_the_group() {
    // The program starts a grandchild in its process group and sleeps; the stop is set once the
    // grandchild is running.
    let stop = Stop::new();
    let mut job = python_job(
        "import subprocess, sys, time\n\
         p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n\
         time.sleep(60)\n",
    );
    job.limits = limits(120.0, 120);
    let (tx, rx) = std::sync::mpsc::channel();
    let setter = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            rx.recv().unwrap();
            stop.set();
        })
    };
    job.stop = Some(stop.clone());
    let watcher = std::thread::spawn(move || {
        let start = Instant::now();
        loop {
            let found = std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
                std::fs::read(e.path().join("cmdline"))
                    .is_ok_and(|c| c.ends_with(b"import time; time.sleep(60)\0"))
            });
            if found || start.elapsed() > Duration::from_secs(60) {
                tx.send(()).unwrap();
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let start = Instant::now();
    assert!(matches!(run(&job), Err(crate::Error::Stopped)));
    let took = start.elapsed();
    watcher.join().unwrap();
    setter.join().unwrap();
    assert!(took < Duration::from_secs(30), "the stop took {took:?}");
    // Nothing of the run survives: the whole group was killed (the grandchild, an orphan now,
    // leaves the process table once the kernel has finished it).
    let alive = || {
        std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| c.ends_with(b"import time; time.sleep(60)\0"))
        })
    };
    let killed = Instant::now();
    while alive() && killed.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!alive());
    // A set flag starts nothing.
    let mut job = python_job("print(1)");
    job.stop = Some(stop);
    assert!(matches!(run(&job), Err(crate::Error::Stopped)));
}
