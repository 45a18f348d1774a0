from __future__ import annotations

import argparse
import json

import pytest

from sangdam.routing.cli import register
from sangdam.routing.staffing import ServiceTarget, evaluate, format_plan, parse_target, plan

TEXTBOOK = ["staffing", "--calls", "100", "--interval", "30", "--aht", "180", "--target", "0.8/20"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sangdam")
    register(parser.add_subparsers(dest="command", required=True))
    return parser


def test_parse_target_forms() -> None:
    assert parse_target("0.8/20") == ServiceTarget(0.8, 20)
    assert parse_target("80/20") == ServiceTarget(0.8, 20)
    assert parse_target("90%/15s") == ServiceTarget(0.9, 15)
    for bad in ("0.8", "x/20", "0/20", "150/20", "0.8/-1"):
        with pytest.raises(ValueError):
            parse_target(bad)


def test_plan_matches_the_textbook_case() -> None:
    p = plan(100, 1800, 180, ServiceTarget(0.8, 20))
    assert p.agents == 14
    assert p.service_level == pytest.approx(0.888, abs=5e-4)
    assert p.asa_s == pytest.approx(7.84, abs=0.01)
    assert p.occupancy == pytest.approx(0.714, abs=1e-3)
    text = format_plan(p)
    assert "agents needed   14" in text
    assert "88.8%" in text


def test_overloaded_interval_serialises_infinite_asa_as_null() -> None:
    p = evaluate(100, 1800, 180, 9, ServiceTarget(0.8, 20))
    assert p.service_level == 0.0
    assert p.to_dict()["asa_s"] is None
    assert "∞" in format_plan(p)


def test_staffing_command_prints_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args(TEXTBOOK)
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert "agents needed   14" in out
    assert "service level   88.8%" in out
    assert "ASA             7.8 s" in out
    assert "occupancy       71.4%" in out


def test_staffing_command_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args([*TEXTBOOK, "--json"])
    assert args.handler(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["agents"] == 14
    assert data["service_level"] == pytest.approx(0.888, abs=5e-4)
    assert data["target"] == {"share": 0.8, "seconds": 20.0}


def test_staffing_command_rejects_a_bad_target(capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args(["staffing", "--calls", "100", "--aht", "180", "--target", "fast"])
    assert args.handler(args) == 2
    assert "0.8/20" in capsys.readouterr().err


def test_simulate_subcommand_is_registered() -> None:
    args = _parser().parse_args(["simulate", "--day", "tuesday", "--seed", "7", "--json"])
    assert (args.day, args.seed, args.json) == ("tuesday", 7, True)
    assert callable(args.handler)
    with pytest.raises(SystemExit):
        _parser().parse_args(["simulate", "--day", "someday"])
