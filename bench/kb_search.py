"""Knowledge-base search benchmark: accuracy on colloquial Korean queries and latency at 10,000 articles.

Builds a fresh SQLite database in a temporary directory, imports the demo FAQ (every topic of the
taxonomy) plus generated distractor articles — card products, merchant benefits, events, notices,
written with the same vocabulary (할인, 적립, 캐시백, 할부, 결제 …) — up to 10,000 articles, then asks
every query of ``bench/data/kb_eval.jsonl`` (colloquial, written differently from the questions:
particles, spacing, verb endings, slang, typos, English mixed in; each with its expected article).

Reported side by side on the same queries and articles:

* Sangdam's search (``sangdam.knowledge.queries.search``: Kiwi analysis, synonyms, typo fallback,
  BM25F), each query in its own session as a request would be, version check included;
* SQLite FTS5 with the ``unicode61`` tokenizer, bm25 ranking with the same field weights
  (question 3, keywords 2, answer 1), the query's words OR-ed (AND finds almost nothing).

Accuracy: top-1, top-3 and MRR (over the first 10 results). Latency: p50 and p99 of Sangdam's search
per query, measured over three passes after a warm-up. Prints one JSON line on stdout; progress goes
to stderr. Aim: top-1 ≥ 0.90, top-3 ≥ 0.97, p99 ≤ 5 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sangdam.conversations.taxonomy import seed_taxonomy
from sangdam.core import migrate
from sangdam.core.db import Database
from sangdam.core.events import EventBus
from sangdam.knowledge import queries
from sangdam.knowledge.actions import import_jsonl
from sangdam.knowledge.demo import demo_lines
from sangdam.knowledge.richtext import to_plain
from sangdam.privacy.audit import Actor

HERE = Path(__file__).resolve().parent
EVAL_FILE = HERE / "data" / "kb_eval.jsonl"
TOTAL_ARTICLES = 10_000
DEPTH = 10

PRODUCTS = (
    "한빛 딥에코",
    "한빛 트래블러",
    "한빛 더모아",
    "한빛 주유플러스",
    "한빛 쇼핑세이브",
    "한빛 마이웨이",
    "한빛 스마트체크",
    "한빛 프리미엄 골드",
    "한빛 플래티넘",
    "한빛 에브리데이",
    "한빛 모바일원",
    "한빛 시네마",
    "한빛 키즈맘",
    "한빛 오피스",
    "한빛 비즈니스",
    "한빛 그린라이프",
    "한빛 펫케어",
    "한빛 스카이패스",
    "한빛 클래식",
    "한빛 영플러스",
    "한빛 시니어",
    "한빛 하이패스",
    "한빛 다이닝",
    "한빛 메디컬",
    "한빛 홈앤리빙",
    "한빛 스튜던트",
    "한빛 올데이",
    "한빛 위크엔드",
    "한빛 디지털",
    "한빛 로컬",
)
MERCHANTS = (
    "스타벅스",
    "이마트",
    "GS25",
    "CU",
    "쿠팡",
    "배달의민족",
    "SK주유소",
    "GS칼텍스",
    "CGV",
    "롯데시네마",
    "대한항공",
    "아시아나항공",
    "올리브영",
    "다이소",
    "넷플릭스",
    "유튜브 프리미엄",
    "SKT",
    "KT",
    "LG유플러스",
    "교보문고",
    "마켓컬리",
    "11번가",
    "G마켓",
    "야놀자",
    "여기어때",
    "카카오T",
    "티머니",
    "코레일",
    "홈플러스",
    "롯데마트",
    "현대백화점",
    "신세계백화점",
    "파리바게뜨",
    "맥도날드",
    "버거킹",
    "투썸플레이스",
    "에버랜드",
    "롯데월드",
    "아고다",
    "무신사",
)
SERVICES = (
    "공항 라운지",
    "발레파킹",
    "골프 부킹",
    "여행자 보험",
    "영화 예매 할인",
    "통신비 할인",
    "주유 할인",
    "대중교통 할인",
    "커피 할인",
    "온라인 쇼핑 적립",
    "병원·약국 할인",
    "학원비 할인",
    "아파트 관리비 할인",
    "해외 이용 수수료 면제",
    "호텔 할인",
    "렌터카 할인",
    "구독 서비스 할인",
    "편의점 할인",
)
KINDS = ("할인", "적립", "캐시백", "청구할인", "포인트 적립")
PARTNERS = ("대한항공 스카이패스", "아시아나 클럽", "OK캐쉬백", "L.POINT", "CJ ONE", "해피포인트")
SYSTEMS = ("홈페이지", "한빛카드 앱", "ARS", "가맹점 결제", "카드 신청", "포인트 서비스")
CLAUSES = (
    "회원의 의무",
    "카드의 귀속",
    "부가서비스의 변경",
    "제휴 서비스의 제공",
    "개인정보의 제3자 제공",
    "전자금융거래의 기록",
    "약관의 변경",
    "서비스 제공의 중단",
    "가맹점 이용 제한",
    "통지의 방법",
)


def _distractor(n: int, rng: random.Random) -> dict[str, object]:
    product = rng.choice(PRODUCTS)
    merchant = rng.choice(MERCHANTS)
    kind = rng.choice(KINDS)
    month = rng.randint(1, 12)
    rate = rng.choice((1, 2, 3, 5, 7, 10, 15, 20))
    performance = rng.choice((20, 30, 40, 50, 70, 100))
    cap = rng.choice((5_000, 10_000, 15_000, 20_000, 30_000))
    template = n % 7
    if template == 0:
        question = f"{product} 카드로 {merchant}에서 결제하면 어떤 혜택이 있나요?"
        answer = (
            f"{product} 카드는 {merchant} 이용 금액의 {rate}%를 {kind}해 드립니다. 전월 실적 {performance}만 원 "
            f"이상일 때 적용되며 월 최대 {cap:,}원까지 받을 수 있습니다. 온라인 결제와 간편결제도 포함되지만 "
            "상품권 구매와 할부 결제는 제외됩니다."
        )
        category, keywords = "points_benefits", [merchant, kind, product, "혜택"]
    elif template == 1:
        amount = rng.choice((3, 5, 10, 20, 30))
        question = f"{merchant} {month}월 {kind} 이벤트 안내"
        answer = (
            f"{month}월 한 달 동안 {merchant}에서 한빛카드로 {amount}만 원 이상 결제하면 {kind} 혜택을 드립니다. "
            f"이벤트 페이지에서 응모한 뒤 결제한 건만 인정되며, 혜택은 다음 달 말까지 제공됩니다. 법인카드와 "
            "선불카드는 제외됩니다."
        )
        category, keywords = "points_benefits", [merchant, "이벤트", kind, f"{month}월"]
    elif template == 2:
        service = rng.choice(SERVICES)
        question = f"{product} 카드의 {service} 서비스는 어떻게 이용하나요?"
        answer = (
            f"{product} 카드 회원은 {service} 서비스를 연 {rng.randint(2, 12)}회까지 이용할 수 있습니다. 전월 "
            f"실적 {performance}만 원 이상이어야 하며, 이용 전 한빛카드 앱의 혜택 메뉴에서 대상 여부를 확인해 "
            "주세요. 제휴사 사정에 따라 서비스 내용이 바뀔 수 있습니다."
        )
        category, keywords = "points_benefits", [service, product, "부가서비스"]
    elif template == 3:
        months = rng.choice((2, 3, 4, 5, 6))
        question = f"{merchant} 무이자 할부 {months}개월 안내 ({month}월)"
        answer = (
            f"{month}월 1일부터 말일까지 {merchant}에서 5만 원 이상 결제하면 {months}개월 무이자 할부가 "
            "자동으로 적용됩니다. 법인·체크·선불카드와 간편결제 일부는 제외되며, 결제 후 할부 기간을 바꾸면 "
            "무이자 적용이 취소될 수 있습니다."
        )
        category, keywords = "points_benefits", [merchant, "무이자 할부", f"{months}개월"]
    elif template == 4:
        partner = rng.choice(PARTNERS)
        question = f"{product} 카드로 {partner} 적립은 어떻게 되나요?"
        unit = "마일" if "항공" in partner or "클럽" in partner else "포인트"
        answer = (
            f"{product} 카드는 이용 금액 1,000원당 {rng.randint(1, 3)}{unit}를 {partner}에 적립해 드립니다. "
            "적립은 매출 확정 후 2주 안에 반영되며, 무이자 할부와 세금·공과금 결제는 적립 대상에서 제외됩니다."
        )
        category, keywords = "points_benefits", [partner, "적립", product]
    elif template == 5:
        system = rng.choice(SYSTEMS)
        day = rng.randint(1, 28)
        question = f"{2025 + n % 2}년 {month}월 {day}일 {system} 서비스 점검 안내"
        answer = (
            f"더 나은 서비스를 위해 {month}월 {day}일 오전 0시부터 6시까지 {system} 점검을 진행합니다. 점검 시간에는 "
            f"{system} 이용이 일시 중단되며, 점검이 끝나면 바로 정상 이용하실 수 있습니다. 이용에 불편을 드려 "
            "죄송합니다."
        )
        category, keywords = "other", [system, "점검", "공지"]
    else:
        clause = rng.choice(CLAUSES)
        question = f"{product} 상품 약관 제{rng.randint(3, 40)}조 {clause}"
        answer = (
            f"{product} 상품의 {clause}에 관한 조항입니다. 회사는 관련 법령과 약관에 따라 회원에게 미리 알리고 "
            "변경 내용을 홈페이지에 게시합니다. 자세한 내용은 상품 설명서와 약관 전문을 확인해 주세요."
        )
        category, keywords = "other", [product, "약관", clause]
    return {
        "id": f"dx-{n:05d}",
        "category": category,
        "question": question,
        "answer": answer,
        "keywords": keywords,
        "synonyms": [],
    }


def article_lines(total: int) -> list[str]:
    demo = [line for line in demo_lines() if line.strip()]
    rng = random.Random(20260101)
    extra = [json.dumps(_distractor(n, rng), ensure_ascii=False) for n in range(total - len(demo))]
    return demo + extra


def load_queries() -> list[dict[str, str]]:
    return [json.loads(line) for line in EVAL_FILE.read_text("utf-8").splitlines() if line.strip()]


def accuracy(ranked: list[list[str]], expected: list[str]) -> dict[str, float]:
    top1 = top3 = rr = 0.0
    for ids, want in zip(ranked, expected, strict=True):
        if ids[:1] == [want]:
            top1 += 1
        if want in ids[:3]:
            top3 += 1
        if want in ids[:DEPTH]:
            rr += 1.0 / (ids.index(want) + 1)
    n = len(expected)
    return {"top1": round(top1 / n, 4), "top3": round(top3 / n, 4), "mrr": round(rr / n, 4)}


# ---- the FTS5 baseline -------------------------------------------------------------------------


def fts5_index(lines: list[str]) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE kb USING fts5(id UNINDEXED, question, keywords, answer, tokenize='unicode61')")
    rows = []
    for line in lines:
        item = json.loads(line)
        words = " , ".join([*item["keywords"], *item["synonyms"]])
        rows.append((item["id"], item["question"], words, to_plain(item["answer"])))
    conn.executemany("INSERT INTO kb (id, question, keywords, answer) VALUES (?, ?, ?, ?)", rows)
    conn.commit()
    return conn


_WORD = re.compile(r"\w+", re.UNICODE)


def fts5_search(conn: sqlite3.Connection, query: str) -> list[str]:
    words = _WORD.findall(query)
    if not words:
        return []
    match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
    rows = conn.execute(
        "SELECT id FROM kb WHERE kb MATCH ? ORDER BY bm25(kb, 0.0, 3.0, 2.0, 1.0) LIMIT ?", (match, DEPTH)
    ).fetchall()
    return [r[0] for r in rows]


# ---- Sangdam -----------------------------------------------------------------------------------


def sangdam_search(db: Database) -> Callable[[str], list[str]]:
    def run(query: str) -> list[str]:
        with db.session() as session:
            result = queries.search(session, query, DEPTH, highlight=False)
            return [hit.id for hit in result.hits]

    return run


def timed(run: Callable[[str], list[str]], texts: list[str], passes: int) -> Iterator[float]:
    for _ in range(passes):
        for text in texts:
            start = time.perf_counter()
            run(text)
            yield (time.perf_counter() - start) * 1000.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[position]


def log(message: str) -> None:
    print(f"kb_search: {message}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=TOTAL_ARTICLES)
    parser.add_argument("--passes", type=int, default=3, help="timed passes over the queries")
    parser.add_argument("--misses", action="store_true", help="list Sangdam's top-1 misses on stderr")
    args = parser.parse_args()

    evaluation = load_queries()
    texts = [item["query"] for item in evaluation]
    expected = [item["expected"] for item in evaluation]
    lines = article_lines(args.articles)

    with tempfile.TemporaryDirectory(prefix="sangdam-kb-bench-") as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}", EventBus())
        migrate.upgrade(db.engine)
        started = time.perf_counter()
        with db.transaction() as session:
            seed_taxonomy(session)
            result = import_jsonl(session, lines, Actor.system())
        log(f"imported {result.created} articles in {time.perf_counter() - started:.1f}s")
        run = sangdam_search(db)
        started = time.perf_counter()
        run("카드")  # builds the index
        log(f"index built in {time.perf_counter() - started:.1f}s")
        ranked = [run(text) for text in texts]
        latencies = list(timed(run, texts, args.passes))
        db.dispose()

    if args.misses:
        for item, ids in zip(evaluation, ranked, strict=True):
            if ids[:1] != [item["expected"]]:
                log(f"miss [{item['kind']}] {item['query']!r}: want {item['expected']}, got {ids[:3]}")

    baseline = fts5_index(lines)
    fts_ranked = [fts5_search(baseline, text) for text in texts]
    baseline.close()

    line = {
        "bench": "kb_search",
        **accuracy(ranked, expected),
        "baseline_fts5": accuracy(fts_ranked, expected),
        "articles": len(lines),
        "queries": len(texts),
        "p50_ms": round(statistics.median(latencies), 3),
        "p99_ms": round(percentile(latencies, 0.99), 3),
    }
    print(json.dumps(line, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
