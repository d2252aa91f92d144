"""The README's examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_library_example_runs(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, re.S)
    assert blocks
    for code in blocks:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr.decode()
        out = proc.stdout.decode()
        assert "status='correct'" in out  # check_math and run_tests both say correct
        assert re.search(r"^\S+#\d+ correct$", out, re.M)  # a formatted example


def test_readme_setup_commands_are_make_targets() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    commands = re.findall(r"^make (\w+)", README, re.M)
    assert {"demo", "test"} <= set(commands)
    for target in commands:
        assert re.search(rf"^{target}:", makefile, re.M), target
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci


def _tracked_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [ROOT / name for name in out.split("\0") if name]


def test_no_file_points_outside_the_repository() -> None:
    """The repository stands alone: no machine paths, no documents that live elsewhere. The one
    exception is the default folder of the public datasets, named in tests/conftest.py."""
    pattern = re.compile(r"SPEC\.md|/work/|/root/|\.\./shared|shared/data|SOURCES\.md")
    offenders = []
    for path in _tracked_files():
        if path.suffix in {".gz", ".so"} or path.name in {"Cargo.lock"}:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        for lineno, line in enumerate(text.splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()[:80]}")
    allowed = {"tests/public_data.py", "tests/test_docs.py"}
    assert [o for o in offenders if o.split(":", 1)[0] not in allowed] == []


def test_every_status_is_documented() -> None:
    from sfstream import _core

    doc = (ROOT / "docs" / "records.md").read_text(encoding="utf-8")
    table = doc.split("## Statuses", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", table, re.M))
    emitted = {"correct", "wrong_answer", "no_answer", "truncated", "timeout", "error"}
    emitted |= {"invalid_tests", "low_quality"}
    emitted |= set(_core.CODE_STATUSES) if hasattr(_core, "CODE_STATUSES") else set()
    rust = (ROOT / "rust" / "src" / "code" / "mod.rs").read_text(encoding="utf-8")
    emitted |= set(re.findall(r'CodeStatus::\w+ => "([a-z_]+)"', rust))
    assert emitted <= documented, emitted - documented
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/records.md" in readme
