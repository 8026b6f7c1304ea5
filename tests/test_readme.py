"""README's commands stay in step with CI and with the package."""
import re

from tests.conftest import REPO_ROOT

TEST_COMMAND = 'pip install -e ".[dev]" && python -m pytest'


def test_ci_runs_the_readme_test_command():
    readme = (REPO_ROOT / "README.md").read_text()
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert TEST_COMMAND in readme.split("```")[1], "README's opening block must hold the test command"
    assert re.search(r"^" + re.escape(TEST_COMMAND) + r"$", ci, re.M), ".ci/run must run it verbatim"
