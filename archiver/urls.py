"""One canonical form of a URL found in a page: what changes on every response or deploy goes.

Pure functions, no I/O. Three classes of volatility, each recognised by its shape:

* **tracking parameters** (``utm_*``, ``gclid``, ``fbclid``, ``_ga``…), dropped from every URL;
* **signatures** of signed, expiring URLs (AWS SigV4 ``X-Amz-*`` and v2 ``AWSAccessKeyId``/
  ``Signature``/``Expires``, Google Cloud Storage ``X-Goog-*`` and ``GoogleAccessId``, Azure SAS
  ``sv``/``se``/``sig``…, CloudFront ``Expires``/``Signature``/``Key-Pair-Id``/``Policy``), dropped
  only from a URL that carries that scheme's signature, so a ``sig`` parameter of an API is kept;
* **cache busters** (``v``, ``ver``, ``hash``, ``t``…), dropped from images, media and static
  assets only: on a link to a page, ``?v=2`` may well be the point.

CDN email obfuscation is undone by :func:`decode_cfemail` (Cloudflare's ``data-cfemail`` and
``/cdn-cgi/l/email-protection#…`` hold the address XOR-ed with a key that changes per response).
The kept parameters keep their order and their bytes, so a URL without volatility is unchanged.
"""

from __future__ import annotations

from urllib.parse import unquote_plus, urlsplit, urlunsplit

_TRACKING = frozenset(
    {
        "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "fbclid", "msclkid", "yclid", "igshid", "twclid",
        "ttclid", "li_fat_id", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "__hstc", "__hssc",
        "__hsfp", "hsctatracking", "mkt_tok", "oly_anon_id", "oly_enc_id", "rb_clickid", "s_cid", "vero_id",
        "wickedid", "_openstat", "spm", "scid",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")  # Google Analytics, Piwik, Matomo campaigns
_CACHE_BUSTERS = frozenset({"v", "ver", "version", "hash", "h", "cb", "t", "ts", "_", "rev", "cache", "cachebuster"})
_ASSETS = (
    ".css", ".js", ".mjs", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".avif", ".ico", ".bmp",
    ".woff", ".woff2", ".ttf", ".otf", ".eot", ".map", ".mp4", ".webm", ".mp3", ".ogg", ".wav",
)  # fmt: skip
# scheme: (the parameter that says a URL is signed by it, the parameters the signature brings)
_SIGNED: tuple[tuple[str, frozenset[str] | None], ...] = (
    ("x-amz-signature", None),  # AWS SigV4: every X-Amz-* parameter
    ("x-goog-signature", None),  # Google Cloud Storage V4: every X-Goog-* parameter
    ("awsaccesskeyid", frozenset({"awsaccesskeyid", "signature", "expires", "x-amz-security-token"})),
    ("googleaccessid", frozenset({"googleaccessid", "signature", "expires"})),
    ("key-pair-id", frozenset({"key-pair-id", "signature", "expires", "policy"})),  # CloudFront
    (
        "sig",  # Azure shared access signature
        frozenset(
            {"sig", "sv", "ss", "srt", "sp", "se", "st", "spr", "sr", "si", "sdd", "ses"}
            | {"skoid", "sktid", "skt", "ske", "sks", "skv", "saoid", "suoid", "scid"}
        ),
    ),
)
_PREFIXED = {"x-amz-signature": "x-amz-", "x-goog-signature": "x-goog-"}
EMAIL_PROTECTION = "/cdn-cgi/l/email-protection"


def _key(pair: str) -> str:
    return unquote_plus(pair.split("=", 1)[0]).strip().lower()


def _signature_keys(keys: set[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    """The parameter names (and name prefixes) that the URL's signature schemes bring."""
    names: set[str] = set()
    prefixes: list[str] = []
    for marker, brought in _SIGNED:
        if marker not in keys:
            continue
        if brought is None:
            prefixes.append(_PREFIXED[marker])
        elif marker != "sig" or keys & {"se", "sv", "sp"}:  # a lone "sig" is someone's API parameter
            names |= brought
    return frozenset(names), tuple(prefixes)


def is_asset(url: str) -> bool:
    """Whether ``url`` names a static file (style sheet, script, image, font, media) by its path."""
    try:
        path = urlsplit(url).path.lower()
    except ValueError:
        return False
    return path.endswith(_ASSETS)


def canonical(url: str, *, asset: bool | None = None) -> str:
    """``url`` without tracking parameters and signatures, and, if it is an asset (``asset``, or by
    its path when None), without cache busters; a CDN-obfuscated email link becomes ``mailto:``.

    >>> canonical("https://x.org/a?utm_source=feed&id=3#top")
    'https://x.org/a?id=3#top'
    >>> canonical("https://cdn.x.org/logo.png?v=1699&w=200")
    'https://cdn.x.org/logo.png?w=200'
    """
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a placeholder host like http://[your-host]/ in the docs' text
        return url
    if parts.path.endswith(EMAIL_PROTECTION) and parts.fragment:
        address = decode_cfemail(parts.fragment)
        if address is not None:
            return f"mailto:{address}"
    if not parts.query:
        return url
    pairs = [p for p in parts.query.split("&") if p]
    keys = {_key(p) for p in pairs}
    names, prefixes = _signature_keys(keys)
    busters = _CACHE_BUSTERS if (asset if asset is not None else is_asset(url)) else frozenset()

    def volatile(key: str) -> bool:
        return (
            key in _TRACKING
            or key.startswith(_TRACKING_PREFIXES)
            or key in names
            or (bool(prefixes) and key.startswith(prefixes))
            or key in busters
        )

    kept = [p for p in pairs if not volatile(_key(p))]
    if len(kept) == len(pairs) and len(pairs) == parts.query.count("&") + 1:
        return url
    return urlunsplit(parts._replace(query="&".join(kept)))


def decode_cfemail(encoded: str) -> str | None:
    """The address Cloudflare's email obfuscation hides: hex bytes, the first the XOR key of the
    rest. None if ``encoded`` is not such a string or does not decode to an address.

    >>> decode_cfemail("543d3a323b14312c35392438317a373b39")
    'info@example.com'
    """
    try:
        data = bytes.fromhex(encoded.strip())
    except ValueError:
        return None
    if len(data) < 4:
        return None
    key = data[0]
    try:
        address = bytes(b ^ key for b in data[1:]).decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "@" not in address or any(c.isspace() or not c.isprintable() for c in address):
        return None
    return address
