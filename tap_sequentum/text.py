"""Text helpers of the tap (standard library only)."""

from __future__ import annotations

import re
import unicodedata

# Letters NFKD does not decompose into ASCII.
_SPECIAL = str.maketrans(
    {"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE", "đ": "d", "Đ": "D",
     "ł": "l", "Ł": "L", "þ": "th", "Þ": "TH", "ð": "d", "Ð": "D", "\u0131": "i"}
)  # fmt: skip
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def slugify(name: str | None) -> str:
    """`Société Générale \u2013 prix` -> `societe_generale_prix`; empty when nothing ASCII is left.

    Warehouse-safe names (lower-case ASCII, digits, single underscores) for streams and file stems.
    """
    text = unicodedata.normalize("NFKD", (name or "").translate(_SPECIAL))
    ascii_text = text.encode("ascii", "ignore").decode("ascii").lower()
    return _NON_ALNUM.sub("_", ascii_text).strip("_")
