"""Article answers as rich text: a small, safe Markdown subset.

Admins write answers with paragraphs (blank line between), bullet lines (``- ``), numbered lines
(``1. ``), ``**bold**`` and links ``[text](https://…)`` (http, https, tel: and site-relative paths
only). :func:`render_html` escapes everything first and then adds only those tags, so an answer can
never inject markup; :func:`to_plain` gives the text that search analyses and snippets quote.
"""

from __future__ import annotations

import html
import re

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_BULLET = re.compile(r"^\s*[-•*]\s+")
_NUMBERED = re.compile(r"^\s*(\d{1,2})[.)]\s+")
_SAFE_URL = re.compile(r"^(https?://|tel:|/(?!/))", re.IGNORECASE)


def to_plain(text: str) -> str:
    """The answer without markup: link texts kept, bullets as '• ', bold markers removed."""
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        line = _LINK.sub(lambda m: m.group(1), line)
        line = _BOLD.sub(lambda m: m.group(1), line)
        line = _BULLET.sub("• ", line)
        lines.append(line.rstrip())
    return "\n".join(lines).strip()


def _inline(escaped: str) -> str:
    def link(m: re.Match[str]) -> str:
        label, url = m.group(1), html.unescape(m.group(2))
        if not _SAFE_URL.match(url):
            return label
        external = url.lower().startswith("http")
        rel = ' rel="noopener noreferrer" target="_blank"' if external else ""
        return f'<a href="{html.escape(url, quote=True)}"{rel}>{label}</a>'

    escaped = _LINK.sub(link, escaped)
    return _BOLD.sub(lambda m: f"<strong>{m.group(1)}</strong>", escaped)


def render_html(text: str) -> str:
    """Safe HTML for an answer (every character of the source is escaped before tags are added)."""
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip())
    out: list[str] = []
    for block in blocks:
        lines = [line for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        if all(_BULLET.match(line) for line in lines):
            items = "".join(f"<li>{_inline(html.escape(_BULLET.sub('', line)))}</li>" for line in lines)
            out.append(f"<ul>{items}</ul>")
        elif all(_NUMBERED.match(line) for line in lines):
            items = "".join(f"<li>{_inline(html.escape(_NUMBERED.sub('', line)))}</li>" for line in lines)
            out.append(f"<ol>{items}</ol>")
        else:
            out.append("<p>" + "<br>".join(_inline(html.escape(line.strip())) for line in lines) + "</p>")
    return "\n".join(out)


def mark(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` escaped, with the (merged) spans wrapped in ``<mark>``."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[str] = []
    position = 0
    for start, end in merged:
        out.append(html.escape(text[position:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        position = end
    out.append(html.escape(text[position:]))
    return "".join(out)


def snippet(text: str, spans: list[tuple[int, int]], width: int = 120) -> str:
    """About ``width`` characters of ``text`` around its first highlighted span, marked and escaped."""
    flat = text.replace("\n", " ")
    if not spans:
        cut = flat[:width]
        return html.escape(cut) + ("…" if len(flat) > width else "")
    first = min(start for start, _ in spans)
    begin = max(0, first - width // 3)
    if begin > 0:
        space = flat.rfind(" ", 0, begin)
        begin = space + 1 if space >= 0 and begin - space < 15 else begin
    end = min(len(flat), begin + width)
    inside = [(max(s, begin) - begin, min(e, end) - begin) for s, e in spans if s < end and e > begin]
    body = mark(flat[begin:end], inside)
    return ("…" if begin > 0 else "") + body + ("…" if end < len(flat) else "")
