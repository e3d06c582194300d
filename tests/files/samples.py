"""Files the document tests generate themselves: PDFs (reportlab), encrypted, corrupt, PNG."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence

from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

PO_LINES = (
    "PURCHASE ORDER",
    "PO Number: 4500018342",
    "Order Date: 2024-01-15",
    "Delivery Date: 2024-01-29",
    "Buyer: Cedar Valley Dental Group",
    "Supplier: Pacific Medical Supply, Inc.",
    "Currency: USD",
    "Payment Terms: Net 30",
    "PMS-4410  Nitrile exam gloves, medium, box of 200  24 x 18.50  444.00",
    "Subtotal: 782.50",
    "Tax: 67.49",
    "Shipping: 25.00",
    "Total: 874.99",
)


def make_pdf(lines: Sequence[str] = PO_LINES, *, pages: int = 1) -> bytes:
    """A PDF with a text layer: `lines` on the first page, a numbered line on the others."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=True)  # same lines, same bytes
    for page in range(pages):
        y = 800
        for line in lines if page == 0 else [f"Page {page + 1}: terms and conditions"] * 40:
            pdf.drawString(50, y, line)
            y -= 18
            if y < 40:
                break
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def encrypted(data: bytes, password: str = "secret") -> bytes:
    """`data` encrypted with a user password (pypdf)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def corrupt(data: bytes) -> bytes:
    """A PDF cut in half: its header is right, the rest is gone."""
    return data[: len(data) // 2]


def make_png(width: int = 2, height: int = 2) -> bytes:
    """A tiny valid RGB PNG, written by hand (no image library needed)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
