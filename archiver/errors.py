"""The exceptions archiver raises.

Every error the library means to report derives from :class:`ArchiverError`, so the CLI catches
one class and prints one line (exit 2 for ConfigError and HistoryError, 1 for FetchError, 3 for
StoreError). Errors from httpx, GitPython and PyYAML are translated where they
enter (``raise FetchError(...) from exc``); callers never see those libraries' types.

::

    ArchiverError
     ├── ConfigError      sites.yaml is missing, malformed or invalid (names file, line, field)
     ├── FetchError       a page or sitemap could not be downloaded
     │    ├── UnreachableError the host gave no answer at all (refused, unknown name)
     │    └── RenderError  a page that needs a browser could not be rendered (none installed, timeout, crash)
     ├── ConvertError     a body could not be turned into Markdown (not text, undecodable)
     │    ├── NotAPageError a PDF, an image…: skipped, not failed
     │    └── InvalidJSONError a JSON page (or an API spec) that does not parse: stored as text
     ├── HistoryError     a history query names a site, revision or page the archive lacks
     └── StoreError       the archive repository could not be read or written
          └── LockedError another run holds the repository lock
"""

from __future__ import annotations


class ArchiverError(Exception):
    """Base class of every error archiver reports to the user."""


class ConfigError(ArchiverError):
    """The configuration file is missing, malformed or invalid."""


class FetchError(ArchiverError):
    """A URL could not be fetched (network error, bad status, too large, too many redirects)."""


class UnreachableError(FetchError):
    """The host could not be reached at all (refused, unknown name, no route): no answer, good or bad."""


class RenderError(FetchError):
    """An app-shell page could not be rendered in headless Chromium (none installed, it never
    settled, the browser crashed): the page fails and its last snapshot is kept."""


class ConvertError(ArchiverError):
    """A response body could not be converted to Markdown."""


class NotAPageError(ConvertError):
    """The URL answered with something that is not a page (a PDF, an image): skipped, not failed."""


class InvalidJSONError(ConvertError):
    """A page served as JSON, or an API spec, does not parse (it is then kept as plain text)."""


class HistoryError(ArchiverError):
    """A history query names a site or revision the archive does not have."""


class StoreError(ArchiverError):
    """The archive repository could not be opened, written or committed."""


class LockedError(StoreError):
    """Another archiver run holds the lock on the archive repository."""
