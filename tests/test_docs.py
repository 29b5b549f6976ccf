"""The docs cannot fall behind the code: every schema column is documented in docs/store.md,
every module is named in docs/layout.md, and every relative link in the docs points at a file and heading."""

import re

from tests.conftest import ROOT
from xeonsweep.store import results

DOCS = ROOT / "docs"


def documented_names(path) -> set[str]:
    """Everything written in backticks on the page."""
    return set(re.findall(r"`([^`\n]+)`", path.read_text()))


def described_columns(path) -> set[str]:
    """Names in the first cell of the table rows under "## Columns": each has a row saying what it holds."""
    section = path.read_text().split("\n## Columns", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {name for cell in rows for name in re.findall(r"`([^`]+)`", cell)}


def test_every_schema_column_is_documented_in_store_md():
    named = described_columns(DOCS / "store.md")
    missing = [column for column in results.COLUMNS if column not in named]
    assert not missing, f"docs/store.md does not document these columns: {missing}"


def modules() -> list[str]:
    """Every Python module of the package and the Hydra plugins, as a path from the repository root.
    An empty __init__.py only marks a package and is left out."""
    files = [*(ROOT / "xeonsweep").rglob("*.py"), *(ROOT / "hydra_plugins").rglob("*.py")]
    return sorted(str(f.relative_to(ROOT)) for f in files if f.read_text().strip())


def test_every_module_is_named_in_layout_md():
    named = documented_names(DOCS / "layout.md")
    missing = [module for module in modules() if module not in named]
    assert modules() and not missing, f"docs/layout.md does not name these modules: {missing}"


def anchors(page) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_relative_links_in_readme_and_docs_exist():
    pages = [ROOT / "README.md", *DOCS.rglob("*.md")]
    broken = []
    for page in pages:
        for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)", page.read_text()):
            if "://" in target:
                continue
            path = page.parent / target if target else page
            if not path.exists() or (anchor and path.suffix == ".md" and anchor not in anchors(path)):
                broken.append(f"{page.relative_to(ROOT)}: {target}#{anchor}")
    assert not broken, f"links to files or headings that do not exist: {broken}"
