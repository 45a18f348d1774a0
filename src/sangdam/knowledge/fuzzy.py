"""Typo tolerance at the level of Hangul letters (jamo).

A Korean typo usually changes one letter of a syllable: 캐시벡 for 캐시백, 할부젼환 for 할부전환,
분싷 for 분실 (ㅀ for ㄹ). Spelled out in jamo, with compound vowels and final clusters split
(ㅘ → ㅗㅏ, ㅀ → ㄹㅎ), these are one edit away from the right word. :class:`FuzzyVocabulary` finds
words of the index within one such edit (symmetric deletion, as in SymSpell: every word is stored
under itself and each of its one-letter deletions, so a lookup is a handful of dictionary probes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

_CHO = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_JUNG = (
    "ㅏ",
    "ㅐ",
    "ㅑ",
    "ㅒ",
    "ㅓ",
    "ㅔ",
    "ㅕ",
    "ㅖ",
    "ㅗ",
    "ㅗㅏ",
    "ㅗㅐ",
    "ㅗㅣ",
    "ㅛ",
    "ㅜ",
    "ㅜㅓ",
    "ㅜㅔ",
    "ㅜㅣ",
    "ㅠ",
    "ㅡ",
    "ㅡㅣ",
    "ㅣ",
)
_JONG = (
    "",
    "ㄱ",
    "ㄲ",
    "ㄱㅅ",
    "ㄴ",
    "ㄴㅈ",
    "ㄴㅎ",
    "ㄷ",
    "ㄹ",
    "ㄹㄱ",
    "ㄹㅁ",
    "ㄹㅂ",
    "ㄹㅅ",
    "ㄹㅌ",
    "ㄹㅍ",
    "ㄹㅎ",
    "ㅁ",
    "ㅂ",
    "ㅂㅅ",
    "ㅅ",
    "ㅆ",
    "ㅇ",
    "ㅈ",
    "ㅊ",
    "ㅋ",
    "ㅌ",
    "ㅍ",
    "ㅎ",
)
_COMPAT_SPLIT = {
    "ㅘ": "ㅗㅏ",
    "ㅙ": "ㅗㅐ",
    "ㅚ": "ㅗㅣ",
    "ㅝ": "ㅜㅓ",
    "ㅞ": "ㅜㅔ",
    "ㅟ": "ㅜㅣ",
    "ㅢ": "ㅡㅣ",
    "ㄳ": "ㄱㅅ",
    "ㄵ": "ㄴㅈ",
    "ㄶ": "ㄴㅎ",
    "ㄺ": "ㄹㄱ",
    "ㄻ": "ㄹㅁ",
    "ㄼ": "ㄹㅂ",
    "ㄽ": "ㄹㅅ",
    "ㄾ": "ㄹㅌ",
    "ㄿ": "ㄹㅍ",
    "ㅀ": "ㄹㅎ",
    "ㅄ": "ㅂㅅ",
}


def to_jamo(text: str) -> str:
    """Hangul syllables spelled out letter by letter; other characters kept as they are."""
    out: list[str] = []
    for ch in text:
        code = ord(ch) - 0xAC00
        if 0 <= code < 11172:
            out.append(_CHO[code // 588])
            out.append(_JUNG[(code % 588) // 28])
            out.append(_JONG[code % 28])
        else:
            out.append(_COMPAT_SPLIT.get(ch, ch))
    return "".join(out)


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def edit_distance(a: str, b: str, limit: int = 2) -> int:
    """Optimal-string-alignment distance (insert, delete, substitute, swap neighbours), capped at limit+1."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return min(previous[-1], limit + 1)


MIN_SYLLABLES = 2


def eligible(word: str) -> bool:
    """Only Hangul words of two syllables or more are corrected: shorter ones are too ambiguous."""
    return len(word) >= MIN_SYLLABLES and all("\uac00" <= ch <= "\ud7a3" for ch in word)


class FuzzyVocabulary:
    """Words findable within one jamo edit. Not thread-safe for writes; the index guards it."""

    def __init__(self) -> None:
        self._keys: dict[str, str | tuple[str, ...]] = {}
        self._words: set[str] = set()

    def __len__(self) -> int:
        return len(self._words)

    def __contains__(self, word: object) -> bool:
        return word in self._words

    def add(self, word: str) -> None:
        if word in self._words or not eligible(word):
            return
        self._words.add(word)
        spelled = to_jamo(word)
        for key in _deletions(spelled) | {spelled}:
            held = self._keys.get(key)
            if held is None:
                self._keys[key] = word
            elif isinstance(held, str):
                if held != word:
                    self._keys[key] = (held, word)
            elif word not in held:
                self._keys[key] = (*held, word)

    def add_many(self, words: Iterable[str]) -> None:
        for word in words:
            self.add(word)

    def lookup(self, word: str, usable: Callable[[str], bool], rank: Callable[[str], float]) -> str | None:
        """The closest usable word within one edit (ties: the highest ``rank``), or None."""
        if not eligible(word):
            return None
        spelled = to_jamo(word)
        candidates: set[str] = set()
        for key in _deletions(spelled) | {spelled}:
            held = self._keys.get(key)
            if held is None:
                continue
            if isinstance(held, str):
                candidates.add(held)
            else:
                candidates.update(held)
        best: tuple[int, float, str] | None = None
        for candidate in candidates:
            if candidate == word or not usable(candidate):
                continue
            distance = edit_distance(spelled, to_jamo(candidate), 1)
            if distance > 1:
                continue
            ranked = (distance, -rank(candidate), candidate)
            if best is None or ranked < best:
                best = ranked
        return None if best is None else best[2]
