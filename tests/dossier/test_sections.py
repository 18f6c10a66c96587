"""The dossier is assembled from sections the apps register; the registry never
imports the apps above it, and every Annex IV point has a section."""

import ast
from pathlib import Path

import pytest

from registry import dossier

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize(
    "module",
    [
        "registry/dossier.py",
        "registry/dossier_sections.py",
        "registry/pdf.py",
        "registry/api/dossier.py",
        "registry/api/dossier_urls.py",
    ],
)
def test_the_registry_side_never_imports_risk_or_playbooks(module):
    upward = {
        name
        for name in imported_modules(ROOT / module)
        if name.split(".")[0] in ("risk", "playbooks")
    }
    assert upward == set()


def test_each_app_contributes_its_sections_to_the_points_they_serve():
    sections = dossier.registered_sections()
    by_app = {}
    for section in sections:
        by_app.setdefault(section.key.split(".")[0], set()).add(section.point)
    assert by_app["registry"] == {1, 2, 3, 6, 7, 8, 9}
    assert by_app["risk"] == {2, 3, 4, 5, 9}
    assert by_app["playbooks"] == {9}
    assert {section.point for section in sections} == set(dossier.ANNEX_IV_POINTS)
    assert sections == sorted(sections, key=lambda s: (s.point, s.order, s.key))


def test_a_point_outside_annex_iv_is_refused():
    with pytest.raises(ValueError, match="points 1 to 9"):
        dossier.dossier_section("risk.nowhere", point=10, title="Nowhere")


def test_a_section_with_nothing_recorded_says_so():
    assert not dossier.SectionData().recorded
    assert not dossier.SectionData(facts=[("x", "X", None), ("y", "Y", "")]).recorded
    assert dossier.SectionData(facts=[("x", "X", 0)]).recorded
    table = dossier.Table("t", "T", [("a", "A")], rows=[])
    assert not dossier.SectionData(tables=[table]).recorded
