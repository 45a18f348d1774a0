"""Rich-text answers: safe HTML, plain text for search, highlighted snippets."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sangdam.knowledge.richtext import mark, render_html, snippet, to_plain

ANSWER = """카드를 잃어버렸다면 **즉시** 신고해 주세요.

- 앱: 카드 관리 > 분실 신고
- 전화: [1588-0001](tel:1588-0001)

1. 본인 인증
2. 카드 선택"""


def test_render_html_paragraphs_lists_bold_and_links() -> None:
    html = render_html(ANSWER)
    assert "<p>카드를 잃어버렸다면 <strong>즉시</strong> 신고해 주세요.</p>" in html
    assert "<ul><li>앱: 카드 관리 &gt; 분실 신고</li>" in html
    assert '<a href="tel:1588-0001">1588-0001</a>' in html
    assert "<ol><li>본인 인증</li><li>카드 선택</li></ol>" in html


def test_render_html_escapes_markup_and_refuses_unsafe_links() -> None:
    html = render_html('<script>alert(1)</script> [눌러](javascript:alert(1)) [ok](https://example.com/a?b=1&c="2")')
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "javascript:" not in html
    assert 'href="https://example.com/a?b=1&amp;c=&quot;2&quot;"' in html


@given(st.text(max_size=200))
def test_render_html_never_passes_raw_angle_brackets(text: str) -> None:
    html = render_html(text)
    stripped = html
    tags = ("<p>", "</p>", "<br>", "<ul>", "</ul>", "<ol>", "</ol>", "<li>", "</li>", "<strong>", "</strong>", "</a>")
    for tag in tags:
        stripped = stripped.replace(tag, "")
    while "<a href=" in stripped:
        start = stripped.index("<a href=")
        stripped = stripped[:start] + stripped[stripped.index(">", start) + 1 :]
    assert "<" not in stripped and ">" not in stripped


def test_to_plain_drops_markup() -> None:
    plain = to_plain(ANSWER)
    assert "**" not in plain and "](" not in plain
    assert "• 앱: 카드 관리 > 분실 신고" in plain
    assert "1588-0001" in plain


def test_mark_merges_overlapping_spans_and_escapes() -> None:
    assert mark("a<b 분실신고", [(4, 6), (5, 8)]) == "a&lt;b <mark>분실신고</mark>"
    assert mark("카드", []) == "카드"


def test_snippet_centres_on_the_first_match() -> None:
    text = "가" * 200 + " 분실 신고는 24시간 " + "나" * 200
    start = text.index("분실")
    cut = snippet(text, [(start, start + 2)], width=60)
    assert "<mark>분실</mark>" in cut
    assert cut.startswith("…") and cut.endswith("…")
    assert snippet("짧은 답", []) == "짧은 답"
