"""The README routes and the docs stay true: the options table is OPTION_TABLE's, every relative link lands,
every docs page is reachable from the README, and the plugin examples in the docs run as written."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from recipebench.suite.options import OPTION_TABLE
from tests.conftest import REPO, subprocess_env

README = REPO / "README.md"
DOCS = REPO / "docs"
#: The README's options table lies between these two lines; its rows are OPTION_TABLE's flags and help, in order.
TABLE_START = "<!-- options table: OPTION_TABLE's flags and help (harness/suite/options.py); tests/test_docs.py -->"
TABLE_END = "<!-- end of options table -->"
#: Pages other branches of the rebuild (issue 21) are adding; the README links them already. The coordinator
#: removes this allow-list when those branches are merged, so that a link to them is checked like any other.
PENDING_PAGES: set[str] = set()
#: Files the docs name as a user's own, in examples (docs/faults.md: a broken --plugins-dir file).
EXAMPLE_FILES = {"plugins/mine.py"}
#: Dotted names the docs show that are not module paths: the MLflow tags an export sets (docs/trackers.md).
TAG_NAMES = {"recipebench.created_utc", "recipebench.group", "recipebench.run_id", "recipebench.superseded"}
#: The README's length a newcomer reads in five minutes.
README_MAX_LINES = 250


def pages() -> list[Path]:
    """Every markdown page a reader can reach from the README: README.md, docs/*.md and results' READMEs."""
    return [README, *sorted(DOCS.glob("*.md")), *sorted((REPO / "results").rglob("README.md"))]


def options_table() -> str:
    """The README's options table as OPTION_TABLE gives it (``|`` in a help text escaped for markdown)."""
    rows = ["| option | meaning |", "|---|---|"]
    rows += [f"| `{flag}` | {help_text.replace('|', chr(92) + '|')} |" for flag, _d, help_text, _p, _v in OPTION_TABLE]
    return "\n".join(rows)


def prose(text: str) -> str:
    """``text`` without fenced code blocks and inline code, where brackets and parentheses are not links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (backticks too), spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)
    return {anchor(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, flags=re.M)}


def links(page: Path) -> list[str]:
    """The relative link targets of a page (web addresses left out)."""
    found = re.findall(r"\]\(([^)\s]+)\)", prose(page.read_text()))
    return [t for t in found if not re.match(r"[a-z]+:", t)]


def test_the_readme_options_table_is_option_table():
    """Every OPTION_TABLE flag with its help, in its order, and nothing else: an option is described once."""
    text = README.read_text()
    assert TABLE_START in text and TABLE_END in text, f"README.md: no options table between {TABLE_START!r} and the end line"
    table = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].strip()
    assert table == options_table(), ("README.md's options table is not OPTION_TABLE's "
                                      f"(harness/suite/options.py); replace it with:\n{options_table()}")


def test_the_options_reference_has_a_row_for_every_option_and_no_other():
    rows = re.findall(r"^\| `(--[a-z0-9-]+)", (DOCS / "options.md").read_text(), flags=re.M)
    assert rows == [flag for flag, *_ in OPTION_TABLE], "docs/options.md: one row per OPTION_TABLE flag, in its order"


def test_the_readme_is_short_and_starts_with_the_two_commands():
    lines = README.read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; at most {README_MAX_LINES}"
    ci_command = (REPO / ".ci" / "run").read_text().strip().splitlines()[-1]
    first_section = "\n".join(lines).split("\n## ", 2)[1]
    assert first_section.startswith("The two commands"), "README.md: the two commands are its first section"
    assert f"    {ci_command}\n" in first_section, f"README.md: the test command is .ci/run's: {ci_command}"
    assert "pytest recipes/ --benchmark-only\n" in first_section


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_lands_on_a_file_and_heading(page):
    for target in links(page):
        path, _, fragment = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        rel = dest.relative_to(REPO).as_posix() if dest.is_relative_to(REPO) else str(dest)
        if rel in PENDING_PAGES:
            continue
        assert dest.exists(), f"{page.relative_to(REPO)}: link to {target}: no file {rel}"
        if fragment and dest.suffix == ".md":
            assert fragment in anchors(dest), f"{page.relative_to(REPO)}: link to {target}: no heading #{fragment} in {rel}"


def test_every_docs_page_is_linked_from_the_readme():
    """Nothing moved out of the README is lost: each page under docs/ is one link away."""
    linked = {(REPO / t.partition("#")[0]).resolve() for t in links(README) if t.partition("#")[0]}
    for page in sorted(DOCS.glob("*.md")):
        assert page.resolve() in linked, f"docs/{page.name} is not linked from README.md"
    assert PENDING_PAGES <= {p.relative_to(REPO).as_posix() for p in linked}


def test_the_link_checker_sees_a_broken_link_and_a_broken_anchor(tmp_path):
    (tmp_path / "a.md").write_text("# A page\n\n[ok](a.md#a-page) [gone](b.md) [bad](a.md#nowhere) `[x](y)`\n")
    targets = links(tmp_path / "a.md")
    assert targets == ["a.md#a-page", "b.md", "a.md#nowhere"]
    assert anchors(tmp_path / "a.md") == {"a-page"}
    assert anchor("Many machines: the cases as Ray tasks") == "many-machines-the-cases-as-ray-tasks"
    assert anchor("`recipebench compare BASE NEW`") == "recipebench-compare-base-new"


def plugin_blocks(page: Path) -> dict[str, str]:
    """A page's plugin files: each ``python`` code block whose first line is ``# NAME.py``."""
    return dict(re.findall(r"^```python\n# (\w+\.py)\n(.*?)^```", page.read_text(), flags=re.S | re.M))


def test_the_plugin_page_examples_work_as_written(tmp_path):
    """docs/plugins.md's recipe (the README's, the same text), workload and architecture, copied into files:
    they register, the workload's data is made and read as the suite reads it, the architecture's parameter
    groups cover its model once."""
    import torch.nn as nn
    from fastai.vision.learner import add_head, create_body, num_features_model

    from recipebench.registry import load_registry

    blocks = plugin_blocks(DOCS / "plugins.md")
    assert set(blocks) == {"my_recipes.py", "my_workloads.py", "my_archs.py"}, sorted(blocks)
    assert blocks["my_recipes.py"] == plugin_blocks(README)["my_recipes.py"], "README.md and docs/plugins.md: one example"
    for name, code in blocks.items():
        (tmp_path / name).write_text(code)
    proc = subprocess.run([sys.executable, "-m", "recipebench", "summary", "--workload", "tiny_shapes", "--scale",
                           "smoke", "--plugins-dir", str(tmp_path), "--cache-dir", str(tmp_path / "cache")],
                          capture_output=True, text=True, timeout=600, env=subprocess_env(tmp_path / "cache"))
    assert proc.returncode == 0, proc.stderr
    assert "TensorCategory" in proc.stdout and "disc" in proc.stdout, proc.stdout[-2000:]
    registry = load_registry(tmp_path)
    assert registry.recipe("long_head").summary.startswith("fit_one_cycle(4)")
    arch = registry.arch("wide_resnet50_2")
    body = create_body(arch.build(), n_in=3, pretrained=False, cut=arch.cut)
    net = add_head(body, num_features_model(nn.Sequential(*body.children())), 2)
    groups = arch.split(net)
    assert len(groups) == 3 and sorted(map(id, sum(groups, []))) == sorted(map(id, net.parameters()))


def stale_names(text: str) -> list[str]:
    """The module paths, files and commands ``text`` names that do not exist: ``recipebench.x.y`` (a module,
    or an attribute of one), ``harness/...``, ``tests/...``, ``benchmarks/...`` and ``plugins/...`` files, and
    the subcommand of every ``recipebench COMMAND`` in code."""
    import importlib

    from recipebench.commands import build_parser

    stale = []
    for dotted in sorted(set(re.findall(r"\brecipebench(?:\.[A-Za-z_]\w*)+", text))):
        parts, obj = dotted.split("."), None
        for i in range(len(parts), 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            for attr in parts[i:]:
                obj = getattr(obj, attr, None)
            break
        if obj is None and dotted not in TAG_NAMES:
            stale.append(dotted)
    for path in sorted(set(re.findall(r"\b(?:harness|tests|benchmarks|plugins)/[\w/.]+\.(?:py|json)\b", text))):
        if not (REPO / path).exists() and path not in EXAMPLE_FILES:
            stale.append(path)
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    code = "\n".join(re.findall(r"`([^`\n]+)`", text) + re.findall(r"^ {4,}(.+)$", text, flags=re.M)
                     + re.findall(r"^```.*?^```", text, flags=re.S | re.M))
    for command in sorted(set(re.findall(r"^\s*recipebench ([a-z][\w-]*)", code, flags=re.M))):
        if command not in sub.choices:
            stale.append(f"recipebench {command}")
    return stale


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(REPO)))
def test_the_module_paths_files_and_commands_a_page_names_exist(page):
    """Moved text keeps no flat module names of before the stage subpackages (``recipebench.compare``)."""
    assert stale_names(page.read_text()) == [], f"{page.relative_to(REPO)} names what does not exist"


def test_stale_names_are_found():
    text = ("`recipebench.compare` and `recipebench.analysis.compare.CompareError`; `harness/cli.py`; "
            "`tests/test_docs.py`\n\n    recipebench compare a b\n    recipebench noise\n    recipebench bogus x\n"
            "\n```\npython -m recipebench.noise\n```\n")
    assert stale_names(text) == ["recipebench.compare", "recipebench.noise", "harness/cli.py", "recipebench bogus"]


def test_the_architecture_page_is_the_layout_the_tests_enforce():
    """docs/architecture.md has a row per stage folder that names each of its modules and, in its last cell,
    exactly the stages it may import (tests/test_layout.py's LAYERS)."""
    from tests.test_layout import LAYERS

    rows = {m.group(1): m.group(0) for m in
            re.finditer(r"^\| `(\w+)/` \|.*$", (DOCS / "architecture.md").read_text(), flags=re.M)}
    assert set(rows) == set(LAYERS), sorted(rows)
    for stage, row in rows.items():
        may_import = set(re.findall(r"`(\w+)`", row.rstrip(" |").rsplit("|", 1)[1]))
        assert may_import == LAYERS[stage], f"docs/architecture.md, {stage}/ may import {sorted(LAYERS[stage])}"
        named = set(re.findall(r"`(\w+)`", row.split("|")[3]))
        modules = {p.stem for p in (REPO / "harness" / stage).glob("*.py")} - {"__init__"}
        assert modules <= named, f"docs/architecture.md, {stage}/: add {sorted(modules - named)}"
