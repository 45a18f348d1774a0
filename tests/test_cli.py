"""The ``sangdam`` command, run as a user would: help, db upgrade, demo load, agent create and token."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from sangdam.cli import main


def run(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    environ = {**os.environ, "SANGDAM_DATA_DIR": str(data_dir), **env}
    environ.pop("SANGDAM_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "sangdam.cli", *args], capture_output=True, text=True, env=environ, timeout=120
    )


def test_help_explains_each_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("serve", "db", "demo", "agent"):
        assert command in out
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    assert "--port" in capsys.readouterr().out


def test_db_upgrade_demo_load_agent_create_and_token(tmp_path: Path) -> None:
    data = tmp_path / "data"
    r = run(["db", "upgrade"], data)
    assert r.returncode == 0, r.stderr
    engine = create_engine(f"sqlite:///{data / 'sangdam.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM topics")).scalar() == 11
        assert conn.execute(text("SELECT count(*) FROM agents")).scalar() == 0
    r = run(["demo", "load", "--if-empty"], data)
    assert r.returncode == 0 and "demo data loaded" in r.stdout, r.stderr
    r = run(["demo", "load", "--if-empty"], data)
    assert "nothing loaded" in r.stdout
    r = run(
        ["agent", "create", "new.agent", "--name", "신입상담", "--skill", "lost_card:4"],
        data,
        SANGDAM_AGENT_PASSWORD="a-long-password",
    )
    assert r.returncode == 0, r.stderr
    r = run(["agent", "create", "new.agent", "--name", "중복"], data, SANGDAM_AGENT_PASSWORD="a-long-password")
    assert r.returncode == 2 and "이미 있는 아이디" in r.stderr
    r = run(["agent", "create", "short.pw", "--name", "짧은"], data, SANGDAM_AGENT_PASSWORD="short")
    assert r.returncode == 2 and "10자 이상" in r.stderr
    r = run(["agent", "token", "new.agent", "--json"], data)
    token = json.loads(r.stdout)["token"]
    assert token.startswith("sgd_")
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM api_tokens")).scalars().all()
        assert token not in stored and len(stored) == 1
        assert conn.execute(select(func.count()).select_from(text("agents"))).scalar() >= 9
    r = run(["agent", "token", "nobody"], data)
    assert r.returncode == 2 and "찾을 수 없습니다" in r.stderr
