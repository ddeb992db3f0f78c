"""HTML from a submission made inert: an allow-list sanitiser (bleach) and a strict CSP.

Feedback pages embed Markdown cells, ``text/html``/SVG/Markdown/JavaScript outputs and metadata a
student controls. The body of each page goes through ``clean_html``: only the tags and attributes
below survive; no script, style, event handler, iframe/object/embed/form, SVG or MathML; links
only to http(s)/mailto/fragments; images only as ``data:image/png|jpeg|gif`` (no tracking pixel).
The page also carries a Content-Security-Policy that forbids every script and remote load, so a
sanitiser bug alone is not enough.
"""

from __future__ import annotations

import html
import re

import bleach

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'

TAGS = frozenset("""
a abbr b blockquote br caption code col colgroup dd del details div dl dt em figcaption figure
h1 h2 h3 h4 h5 h6 hr i img ins kbd li mark ol p pre q s samp small span strong sub summary sup
table tbody td tfoot th thead tr u ul var
""".split())
IMAGE_URL = re.compile(r"^data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/=\s]*$", re.IGNORECASE)
LINK_URL = re.compile(r"^(https?://|mailto:|#)", re.IGNORECASE)
# elements whose text is code or markup, not prose: dropped with their content
DROP_WITH_CONTENT = re.compile(
    r"<(script|style|iframe|object|embed|template|noscript|svg|math|textarea|select)\b.*?"
    r"(</\1\s*>|$)", re.IGNORECASE | re.DOTALL)


def _attribute_ok(tag: str, name: str, value: str) -> bool:
    if name in ("class", "title"):
        return True
    if tag == "a" and name == "href":
        return bool(LINK_URL.match(value.strip()))
    if tag == "img":
        if name == "src":
            return bool(IMAGE_URL.match(value.strip()))
        return name in ("alt", "width", "height")
    if tag in ("td", "th"):
        return name in ("colspan", "rowspan", "align")
    if tag in ("ol",):
        return name == "start"
    return tag == "details" and name == "open"


_cleaner = bleach.Cleaner(tags=TAGS, attributes=_attribute_ok,
                          protocols=["http", "https", "mailto", "data"], strip=True,
                          strip_comments=True)


def clean_html(fragment: str) -> str:
    """``fragment`` with only allow-listed markup left (text is kept, escaped)."""
    return _cleaner.clean(DROP_WITH_CONTENT.sub("", fragment))


def page(title: str, style: str, body: str) -> str:
    """A complete page around an already-safe ``body`` (``style`` is the harness's own CSS)."""
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n" + CSP_META + "\n"
            f"<title>{html.escape(title)}</title>\n<style>{style}</style>\n</head>\n"
            f"<body>\n{body}\n</body></html>\n")
