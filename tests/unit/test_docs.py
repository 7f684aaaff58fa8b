"""The docs restate the code's knowledge only through generated tables, which match their sources now and fail
when a source changes; every setting the code reads is documented; the README stays a page for users."""
import re
from pathlib import Path

from vtdemo import doc_tables, limits

REPO = Path(__file__).resolve().parents[2]


def test_every_generated_table_matches_its_source():
    assert doc_tables.render(REPO, write=False) == {}, "run `python -m vtdemo docs`"


def test_a_changed_source_is_caught(monkeypatch, tmp_path):
    changed = limits.Limit("VTDEMO_MAX_TILE", 512, "count", "the tile side (LR px) a request may choose")
    monkeypatch.setitem(limits.LIMITS, "VTDEMO_MAX_TILE", changed)
    assert set(doc_tables.render(REPO, write=False)) == {"limits"}
    for file in {f for f, _ in doc_tables.TABLES.values()}:  # rewritten in a copy, it matches again
        (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / file).write_text((REPO / file).read_text())
    assert set(doc_tables.render(tmp_path, write=True)) == {"limits"}
    assert doc_tables.render(tmp_path, write=False) == {}
    assert "| `VTDEMO_MAX_TILE` | 512 |" in (tmp_path / "docs/security.md").read_text()
    monkeypatch.setenv("VTDEMO_MAX_TILE", "")
    assert limits.max_tile() == 512  # the code reads the same entry the table shows


def test_the_demo_tables_show_the_records_numbers():
    import json

    table = doc_tables.demo_classifier_table()
    for path in sorted((REPO / "weights").glob("*-demo.json")):
        info = json.loads(path.read_text())
        assert f"| {info['id']} |" in table and f"{100 * info['val_top1']:.1f} %" in table


def test_every_variable_the_code_reads_is_documented():
    read = {v for p in (REPO / "vtdemo").rglob("*.py") for v in re.findall(r"VTDEMO_[A-Z0-9_]*[A-Z0-9]",
                                                                           p.read_text())}
    docs = (REPO / "docs/security.md").read_text() + (REPO / "docs/usage.md").read_text()
    assert sorted(v for v in read if v not in docs) == []


def test_the_readme_is_a_page_for_users():
    lines = (REPO / "README.md").read_text().splitlines()
    first_code = next(i for i, line in enumerate(lines, 1) if line.startswith("```"))
    assert len(lines) <= 250 and first_code <= 70, (len(lines), first_code)
    text = "\n".join(lines)
    for link in re.findall(r"\]\((docs/[^)#]+)", text):
        assert (REPO / link).is_file(), link


def test_the_docs_links_lead_somewhere():
    for page in (REPO / "docs").glob("*.md"):
        for link in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / link).exists(), f"{page.name}: {link}"
