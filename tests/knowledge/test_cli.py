"""``sangdam kb import|export|search``."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sangdam.conversations.taxonomy import seed_taxonomy
from sangdam.core import migrate
from sangdam.core.db import Database
from sangdam.core.events import EventBus
from sangdam.core.settings import get_settings
from sangdam.knowledge.cli import register
from sangdam.knowledge.demo import demo_lines

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SANGDAM_DATABASE_URL", url)
    monkeypatch.setenv("SANGDAM_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    db = Database(url, EventBus())
    migrate.upgrade(db.engine)
    with db.transaction() as session:
        seed_taxonomy(session)
    db.dispose()
    yield url
    get_settings.cache_clear()


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="sangdam")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return int(args.handler(args))


@pytest.fixture
def demo_file(tmp_path: Path) -> Path:
    path = tmp_path / "demo.jsonl"
    path.write_text("\n".join(demo_lines()) + "\n", encoding="utf-8")
    return path


def test_import_then_search_json(cli_db: str, demo_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("kb", "import", str(demo_file)) == 0
    assert "새 글" in capsys.readouterr().out
    assert run("kb", "search", "카드를 잃어버렸어요", "--top", "3", "--json") == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 3
    assert list(hits[0]) == ["id", "score", "category", "question"]
    assert hits[0]["id"] == "lost-card-report" and hits[0]["category"] == "lost_card"
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"] > 0


def test_search_table(cli_db: str, demo_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run("kb", "import", str(demo_file))
    capsys.readouterr()
    assert run("kb", "search", "캐쉬백 언제 들어와요", "--top", "1") == 0
    out = capsys.readouterr().out
    assert out.startswith("1. [points_benefits] 캐시백은 언제 들어오나요?") and "캐쉬백" in out
    run("kb", "search", "날씨 좋네요")
    assert "찾은 글이 없습니다" in capsys.readouterr().out


def test_search_stdin_prints_one_array_per_line(
    cli_db: str, demo_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run("kb", "import", str(demo_file))
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.StringIO("카드값 밀렸어요\n\n비번 까먹었어요\n"))
    assert run("kb", "search", "--stdin", "--top", "2") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    first, empty, third = (json.loads(line) for line in lines)
    assert first[0]["id"] == "overdue" and len(first) == 2
    assert empty == []
    assert third[0]["id"] == "app-password-reset"


def test_bad_file_imports_nothing(cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"id": "a", "category": "other", "question": "q", "answer": "a", "keywords": [], "synonyms": []})
    path.write_text(f"{good}\n{{nope\n", encoding="utf-8")
    assert run("kb", "import", str(path)) == 1
    err = capsys.readouterr().err
    assert "2번째 줄: JSON 형식이 올바르지 않습니다" in err and "아무것도 가져오지 않았습니다" in err
    run("kb", "export", "-")
    assert capsys.readouterr().out == ""


def test_export_round_trip(cli_db: str, demo_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run("kb", "import", str(demo_file))
    out = tmp_path / "out.jsonl"
    assert run("kb", "export", str(out)) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len([line for line in demo_lines() if line.strip()])
    assert {json.loads(line)["id"] for line in lines} == {json.loads(line)["id"] for line in demo_lines() if line}
    capsys.readouterr()
    assert run("kb", "import", str(out)) == 0
    assert "그대로 " + str(len(lines)) in capsys.readouterr().out


def test_missing_file_and_unready_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SANGDAM_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    get_settings.cache_clear()
    try:
        assert run("kb", "import", str(tmp_path / "nope.jsonl")) == 2
        assert "파일을 읽을 수 없습니다" in capsys.readouterr().err
        assert run("kb", "search", "카드") == 2
        assert "sangdam db upgrade" in capsys.readouterr().err
        assert run("kb", "search") == 2
    finally:
        get_settings.cache_clear()


def test_search_does_not_load_the_web_layer() -> None:
    code = (
        "import sys; import sangdam.knowledge.cli, sangdam.knowledge.queries, sangdam.knowledge.actions; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', 'starlette', 'uvicorn')"
        " or m.startswith('sangdam.web')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
