"""Run every benchmark in ``bench/`` (``make bench``) and print the JSON lines they print.

Each ``bench/*.py`` script except this one (and ``_private.py`` helpers) runs in turn with the same
interpreter, from the repository root, and prints one or more JSON lines on stdout; those lines are
passed through as they come. A script's stderr goes to stderr. A script that fails, times out or
prints something that is not JSON gets a line of its own, ``{"bench": <name>, "error": …}``, and the
exit status is 1; the other scripts still run.

``python bench/run_all.py intake routing`` runs only those; ``--timeout`` bounds each script.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def scripts(only: list[str]) -> list[Path]:
    found = sorted(p for p in HERE.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_"))
    if only:
        wanted = {name.removesuffix(".py") for name in only}
        unknown = wanted - {p.stem for p in found}
        if unknown:
            raise SystemExit(f"run_all: no such bench script: {', '.join(sorted(unknown))}")
        found = [p for p in found if p.stem in wanted]
    return found


def emit(line: dict[str, object]) -> None:
    print(json.dumps(line, ensure_ascii=False), flush=True)


def run(script: Path, timeout: float) -> bool:
    """Run one script, passing its JSON lines through; False if it failed in any way."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    env.setdefault("PYTHONUNBUFFERED", "1")
    print(f"run_all: {script.name}", file=sys.stderr, flush=True)
    process = subprocess.Popen(
        [sys.executable, str(script)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, encoding="utf-8"
    )
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        process.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    ok = True
    try:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.strip()
            if not line:
                continue
            try:
                json.loads(line)
            except ValueError:
                print(f"{script.name}: {line}", file=sys.stderr, flush=True)
                ok = False
                continue
            print(line, flush=True)
        returncode = process.wait()
    finally:
        timer.cancel()
    if timed_out.is_set():
        emit({"bench": script.stem, "error": f"timed out after {timeout:.0f} s"})
        return False
    if returncode != 0:
        emit({"bench": script.stem, "error": f"exit status {returncode}"})
        return False
    if not ok:
        emit({"bench": script.stem, "error": "printed lines that are not JSON on stdout (see stderr)"})
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("only", nargs="*", help="script names to run (default: all)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per script (default 900)")
    args = parser.parse_args(argv)
    results = [run(script, args.timeout) for script in scripts(args.only)]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
