"""The README's first screen and CI agree: CI installs and tests the way the README says."""

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_ci_runs_the_readmes_install_and_test_command() -> None:
    first_screen = (ROOT / "README.md").read_text().split("\n## ", 1)[0]
    commands = re.findall(r"^python3 -m venv .*$", first_screen, flags=re.MULTILINE)
    assert len(commands) == 2  # one runs the service, one runs the tests
    serve, test = (command.split(" && ") for command in commands)
    assert serve[-1] == "llm-compare serve"
    assert test[-1] == "pytest"
    assert serve[:-1] == test[:-1]  # the same install for both

    ci = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    for step in test:
        assert step in ci, f"{step!r} of the README's test command is not in .ci/run"
    assert ci.index(test[-2]) < ci.index("pytest")
