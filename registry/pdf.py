"""PDF pages for regulators: headings, key/value tables, tables and lists.

Rendered with fpdf2 (pure Python, installs from PyPI with no system library), in
DejaVu Sans Condensed, vendored beside this module (``fonts/``, licence included), so
every European script prints. The dossier (``registry.dossier``) and the
serious-incident report (``playbooks.serious_report``) draw their pages with ``Document``;
neither knows fpdf2.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import TableCellFillMode, XPos, YPos
from fpdf.fonts import FontFace

# fontTools reports every table it subsets at INFO; a PDF per request need not say so.
logging.getLogger("fontTools").setLevel(logging.WARNING)

FONTS = Path(__file__).resolve().parent / "fonts"
FAMILY = "DejaVu"
NOT_RECORDED = "not recorded"
EMPTY_CELL = "–"
MUTED = (110, 110, 110)
HEADING_FILL = (230, 234, 240)


ISO_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2}(\.\d+)?)?(Z|[+-]00:00)$")


def text_of(value, empty: str = NOT_RECORDED) -> str:
    """How a value reads on the page: times in UTC to the minute (also ISO 8601 text),
    lists one per line, nothing as ``empty``."""
    if value is None or value == "" or value == []:
        return empty
    if isinstance(value, str):
        match = ISO_TIME.match(value)
        return f"{match.group(1)} {match.group(2)} UTC" if match else value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "\n".join(text_of(item, empty) for item in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class Document(FPDF):
    """An A4 document with a running title, numbered pages and an outline (bookmarks)."""

    def __init__(self, title: str, running_title: str):
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.add_font(FAMILY, "", FONTS / "DejaVuSansCondensed.ttf")
        self.add_font(FAMILY, "B", FONTS / "DejaVuSansCondensed-Bold.ttf")
        self.running_title = running_title
        self.set_title(title)
        self.set_creator("govreg")
        self.set_margins(18, 18, 18)
        self.set_auto_page_break(auto=True, margin=18)
        self.add_page()

    # --- page furniture ---------------------------------------------------------------

    def header(self):
        if self.page_no() == 1:
            return
        self.set_font(FAMILY, "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, self.running_title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)
        self.ln(2)

    def footer(self):
        self.set_y(-12)
        self.set_font(FAMILY, "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0, 0, 0)

    # --- blocks -----------------------------------------------------------------------

    def title_block(self, title: str, lines: Iterable[str] = ()) -> None:
        self.set_font(FAMILY, "B", 18)
        self.multi_cell(0, 9, title, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)
        self.set_font(FAMILY, "", 10)
        for line in lines:
            self.multi_cell(0, 5.5, line, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(4)

    def heading(self, text: str, level: int = 1) -> None:
        """A heading, listed in the PDF's outline; a level-1 heading starts low on a
        page only if some of what follows fits."""
        size = {1: 14, 2: 11.5, 3: 10}.get(level, 10)
        if self.will_page_break(40 if level == 1 else 35):
            self.add_page()
        self.ln(3 if level == 1 else 2)
        self.start_section(text, level=level - 1, strict=False)
        self.set_font(FAMILY, "B", size)
        self.multi_cell(0, size * 0.55, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1.5)
        self.set_font(FAMILY, "", 9.5)

    def paragraph(self, text: str, *, muted: bool = False) -> None:
        self.set_font(FAMILY, "", 9.5)
        if muted:
            self.set_text_color(*MUTED)
        self.multi_cell(0, 5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)
        self.ln(1.5)

    def not_recorded(self, what: str = "") -> None:
        self.paragraph(
            f"{what}: {NOT_RECORDED}." if what else f"{NOT_RECORDED.capitalize()}.", muted=True
        )

    def facts(self, pairs: Sequence[tuple[str, object]]) -> None:
        """A two-column table of labels and values."""
        if not pairs:
            return
        self.set_font(FAMILY, "", 9)
        with self.table(
            col_widths=(32, 68),
            first_row_as_headings=False,
            text_align="LEFT",
            v_align="TOP",
            line_height=4.6,
            padding=1.2,
            borders_layout="HORIZONTAL_LINES",
        ) as table:
            for label, value in pairs:
                row = table.row()
                row.cell(label, style=FontFace(emphasis="BOLD"))
                text = text_of(value)
                row.cell(text, style=FontFace(color=MUTED) if text == NOT_RECORDED else None)
        self.ln(2)

    def rows(
        self,
        headings: Sequence[str],
        rows: Sequence[Sequence[object]],
        *,
        widths: Sequence[float] | None = None,
        size: float = 8,
    ) -> None:
        """A table with a heading row repeated on every page it spans."""
        if not rows:
            return
        self.set_font(FAMILY, "", size)
        with self.table(
            col_widths=tuple(widths) if widths else None,
            text_align="LEFT",
            v_align="TOP",
            line_height=size * 0.5,
            padding=1,
            headings_style=FontFace(emphasis="BOLD", fill_color=HEADING_FILL),
            cell_fill_color=(247, 248, 250),
            cell_fill_mode=TableCellFillMode.ROWS,
            repeat_headings=1,
        ) as table:
            heading = table.row()
            for name in headings:
                heading.cell(name)
            for values in rows:
                row = table.row()
                for value in values:
                    row.cell(text_of(value, EMPTY_CELL))
        self.ln(2.5)
        self.set_font(FAMILY, "", 9.5)

    def bullets(self, items: Iterable[str]) -> None:
        self.set_font(FAMILY, "", 9)
        for item in items:
            self.set_x(self.l_margin + 3)
            self.multi_cell(0, 4.8, f"• {item}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)

    def render(self) -> bytes:
        return bytes(self.output())


__all__ = ["NOT_RECORDED", "Document", "text_of"]
