#!/usr/bin/env python3
"""Generate the binary document fixtures under tests/fixtures/batch/.

The PDF and DOCX fixtures must be real files written by tools independent of
hearth, so the `extract` crate is tested against what other software produces
rather than against its own idea of the formats:

  docs/report.pdf    fpdf2: a two-page report on a lighthouse keeper's logbook
  docs/letter.docx   python-docx: a letter placing a bakery order (with a tab,
                     line breaks and a table)
  docs/photo.jpg     a few bytes of a JPEG header: a file `hearth batch` skips
  bad/no-text.pdf    fpdf2: a page with only a drawn shape, like a scan without
                     a text layer
  bad/broken.pdf     report.pdf cut off after its first few hundred bytes
  bad/broken.docx    plain text saved under a .docx name (not a zip)

The text fixtures (docs/notes.txt, docs/readme.md, docs/page.html,
docs/nested/deeper.txt) are written by hand and committed as they are.

python-docx's built-in template is ~36 KB (every Word style, a Word 2010
styles-with-effects copy, a thumbnail, custom XML). To keep the fixture small,
the script removes, through python-docx's own object model, the styles the
letter does not use and the relationships to optional parts (the package then
simply does not write those parts). word/document.xml is untouched.

CI never runs this script; it only reads the committed outputs. To regenerate
(the bytes change with timestamps, the text does not):

  python3 -m venv ~/.cache/hearth/venv-fixtures
  ~/.cache/hearth/venv-fixtures/bin/pip install fpdf2 python-docx
  ~/.cache/hearth/venv-fixtures/bin/python scripts/make-batch-fixtures.py
"""
import datetime
import os

import docx
from fpdf import FPDF

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "batch")
DOCS = os.path.join(ROOT, "docs")
BAD = os.path.join(ROOT, "bad")
FIXED_DATE = datetime.datetime(2024, 3, 15, 12, 0, 0, tzinfo=datetime.timezone.utc)


def make_pdf(path):
    pdf = FPDF(format="A4")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title("Carrow Head lighthouse logbook")
    pdf.set_author("Harbour Trust archive")
    pdf.set_margins(20, 20, 20)

    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=16)
    pdf.cell(0, 10, "Carrow Head Lighthouse: the Keeper's Logbook", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    pdf.ln(4)
    for para in [
        "This short report summarises the logbook kept by Tomas Reilly, keeper of the "
        "Carrow Head lighthouse, during the winter of 1911.",
        "The keeper recorded a force nine gale on the night of 14 March and kept the "
        "lamp burning for eleven hours without a break.",
        "Entries are written twice a day, at dawn and at dusk, and note the wind, the "
        "sea state, the ships sighted and the paraffin used by the lamp.",
    ]:
        pdf.multi_cell(0, 6, para, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)

    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=13)
    pdf.cell(0, 10, "Stores and relief", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(
        0, 6,
        "The relief boat brought forty litres of paraffin and a new wick on 2 April; "
        "the log closes with the keeper's note that the fog signal needs a new diaphragm.",
        new_x="LMARGIN", new_y="NEXT",
    )
    pdf.output(path)


def make_no_text_pdf(path):
    # Like a scanned page: marks on the page, but no text objects at all.
    pdf = FPDF(format="A4")
    pdf.set_creation_date(FIXED_DATE)
    pdf.add_page()
    pdf.set_fill_color(200, 200, 200)
    pdf.rect(20, 20, 170, 60, style="F")
    for i in range(12):
        pdf.line(25, 95 + i * 8, 185 - (i % 3) * 30, 95 + i * 8)
    pdf.output(path)


def make_docx(path):
    d = docx.Document()
    d.core_properties.author = "Marta Quill"
    d.core_properties.title = "Bakery order"
    d.core_properties.created = FIXED_DATE.replace(tzinfo=None)
    d.core_properties.modified = FIXED_DATE.replace(tzinfo=None)
    d.core_properties.last_modified_by = "Marta Quill"
    d.core_properties.revision = 1

    address = d.add_paragraph()
    run = address.add_run("Harbour Street Bakery")
    run.add_break()
    run.add_text("12 Quay Lane")
    run.add_break()
    run.add_text("Port Carrow")

    d.add_heading("Order for the harvest festival", level=1)
    d.add_paragraph("Dear Mr Penhallow,")
    d.add_paragraph(
        "Please deliver forty-eight sourdough loaves to the Harbour Street bakery by "
        "Friday morning, together with the rye rolls listed below."
    )
    ref = d.add_paragraph()
    ref.add_run("Order number:")
    ref.add_run().add_tab()
    ref.add_run("BK-2291")

    table = d.add_table(rows=1, cols=2)
    table.style = "Table Grid"
    table.rows[0].cells[0].text = "Item"
    table.rows[0].cells[1].text = "Quantity"
    for item, qty in [("Sourdough loaf", "48"), ("Rye roll", "120"), ("Saffron bun", "36")]:
        cells = table.add_row().cells
        cells[0].text = item
        cells[1].text = qty

    d.add_paragraph("The festival opens at noon, so the van must arrive before ten.")
    d.add_paragraph("Kind regards,")
    d.add_paragraph("Marta Quill")

    # Shrink: drop unused styles and optional parts (see the module docstring).
    used = {p.style.name for p in d.paragraphs} | {"Normal", "Table Grid"}
    for t in d.tables:
        for row in t.rows:
            for cell in row.cells:
                used |= {p.style.name for p in cell.paragraphs}
    keep = used | {"Default Paragraph Font", "Normal Table", "No List"}  # the defaults
    for name in used:  # and each used style's based-on chain
        s = d.styles[name]
        while s.base_style is not None:
            keep.add(s.base_style.name)
            s = s.base_style
    for s in list(d.styles):
        if s.name not in keep:
            s.delete()
    for latent in list(d.styles.latent_styles):
        latent.delete()
    optional = ("stylesWithEffects", "webSettings", "customXml", "theme")
    for rid, rel in list(d.part.rels.items()):
        if rel.reltype.rsplit("/", 1)[-1] in optional:
            del d.part.rels[rid]
    for rid, rel in list(d.part.package.rels.items()):
        if rel.reltype.rsplit("/", 1)[-1] == "thumbnail":
            del d.part.package.rels[rid]
    d.save(path)

    # Sanity: python-docx reads its own output back.
    back = docx.Document(path)
    assert any("forty-eight sourdough loaves" in p.text for p in back.paragraphs)


def main():
    os.makedirs(os.path.join(DOCS, "nested"), exist_ok=True)
    os.makedirs(BAD, exist_ok=True)

    report = os.path.join(DOCS, "report.pdf")
    make_pdf(report)
    make_docx(os.path.join(DOCS, "letter.docx"))
    make_no_text_pdf(os.path.join(BAD, "no-text.pdf"))

    with open(os.path.join(DOCS, "photo.jpg"), "wb") as f:
        f.write(bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9"))

    with open(report, "rb") as f:
        whole = f.read()
    with open(os.path.join(BAD, "broken.pdf"), "wb") as f:
        f.write(whole[:400])
    with open(os.path.join(BAD, "broken.docx"), "wb") as f:
        f.write(b"This is a plain text note that somebody saved as broken.docx.\n")

    for folder in (DOCS, BAD):
        for dirpath, _, files in os.walk(folder):
            for name in sorted(files):
                p = os.path.join(dirpath, name)
                print(f"{os.path.relpath(p, ROOT):28} {os.path.getsize(p):6} bytes")


if __name__ == "__main__":
    main()
