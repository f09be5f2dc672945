"""``archiver report``: a static HTML site of every change, with Atom feeds, read from git."""

from __future__ import annotations

from archiver.report.build import ReportResult, build_report

__all__ = ["ReportResult", "build_report"]
