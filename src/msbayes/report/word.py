"""The statistical-considerations text as a Word document (``.docx``).

The Markdown text (:func:`msbayes.report.text.statistical_considerations`) is parsed with
markdown-it-py and written with python-docx: headings as Word headings, paragraphs with bold,
italic and code runs, bullet lists as list paragraphs and every Markdown table (the
assumptions, the OC table and the OC summary) as a real Word table, so nothing has to be
re-typed when the text is pasted into a grant or protocol.

Examples
--------
>>> from msbayes.report.word import markdown_to_docx
>>> import docx, io, pathlib, tempfile
>>> p = pathlib.Path(tempfile.mkdtemp()) / "x.docx"
>>> _ = markdown_to_docx("# Title\\n\\nSome **bold** text.\\n\\n| a | b |\\n|---|---|\\n| 1 | 2 |\\n", p)
>>> d = docx.Document(str(p))
>>> [x.text for x in d.paragraphs if x.text], d.tables[0].cell(1, 1).text
(['Title', 'Some bold text.'], '2')
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["markdown_to_docx"]


def _runs(par, children) -> None:
    """Add the inline tokens ``children`` to ``par`` as runs (bold / italic / code)."""
    bold = italic = False
    for t in children or ():
        if t.type == "strong_open":
            bold = True
        elif t.type == "strong_close":
            bold = False
        elif t.type == "em_open":
            italic = True
        elif t.type == "em_close":
            italic = False
        elif t.type in ("text", "code_inline"):
            r = par.add_run(t.content)
            r.bold, r.italic = bold or None, italic or None
            if t.type == "code_inline":
                r.font.name = "Consolas"
        elif t.type in ("softbreak",):
            par.add_run(" ")
        elif t.type == "hardbreak":
            par.add_run().add_break()


def _inline_text(tok) -> str:
    return "".join(c.content for c in (tok.children or ()) if c.type in ("text", "code_inline"))


def markdown_to_docx(text: str, path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Write the Markdown ``text`` as a Word document at ``path`` (atomically).

    Parameters
    ----------
    text : str
        CommonMark with GitHub tables (as written by the report).
    path : path
        The ``.docx`` file to write; its folder must exist.
    title : str, optional
        Document core property ``title``.

    Returns
    -------
    Path of the written file.
    """
    import docx
    from docx.shared import Pt
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark", {"html": False}).enable("table").parse(text)
    doc = docx.Document()
    if title:
        doc.core_properties.title = title
    doc.styles["Normal"].font.size = Pt(10)
    i, in_list = 0, 0
    while i < len(tokens):
        t = tokens[i]
        if t.type == "heading_open":
            level = min(int(t.tag[1]) - 1, 9)
            h = doc.add_heading("", level=level)
            _runs(h, tokens[i + 1].children)
            i += 3
            continue
        if t.type in ("bullet_list_open", "ordered_list_open"):
            in_list += 1
        elif t.type in ("bullet_list_close", "ordered_list_close"):
            in_list -= 1
        elif t.type == "paragraph_open":
            par = doc.add_paragraph(style="List Bullet" if in_list else None)
            _runs(par, tokens[i + 1].children)
            i += 3
            continue
        elif t.type == "table_open":
            rows: list[list[str]] = []
            j = i + 1
            while tokens[j].type != "table_close":
                if tokens[j].type == "tr_open":
                    rows.append([])
                elif tokens[j].type == "inline":
                    rows[-1].append(_inline_text(tokens[j]))
                j += 1
            ncol = max((len(r) for r in rows), default=0)
            if rows and ncol:
                tab = doc.add_table(rows=len(rows), cols=ncol)
                tab.style = "Table Grid"
                for r, cells in enumerate(rows):
                    for c, v in enumerate(cells):
                        cell = tab.cell(r, c)
                        cell.text = v
                        if r == 0:
                            for run in cell.paragraphs[0].runs:
                                run.bold = True
                doc.add_paragraph()
            i = j + 1
            continue
        elif t.type in ("fence", "code_block"):
            par = doc.add_paragraph()
            par.add_run(t.content.rstrip("\n")).font.name = "Consolas"
        i += 1
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    doc.save(str(tmp))
    os.replace(tmp, path)
    return path
