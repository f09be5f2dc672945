"""The configuration: ``sites.yaml`` loaded, validated (``loading``) and typed (``models``)."""

from __future__ import annotations

from archiver.config.loading import field_location, load_config, parse_config
from archiver.config.models import (
    DEFAULT_AUTHOR,
    DEFAULT_CONTENT,
    DEFAULT_STRIP,
    SITE_NAME,
    Config,
    Crawl,
    DigestSchedule,
    Ignore,
    Site,
    Watch,
)

__all__ = [
    "DEFAULT_AUTHOR",
    "DEFAULT_CONTENT",
    "DEFAULT_STRIP",
    "SITE_NAME",
    "Config",
    "Crawl",
    "DigestSchedule",
    "Ignore",
    "Site",
    "Watch",
    "field_location",
    "load_config",
    "parse_config",
]
