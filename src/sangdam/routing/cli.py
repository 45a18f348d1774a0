"""``sangdam staffing`` and ``sangdam simulate``: registered on the main CLI by :func:`register`."""

from __future__ import annotations

import argparse
import json
import sys

from sangdam.routing.staffing import format_plan, parse_target, plan

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    staffing = subparsers.add_parser(
        "staffing",
        help="agents needed for a volume (Erlang C)",
        description="Agents needed, service level, average speed of answer and occupancy (Erlang C).",
    )
    staffing.add_argument("--calls", type=float, required=True, help="contacts arriving per interval")
    staffing.add_argument("--interval", type=float, default=30, help="interval length in minutes (30)")
    staffing.add_argument("--aht", type=float, required=True, help="average handle time in seconds")
    staffing.add_argument("--target", default="0.8/20", help="service level target share/seconds (0.8/20)")
    staffing.add_argument("--max-occupancy", type=float, default=None, help="cap on occupancy, e.g. 0.85")
    staffing.add_argument("--json", action="store_true", help="print JSON")
    staffing.set_defaults(handler=staffing_command)

    simulate = subparsers.add_parser(
        "simulate",
        help="replay a realistic day against the routing engine",
        description="Replay a simulated day against the real routing engine in accelerated time.",
    )
    simulate.add_argument("--day", choices=DAYS, default="monday", help="weekday to simulate (monday)")
    simulate.add_argument("--seed", type=int, default=1, help="random seed (1)")
    simulate.add_argument(
        "--scale", type=float, default=1.0, help="volumes and head counts × this (1: ~3,400 contacts, 64 agents)"
    )
    simulate.add_argument("--json", action="store_true", help="print JSON")
    simulate.set_defaults(handler=simulate_command)


def staffing_command(args: argparse.Namespace) -> int:
    try:
        target = parse_target(args.target)
        result = plan(args.calls, args.interval * 60, args.aht, target, args.max_occupancy)
    except ValueError as exc:
        print(f"sangdam staffing: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_plan(result))
    return 0


def simulate_command(args: argparse.Namespace) -> int:
    from sangdam.routing.simulate import format_report, simulate_day

    try:
        report = simulate_day(args.day, seed=args.seed, scale=args.scale)
    except ValueError as exc:
        print(f"sangdam simulate: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_report(report))
    return 0
