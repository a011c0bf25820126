"""The HTML report printed to PDF by real headless Chromium (``--print-to-pdf``): the print CSS
gives a non-empty A4 PDF of a sensible number of pages (the interactive maps left out).

Chromium is found as in test_report_browser.py (Debian: ``apt-get install -y chromium``; the
README's test command ``.ci/test`` installs it when it can). Without Chromium the test fails.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from mobisim.results.report import write_report
from test_kpis_sample import META, sample_tables, write_run_folder
from test_report import sparse_tables
from test_report_browser import chromium_path

#: A4 in PDF points (1/72 in): 210 x 297 mm
A4_PT = (595.0, 842.0)


def pdf_pages(data: bytes) -> list[tuple[float, float]]:
    """Width and height (pt) of every page of a PDF as Chromium (Skia) writes it: page objects
    are plain ``/Type /Page`` dictionaries with a ``/MediaBox``, not inside object streams."""
    pages = []
    for body in re.findall(rb"\bobj\b(.*?)\bendobj\b", data, re.S):
        if not re.search(rb"/Type\s*/Page\b(?!s)", body):
            continue
        box = re.search(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", body)
        if box:
            x0, y0, x1, y1 = (float(v) for v in box.groups())
            pages.append((x1 - x0, y1 - y0))
    return pages


def test_pdf_pages_reads_a_minimal_pdf():
    minimal = (
        b"%PDF-1.4\n1 0 obj << /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >> endobj\n"
        b"2 0 obj << /Type /Page /Parent 1 0 R /MediaBox [0 0 595 842] >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 1 0 R /MediaBox [0 0 842 595] >> endobj\n"
    )
    assert pdf_pages(minimal) == [(595.0, 842.0), (842.0, 595.0)]


def test_report_prints_to_a_pdf_in_chromium(tmp_path):
    out = tmp_path / "results"
    runs = [
        write_run_folder(out, sample_tables(), META),
        write_run_folder(out, sparse_tables(), {**META, "scenario": "walk-and-car"}),
    ]
    report = write_report(runs, tmp_path / "report.html", title="Sample report")
    pdf = tmp_path / "report.pdf"
    command = [
        chromium_path(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--no-pdf-header-footer",
        f"--print-to-pdf={pdf}",
        report.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 50_000  # the charts are in it
    pages = pdf_pages(data)
    # summary, scenarios, tables, 12 charts (each on at most one page): measured 8 pages
    assert 4 <= len(pages) <= 20, len(pages)
    for width, height in pages:  # A4 portrait from the print CSS (@page size: A4)
        assert width == pytest.approx(A4_PT[0], abs=2) and height == pytest.approx(A4_PT[1], abs=2)
