"""Preparation time of a 20-page PDF input: base64 decode, checks, SHA-256, pypdf text.

Run on demand: `python -m tests.bench.pdf_prep [--pages 20] [--runs 15]`. Prints the median
and min/max of `prepare_input` (what a call spends on its file before any model sees it)
and the PDF's size.
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
import time

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from app.compiler.file_fields import file_fields
from app.core.setting_groups import FileLimits
from app.files.intake import prepare_input

SCHEMA = {
    "type": "object",
    "properties": {
        "document": {
            "type": "string",
            "contentMediaType": "application/pdf",
            "contentEncoding": "base64",
        }
    },
}
LINE = "Item {n:03d}  Nitrile exam gloves, medium, box of 200   24 x 18.50   444.00  Net 30"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    pdf = _pages(args.pages)
    payload = {"document": base64.b64encode(pdf).decode()}
    fields = file_fields(SCHEMA)
    limits = FileLimits()
    timings = []
    for _ in range(args.runs):
        started = time.perf_counter()
        _, attachments = prepare_input(fields, payload, (), limits)
        timings.append((time.perf_counter() - started) * 1000)
    assert attachments is not None
    prepared = attachments.files[0]
    print(
        f"{prepared.pages}-page PDF, {len(pdf)} bytes, {len(prepared.text or '')} chars of text: "
        f"median {statistics.median(timings):.1f} ms "
        f"(min {min(timings):.1f}, max {max(timings):.1f}, {args.runs} runs)"
    )


def _pages(count: int) -> bytes:
    """A PDF of `count` full pages of order lines (each page about 42 lines of text)."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=True)
    for page in range(count):
        for row in range(42):
            pdf.drawString(40, 800 - row * 18, LINE.format(n=page * 42 + row))
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


if __name__ == "__main__":
    main()
