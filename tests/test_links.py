"""Every relative link in the course's prose leads somewhere: the file exists, and a ``#fragment``
into a Markdown file names one of its headings (GitHub's anchors).  Notebook markdown cells,
the READMEs and the lab notes are read; web links are not followed (no network in tests)."""

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LINK = re.compile(r"(?<!\!)\[[^\]]*\]\(([^)\s]+)\)")  # [text](target), not images
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (letters, digits, _ and -
    kept), each space a hyphen.  Written out here because no maintained library in the course's
    dependencies computes it."""
    text = re.sub(r"[`*_]{1,2}(.+?)[`*_]{1,2}", r"\1", heading)  # inline markup, as rendered
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    in_code = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        m = None if in_code else HEADING.match(line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def documents() -> list[tuple[Path, str]]:
    docs = [(p, p.read_text()) for p in sorted(REPO.glob("**/*.md"))
            if not any(part in {".venv", "build", "data", "node_modules"} or part.startswith(".")
                       for part in p.relative_to(REPO).parts)]
    for p in sorted((REPO / "notebooks").glob("*.ipynb")) + sorted((REPO / "workshops").glob("*.ipynb")):
        cells = json.loads(p.read_text())["cells"]
        docs.append((p, "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")))
    return docs


def test_the_slug_follows_githubs_rules():
    assert slug("03 · Build the oracle, then break it") == "03--build-the-oracle-then-break-it"
    assert slug("The claims, one by one") == "the-claims-one-by-one"
    assert slug("Running it elsewhere") == "running-it-elsewhere"
    assert slug("`D(ẑ)` and the gap") == "dẑ-and-the-gap"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n") == {"a", "a-1"}


@pytest.mark.parametrize("doc", documents(), ids=lambda d: str(d[0].relative_to(REPO)))
def test_relative_links_lead_somewhere(doc):
    path, text = doc
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
            continue
        file, _, fragment = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest.read_text()):
            broken.append(f"{target}: no heading with that anchor in {dest.name}")
        elif fragment and dest == path and path.suffix == ".ipynb" and fragment not in anchors(text):
            broken.append(f"{target}: no heading with that anchor in this notebook")
    assert not broken, f"{path.relative_to(REPO)}: " + "; ".join(broken)


def test_a_broken_link_or_anchor_is_named():
    doc = (REPO / "README.md", "[a](benchmarks/NOTES.md#no-such-heading) [b](no-such-file.md) [c](https://x.org/y)")
    with pytest.raises(AssertionError) as e:
        test_relative_links_lead_somewhere(doc)
    assert "NOTES.md#no-such-heading: no heading" in str(e.value) and "no-such-file.md: no such file" in str(e.value)
    assert "x.org" not in str(e.value)
