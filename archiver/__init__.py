"""archiver: track how documentation websites change, with git as the database."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
