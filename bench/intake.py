"""Intake benchmark: inquiries created per second over HTTP, with p50/p99 latency, per database backend.

Starts the real server as a separate process (``python -m sangdam.cli serve``) on a free port with a
fresh data directory, warms it up, then runs 16 concurrent keep-alive clients for a fixed time, each
posting ``POST /api/v1/inquiries`` with its own phone numbers and texts. Only ``201 Created`` counts;
everything else is reported under ``errors``. Prints one JSON line per backend on stdout::

    {"bench": "intake", "backend": "sqlite", "inquiries_per_s": …, "p50_ms": …, "p99_ms": …, …}

PostgreSQL gets a database of its own, created and dropped here, on ``--postgres-url`` (default
``SANGDAM_BENCH_POSTGRES_URL`` or ``postgresql+psycopg://postgres@127.0.0.1:5432/test``); when that
server cannot be reached the line says ``"skipped"`` and why.

Each inquiry comes from its own customer: its own phone number, and its own address in
``X-Forwarded-For`` (the server trusts that header from 127.0.0.1, as behind a reverse proxy), so the
per-phone and per-address inquiry limits are checked and counted on every request, as in real
traffic, without 16 clients on one address tripping them.

The client is a small asyncio HTTP/1.1 client (no dependencies) so it leaves the CPU to the server;
the CPU seconds the server and the client used are in the line too (``server_cpu_s``,
``client_cpu_s``). Aim: ≥ 500 inquiries/s on SQLite on a 2-core machine. Details go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BODIES = (
    "지난달 명세서에 같은 가맹점 결제가 두 번 청구되어 있습니다. 확인 부탁드립니다.",
    "포인트를 현금으로 전환하고 싶은데 방법을 알려 주세요.",
    "해외 호텔 결제가 계속 승인 거절됩니다. 해외 이용 설정을 확인해 주세요.",
    "카드 IC칩이 휘어서 인식이 되지 않습니다. 같은 번호로 재발급 받을 수 있나요?",
    "이번 달 결제일을 놓쳤는데 연체 이자가 얼마나 붙는지 궁금합니다.",
    "한빛카드 앱 로그인이 되지 않습니다. 비밀번호 재설정은 어디서 하나요?",
)
NAMES = ("김민수", "이서연", "박지훈", "최유진", "정도윤", "강하은", "조서준", "윤지우")


def log(message: str) -> None:
    print(f"intake: {message}", file=sys.stderr, flush=True)


# --- a minimal keep-alive HTTP/1.1 client -------------------------------------------------------


class HttpConnection:
    """One keep-alive connection; reconnects when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.reader is None or self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            sock = self.writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self.reader, self.writer

    async def request(
        self, method: str, path: str, body: bytes | None = None, forwarded_for: str | None = None
    ) -> tuple[int, bytes]:
        reader, writer = await self._connect()
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAccept: application/json\r\n"
        if forwarded_for is not None:
            head += f"X-Forwarded-For: {forwarded_for}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        writer.write(head.encode() + b"\r\n" + (body or b""))
        try:
            status_line = await reader.readline()
            if not status_line:
                raise ConnectionError("the server closed the connection")
            status = int(status_line.split(b" ", 2)[1])
            length, chunked, close = 0, False, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
                elif name == b"connection" and b"close" in value.lower():
                    close = True
            if chunked:
                parts = []
                while size := int((await reader.readline()).split(b";")[0], 16):
                    parts.append(await reader.readexactly(size))
                    await reader.readline()
                await reader.readline()
                payload = b"".join(parts)
            else:
                payload = await reader.readexactly(length) if length else b""
        except BaseException:
            await self.close()
            raise
        if close:
            await self.close()
        return status, payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None


