"""README.md and the model card: the test commands in step with CI, no internal labels, short,
links that resolve, and figures that agree with each other."""
import re
import shlex
import subprocess

import yaml

from tests.conftest import REPO_ROOT

README = REPO_ROOT / "README.md"
CARD = REPO_ROOT / "saved_models" / "cosnet_mobilenetv2_davis.md"
CI = REPO_ROOT / ".ci" / "run"

# What the README's test section tells a user to type, as commands (one tuple of words each).
INSTALL = ("pip", "install", "-e", ".[dev]")
DEFAULT_SUITE = ("python", "-m", "pytest")
SLOW_SUITE = ("python", "-m", "pytest", "-m", "slow", "-n", "0")

# Labels of the project's own bookkeeping, which mean nothing to a reader of the package.
INTERNAL_LABEL = re.compile(r"\bstops?\s+\d|\bissues?\s+#?\d|\bsessions?\b", re.IGNORECASE)
README_MAX_LINES = 220
TEXT_SUFFIXES = {".py", ".md", ".toml", ".ini", ".txt", ".cfg", ".yml", ".yaml", ".json", ""}


def commands(text):
    """Every command of shell text: comments dropped, `a && b` split, each a tuple of words."""
    found = []
    for line in text.splitlines():
        words, command = shlex.split(line, comments=True), []
        for word in words + ["&&"]:
            if word == "&&":
                if command:
                    found.append(tuple(command))
                command = []
            else:
                command.append(word)
    return found


def section(markdown, word):
    """The text of the first `## ` section whose heading holds `word` (case-insensitive)."""
    parts = re.split(r"^## ", markdown, flags=re.M)
    matches = [part for part in parts[1:] if word.lower() in part.splitlines()[0].lower()]
    assert matches, f"README.md has no '## ...{word}...' section"
    return matches[0]


def code_blocks(markdown):
    return re.findall(r"^```[^\n]*\n(.*?)^```", markdown, flags=re.M | re.S)


def marker_expression(command):
    """The `-m EXPR` of a pytest command, or None (the default selection of pytest.ini)."""
    return command[command.index("-m", 3) + 1] if "-m" in command[3:] else None


def is_pytest(command):
    return command[:3] == DEFAULT_SUITE


def selects_slow(command):
    expression = marker_expression(command) or ""
    return "slow" in expression and not re.search(r"\bnot\s+slow\b", expression)


def test_readme_test_section_gives_the_test_commands():
    block = "\n".join(code_blocks(section(README.read_text(), "test")))
    listed = commands(block)
    for command in (INSTALL, DEFAULT_SUITE, SLOW_SUITE):
        assert command in listed, f"README's test section must give `{shlex.join(command)}`; it has {listed}"


def test_ci_runs_the_readme_test_commands():
    ci = commands(CI.read_text())
    assert INSTALL in ci, f".ci/run must install as the README says: `{shlex.join(INSTALL)}`"
    assert DEFAULT_SUITE in ci, f".ci/run must run the default suite as the README says: `{shlex.join(DEFAULT_SUITE)}`"
    # The slow step may gain options or be split; it must still run the slow tests, and CI must
    # run no other pytest selection that the README does not give.
    pytest_runs = [command for command in ci if is_pytest(command)]
    assert any(selects_slow(command) for command in pytest_runs), ".ci/run must run the slow tests (-m slow)"
    others = [command for command in pytest_runs if command != DEFAULT_SUITE and not selects_slow(command)]
    assert not others, f".ci/run runs pytest selections the README does not give: {others}"


def test_commands_parse_as_a_shell_reads_them():
    assert commands('pip install -e ".[dev]" && python -m pytest  # the suite\n') == [INSTALL, DEFAULT_SUITE]
    assert selects_slow(SLOW_SUITE) and not selects_slow(DEFAULT_SUITE)
    assert not selects_slow(("python", "-m", "pytest", "-m", "not slow"))


def _tracked_text_files():
    """The repository's tracked text files (README and card alone outside a git checkout)."""
    try:
        listed = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return [README, CARD]
    paths = [REPO_ROOT / name for name in listed.stdout.splitlines()]
    return [p for p in paths if p.suffix in TEXT_SUFFIXES and p.is_file()]


def test_the_repository_has_no_internal_labels():
    """The project speaks of itself: findings are cited by date and config, never by work labels."""
    found = []
    for path in _tracked_text_files():
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if INTERNAL_LABEL.search(line):
                found.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert not found, "internal labels:\n" + "\n".join(found)


def test_internal_label_pattern():
    # Built here so that this file holds no label itself.
    for text in (" ".join(["stop", "7"]), " ".join(["stops", "3-4"]), " ".join(["Issue", "2"]), "this sess" "ion"):
        assert INTERNAL_LABEL.search(text), text
    for text in ("the run stops when the loss is NaN", "an issue with the clip", "stop-gradient"):
        assert not INTERNAL_LABEL.search(text), text


def test_readme_stays_short():
    lines = len(README.read_text().splitlines())
    assert lines < README_MAX_LINES, f"README.md has {lines} lines; the guide stays under {README_MAX_LINES}"


def relative_links(markdown):
    """Targets of the Markdown links and images that are not URLs or in-page anchors."""
    targets = []
    for target in re.findall(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", markdown):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue
        targets.append(target.split("#")[0])
    return targets


def test_relative_links_point_at_files():
    # docs/images/demo_sheet.jpg (made by `cosnet demo`) and docs/research-log.md are added with
    # the package's release; until they are, this test names them.
    missing = []
    for path in (README, CARD):
        links = relative_links(path.read_text())
        assert links, f"{path.name} has no relative links: the link pattern is broken"
        missing += [f"{path.relative_to(REPO_ROOT)} -> {t}" for t in links if not (path.parent / t).exists()]
    assert not missing, "links to files that do not exist:\n" + "\n".join(missing)


def test_link_pattern():
    text = '![a](docs/x.jpg) [b](../y.md#z) [c](https://e.org) [d](#anchor) [e](<f.md>) [g](h.md "title")'
    assert relative_links(text) == ["docs/x.jpg", "../y.md", "f.md", "h.md"]


def front_matter(markdown):
    match = re.match(r"^---\n(.*?)\n---\n", markdown, flags=re.S)
    assert match, "the model card starts with YAML front matter between --- lines"
    return yaml.safe_load(match.group(1)), markdown[match.end():]


def test_card_front_matter_matches_its_body():
    meta, body = front_matter(CARD.read_text())
    assert meta["license"] == "cc-by-nc-4.0"
    assert meta["library_name"] == "keras"
    assert "davis-2016" in meta["datasets"]
    metrics = meta["model-index"][0]["results"][0]["metrics"]
    assert {m["type"] for m in metrics} == {"jaccard", "f-measure"}
    for metric in metrics:
        assert f"{metric['value']:.3f}" in body, f"front matter's {metric['name']} {metric['value']} is not in the card"


def test_readme_figures_are_the_cards():
    # Every three-decimal score the README's "What to expect" gives is one the card reports.
    expected = section(README.read_text(), "expect")
    _, card = front_matter(CARD.read_text())
    figures = set(re.findall(r"\b\d\.\d{3}\b", expected))
    assert figures, "the README's 'What to expect' section lists no scores"
    missing = sorted(f for f in figures if f not in card)
    assert not missing, f"README's 'What to expect' gives figures the card does not: {missing}"
