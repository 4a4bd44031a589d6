"""How many SMS segments a text costs: GSM-7 (160, or 153 per part) or UCS-2 (70, or 67 per part)."""

from __future__ import annotations

_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension-table characters take an escape plus the character: two septets each.
_GSM7_EXTENDED = set("^{}\\[~]|€\f")


def segments(text: str) -> int:
    """The number of SMS parts ``text`` is split into."""
    if all(ch in _GSM7_BASIC or ch in _GSM7_EXTENDED for ch in text):
        units = sum(2 if ch in _GSM7_EXTENDED else 1 for ch in text)
        single, part = 160, 153
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part = 70, 67
    if units <= single:
        return 1
    return -(-units // part)