# --- the server under test ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process and all its descendants (Linux ``/proc``), else None."""
    ticks = os.sysconf("SC_CLK_TCK")
    try:
        stats: dict[int, tuple[int, float]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                raw = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = raw[raw.rindex(")") + 2 :].split()
            stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    except OSError:
        return None
    if pid not in stats:
        return None
    total, frontier = 0.0, [pid]
    while frontier:
        current = frontier.pop()
        total += stats[current][1]
        frontier.extend(child for child, (parent, _) in stats.items() if parent == current)
    return total


def machine_busy_seconds() -> float | None:
    """CPU seconds all cores spent busy since boot (Linux ``/proc/stat``), else None."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path
    log_path: Path

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_server(database_url: str | None, workers: int) -> Server:
    data_dir = Path(tempfile.mkdtemp(prefix="sangdam-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANGDAM_")}
    env.update(SANGDAM_DATA_DIR=str(data_dir), SANGDAM_SECRET_KEY="bench-" + uuid.uuid4().hex)
    if database_url:
        env["SANGDAM_DATABASE_URL"] = database_url
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    port = free_port()
    log_path = data_dir / "server.log"
    command = [
        sys.executable,
        "-m",
        "sangdam.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, cwd=data_dir, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Server(process, port, data_dir, log_path)


async def wait_ready(server: Server, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited ({server.process.returncode}):\n{server.log_tail()}")
        connection = HttpConnection("127.0.0.1", server.port)
        try:
            status, _ = await connection.request("GET", "/healthz")
            if status == 200:
                return
        except OSError:
            pass
        finally:
            await connection.close()
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the server was not ready after {timeout:.0f} s:\n{server.log_tail()}")


def stop_server(server: Server) -> None:
    """Stop the server this bench started (its own process group), then remove its data."""
    if server.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGINT)
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=10)
    shutil.rmtree(server.data_dir, ignore_errors=True)


# --- the load -----------------------------------------------------------------------------------


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    first_error: str | None = None

    def error(self, key: str, detail: str) -> None:
        self.errors[key] = self.errors.get(key, 0) + 1
        if self.first_error is None:
            self.first_error = detail[:300]


def customer_address(serial: int) -> str:
    """The address a customer files from, as a reverse proxy in front of the server reports it."""
    return f"10.{serial >> 16 & 255}.{serial >> 8 & 255}.{serial & 255}"


def inquiry(serial: int, topics: list[str]) -> bytes:
    """A distinct inquiry: its own phone number (010-2xxx-xxxx), name, subject and text."""
    phone = f"010-{2000 + serial // 10_000:04d}-{serial % 10_000:04d}"
    body = {
        "name": NAMES[serial % len(NAMES)],
        "phone": phone,
        "email": f"bench{serial}@example.com" if serial % 3 == 0 else None,
        "topic": topics[serial % len(topics)],
        "subject": f"벤치 문의 {serial}번",
        "body": f"{BODIES[serial % len(BODIES)]} (문의 {serial}번)",
        "consent": True,
    }
    return json.dumps(body, ensure_ascii=False).encode()


async def client(port: int, serials: itertools.count[int], topics: list[str], until: float, tally: Tally) -> None:
    connection = HttpConnection("127.0.0.1", port)
    try:
        while time.monotonic() < until:
            serial = next(serials)
            payload = inquiry(serial, topics)
            started = time.perf_counter()
            try:
                status, answer = await connection.request(
                    "POST", "/api/v1/inquiries", payload, forwarded_for=customer_address(serial)
                )
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
                tally.error(type(exc).__name__, repr(exc))
                await asyncio.sleep(0.01)
                continue
            elapsed = time.perf_counter() - started
            if status == 201:
                tally.latencies.append(elapsed)
            else:
                tally.error(str(status), answer.decode(errors="replace"))
    finally:
        await connection.close()


async def topic_codes(port: int) -> list[str]:
    connection = HttpConnection("127.0.0.1", port)
    try:
        status, answer = await connection.request("GET", "/api/v1/topics")
    finally:
        await connection.close()
    codes = [t["code"] for t in json.loads(answer)] if status == 200 else []
    return [c for c in codes if c not in ("lost_card", "fraud_security")] or codes or ["other"]


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


async def load(server: Server, clients: int, duration: float, warmup: float) -> dict[str, Any]:
    topics = await topic_codes(server.port)
    serials = itertools.count(1)
    if warmup > 0:
        until = time.monotonic() + warmup
        await asyncio.gather(*(client(server.port, serials, topics, until, Tally()) for _ in range(clients)))
    tally = Tally()
    server_cpu_before = cpu_seconds(server.process.pid)
    client_cpu_before = time.process_time()
    machine_before = machine_busy_seconds()
    started = time.monotonic()
    until = started + duration
    await asyncio.gather(*(client(server.port, serials, topics, until, tally) for _ in range(clients)))
    elapsed = time.monotonic() - started
    server_cpu_after = cpu_seconds(server.process.pid)
    machine_after = machine_busy_seconds()
    latencies = sorted(tally.latencies)
    result: dict[str, Any] = {
        "inquiries_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2) if latencies else None,
        "created": len(latencies),
        "errors": tally.errors,
        "clients": clients,
        "duration_s": round(elapsed, 2),
        "server_cpu_s": (
            round(server_cpu_after - server_cpu_before, 2)
            if server_cpu_before is not None and server_cpu_after is not None
            else None
        ),
        "client_cpu_s": round(time.process_time() - client_cpu_before, 2),
        # Every core's busy time: beyond the server and the client, the database server and anything
        # else running on the machine (a busy machine makes the figures lower).
        "machine_cpu_s": (
            round(machine_after - machine_before, 2)
            if machine_before is not None and machine_after is not None
            else None
        ),
        "cores": os.cpu_count(),
    }
    if tally.first_error:
        log(f"first error: {tally.first_error}")
    return result


# --- backends -----------------------------------------------------------------------------------


def create_postgres_database(admin_url: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"sangdam_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(admin_url: str, url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    finally:
        admin.dispose()


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    line: dict[str, Any] = {"bench": "intake", "backend": backend}
    database_url: str | None = None
    if backend == "postgresql":
        try:
            database_url = create_postgres_database(args.postgres_url)
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return {**line, "skipped": f"PostgreSQL unreachable at {args.postgres_url}: {reason}"}
    server = start_server(database_url, args.workers)
    try:
        asyncio.run(wait_ready(server))
        log(f"{backend}: server ready on port {server.port} ({args.workers} worker(s)); running {args.duration} s")
        result = asyncio.run(load(server, args.clients, args.duration, args.warmup))
        return {**line, **result, "workers": args.workers}
    except Exception as exc:
        return {**line, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        stop_server(server)
        if database_url:
            with contextlib.suppress(Exception):
                drop_postgres_database(args.postgres_url, database_url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all")
    parser.add_argument("--clients", type=int, default=16, help="concurrent keep-alive clients (default 16)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first (default 2)")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes (default 1)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("SANGDAM_BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
        help="an existing PostgreSQL database to connect to; the bench creates and drops its own",
    )
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    failed = False
    for backend in backends:
        line = run_backend(backend, args)
        failed = failed or "error" in line
        print(json.dumps(line, ensure_ascii=False), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
