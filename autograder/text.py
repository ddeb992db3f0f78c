"""Text that came from a submission, made safe to write, print and compare (pure functions).

Every string a student controls (grade ids, metadata, outputs, messages, folder names) may hold
lone surrogates or other text no encoder accepts; one such string must never crash a verb for the
whole batch. ``safe_text``/``safe_json`` are applied where such text leaves the program (result
JSON, gradebook, CSV, Markdown, HTML, the terminal).

``hidden_text_in`` is the second line of defence of feedback against hidden-test text printed in
disguise: it compares after NFKC, dropping format characters (zero-width joiners...) and all
whitespace, case-folding, reversing, and decoding base64/hex tokens. (The first line is structural:
hidden tests run after every output a page shows; see ``notebook.normalise``.)
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata

REPLACEMENT = "\ufffd"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_B64 = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2}[\s:,\\x-]{0,4}){12,}")
MIN_SECRET = 10          # shorter normalised secrets would match ordinary code by chance
MAX_SCAN = 4_000_000     # characters scanned per text (outputs are capped well below this)


def safe_text(value, limit: int | None = None) -> str:
    """``value`` as a str every UTF-8 encoder accepts: lone surrogates become U+FFFD.

    Valid surrogate pairs (as Python's json module may produce) are joined into their character;
    NUL and other C0 controls except tab/newline/CR are dropped.
    """
    s = value if isinstance(value, str) else str(value)
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        s = s.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    s = _CONTROL.sub("", s)
    if limit is not None and len(s) > limit:
        s = s[:limit] + "…"
    return s


def safe_json(obj):
    """A copy of a JSON-like value with every string (keys too) through ``safe_text``."""
    if isinstance(obj, str):
        return safe_text(obj)
    if isinstance(obj, dict):
        return {safe_text(k) if isinstance(k, str) else k: safe_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [safe_json(v) for v in obj]
    return obj


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|<>~])")


def md_text(value, limit: int | None = 300) -> str:
    """Student text as inert Markdown: one line, every Markdown/HTML metacharacter escaped."""
    s = " ".join(safe_text(value, limit).split())
    return _MD_SPECIAL.sub(r"\\\1", s).replace("&", "&amp;")


# ------------------------------------------------------------------------ disguised hidden text

def fold(text: str) -> str:
    """The comparison form: NFKC, no format characters, no whitespace, case-folded."""
    text = unicodedata.normalize("NFKC", safe_text(text))
    return "".join(ch for ch in text
                   if not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Cc", "Mn")
                   ).casefold()


def _b64(token: str) -> str:
    tok = token.rstrip("=")
    for alt in (False, True):
        try:
            raw = (base64.urlsafe_b64decode if alt else base64.b64decode)(tok + "=" * (-len(tok) % 4))
        except (binascii.Error, ValueError):
            continue
        if raw:
            return raw.decode("utf-8", "ignore")
    return ""


def _hex(token: str) -> str:
    digits = re.sub(r"\\x|[^0-9a-fA-F]", "", token)
    try:
        return bytes.fromhex(digits[: len(digits) // 2 * 2]).decode("utf-8", "ignore")
    except ValueError:
        return ""


def decodings(text: str) -> list[str]:
    """``text`` and what its base64/hex-looking tokens decode to (also across line breaks)."""
    text = safe_text(text)[:MAX_SCAN]
    plain = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    joined = re.sub(r"\s+", "", plain)
    out = [plain]
    for src in (plain, joined):
        out += [d for d in (_b64(m.group()) for m in _B64.finditer(src)) if d]
        out += [d for d in (_hex(m.group()) for m in _HEX.finditer(src)) if d]
    return out


def folded_secrets(secrets: list[str]) -> list[str]:
    return [f for f in dict.fromkeys(fold(s) for s in secrets) if len(f) >= MIN_SECRET]


def hidden_text_in(text: str, folded: list[str]) -> bool:
    """Whether any folded secret appears in ``text``: plain, reversed, or base64/hex-decoded."""
    if not folded or not text:
        return False
    for candidate in decodings(text):
        f = fold(candidate)
        r = f[::-1]
        if any(s in f or s in r for s in folded):
            return True
    return False
