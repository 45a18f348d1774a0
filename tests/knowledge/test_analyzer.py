"""The Korean analyzer: lemmas, particles, Latin words and serials, offsets, unknown words, threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sangdam.knowledge.analyzer import ANALYZER_VERSION, Analyzer, Morph, get_analyzer, normalize_text


def forms(analyzer: Analyzer, text: str, *, typos: bool = False) -> list[str]:
    return [m.form for m in analyzer.analyze(text, typos=typos)]


def test_one_analyzer_per_process() -> None:
    assert get_analyzer() is get_analyzer()
    assert ANALYZER_VERSION.startswith("kiwi")


def test_particles_and_endings_are_dropped_verbs_become_lemmas(analyzer: Analyzer) -> None:
    assert forms(analyzer, "카드를 잃어버렸어요") == ["카드", "잃어버리"]
    assert forms(analyzer, "잃어버린 카드") == ["잃어버리", "카드"]
    assert forms(analyzer, "분실신고는") == ["분실", "신고"]
    assert forms(analyzer, "분실 신고를") == ["분실", "신고"]


def test_domain_words_stay_whole(analyzer: Analyzer) -> None:
    assert "비번" in forms(analyzer, "앱 비번 까먹었어요")
    assert "카드값" in forms(analyzer, "카드값이 너무 많이 나왔어요")
    assert "한도" in forms(analyzer, "한도 올리고 싶어요")  # not 한(MM) + 도(JX)
    assert "사기" in forms(analyzer, "문자 사기 당했어요")  # not the verb 사다


def test_latin_words_numbers_and_serials_are_kept(analyzer: Analyzer) -> None:
    morphs = analyzer.analyze("CVC 번호와 IC칩, 1577-1940으로 전화")
    found = {(m.form, m.tag) for m in morphs}
    assert ("cvc", "SL") in found
    assert ("ic", "SL") in found and ("칩", "NNG") in found
    assert ("1577-1940", "W") in found


def test_offsets_point_into_the_text(analyzer: Analyzer) -> None:
    text = "해외에서 카드를 분실했어요"
    for m in analyzer.analyze(text):
        if m.tag == "NNG":
            assert text[m.start : m.end] == m.form


def test_unknown_nouns_are_flagged_for_typo_correction(analyzer: Analyzer) -> None:
    misspelt = analyzer.analyze("분싷신고", typos=True)
    assert any(m.oov for m in misspelt)
    assert not any(m.oov for m in analyzer.analyze("분실 신고", typos=True))


def test_typo_model_fixes_common_slips_in_queries(analyzer: Analyzer) -> None:
    assert "캐시백" in forms(analyzer, "캐시벡 언제 들어와요", typos=True)
    assert "면제" in forms(analyzer, "연회비 면재", typos=True)


def test_batch_analysis_matches_single(analyzer: Analyzer) -> None:
    texts = ["카드 재발급 신청", "", "포인트 현금화"]
    assert analyzer.analyze_many(texts) == [analyzer.analyze(t) for t in texts]


def test_thread_safe(analyzer: Analyzer) -> None:
    texts = ["카드를 잃어버렸어요", "결제가 두 번 됐어요", "캐시백 언제 들어와요", "한도 올려 주세요"] * 25
    expected = [analyzer.analyze(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(analyzer.analyze, texts)) == expected


def test_normalize_text_keeps_offsets_one_to_one() -> None:
    assert normalize_text("ＩＣ칩\u3000카드") == "IC칩 카드"
    raw = "카드\x00값"
    assert len(normalize_text(raw)) == len(raw)


def test_morph_round_trip() -> None:
    morph = Morph("카드", "NNG", 0, 2)
    assert Morph.from_list(morph.to_list()) == morph
