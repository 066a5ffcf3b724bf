"""The frontend's own unit tests (vitest: the event reducer, markdown, the API client) and its
lint (prettier, eslint) are part of the suite: the README's test command runs them too."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

LABEXTENSION = Path(__file__).resolve().parent.parent / "labextension"

#: A test case as the vitest files declare it: ``it(``, ``test(``, ``it.each(...)(``...
TEST_CASE = re.compile(r"^\s*(?:it|test)(?:\.\w+)*\(", re.MULTILINE)


def declared_cases(test_files: list[Path]) -> int:
    """How many test cases the files declare (at least how many vitest must run)."""
    return sum(len(TEST_CASE.findall(path.read_text(encoding="utf-8"))) for path in test_files)


def failures(report: dict[str, Any]) -> str:
    """The failed assertions of a vitest JSON report, one block per test."""
    lines = []
    for result in report.get("testResults", []):
        if result.get("status") != "passed" and result.get("message"):
            lines.append(f"{result['name']}: {result['message']}")
        for case in result.get("assertionResults", []):
            if case.get("status") != "passed":
                messages = "\n".join(case.get("failureMessages") or [])
                lines.append(f"{case.get('fullName')} [{case.get('status')}]\n{messages}")
    return "\n\n".join(lines)[-4000:]


def npm_and_env() -> tuple[str, dict[str, str]]:
    npm = shutil.which("npm")
    assert npm, "npm is needed (setup installs Node.js' npm with the frontend build)"
    assert (LABEXTENSION / "node_modules").is_dir(), (
        "run scripts/setup.sh: it installs the frontend"
    )
    env = dict(
        os.environ,
        CI="true",
        NO_COLOR="1",
        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    )
    return npm, env


def test_frontend_lint_passes() -> None:
    """`npm run lint:check`: prettier's formatting and eslint's rules (`npm run lint` fixes)."""
    npm, env = npm_and_env()
    result = subprocess.run(
        [npm, "run", "lint:check", "--silent"],
        cwd=LABEXTENSION,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]


def test_vitest_suite_passes(tmp_path: Path) -> None:
    npm, env = npm_and_env()
    test_files = sorted((LABEXTENSION / "test").rglob("*.test.ts"))
    assert test_files, "no vitest files under labextension/test"
    report_path = tmp_path / "vitest.json"
    result = subprocess.run(
        [npm, "test", "--silent", "--", "--reporter=json", f"--outputFile={report_path}"],
        cwd=LABEXTENSION,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert report_path.is_file(), f"vitest wrote no report (exit {result.returncode}):\n{output}"
    report = json.loads(report_path.read_text(encoding="utf-8"))

    assert report["numFailedTests"] == 0, failures(report)
    assert report["numFailedTestSuites"] == 0, failures(report)
    assert report["numPassedTests"] == report["numTotalTests"], (
        f"{report['numTotalTests'] - report['numPassedTests']} tests skipped or pending:\n"
        + failures(report)
    )
    ran = {Path(suite["name"]).resolve() for suite in report["testResults"]}
    assert ran == {path.resolve() for path in test_files}, "vitest did not run every test file"
    assert report["numTotalTests"] >= declared_cases(test_files), (
        f"vitest ran {report['numTotalTests']} tests, the files declare "
        f"{declared_cases(test_files)}"
    )
    assert result.returncode == 0, output[-4000:]
