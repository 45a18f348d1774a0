"""Helpers for driving the pages the way a browser does (forms with their CSRF tokens)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def login(client: TestClient, login: str, password: str) -> str:
    """Sign in through the login form; returns the CSRF token bound to the new session."""
    page = client.get("/console/login")
    response = client.post(
        "/console/login",
        data={"csrf_token": csrf_of(page.text), "login": login, "password": password, "next": "/console"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client.cookies["sangdam_csrf"]


def file_inquiry(client: TestClient, **overrides: object) -> tuple[int, str]:
    """Submit the portal form; returns (status, receipt number or error text)."""
    page = client.get("/inquiry")
    data: dict[str, object] = {
        "csrf_token": csrf_of(page.text),
        "name": "홍길동",
        "phone": "010-2345-6789",
        "topic": "payment_billing",
        "subject": "이중 결제",
        "body": "같은 결제가 두 번 청구됐어요.",
        "consent": "on",
    }
    files = overrides.pop("files", [("attachments", ("receipt.png", PNG, "image/png"))])
    data.update(overrides)
    data = {k: v for k, v in data.items() if v is not None}
    response = client.post("/inquiry", data=data, files=files, follow_redirects=False)  # type: ignore[arg-type]
    if response.status_code == 303:
        return 303, response.headers["location"].split("r=")[1]
    match = re.search(r'id="form-error">\s*([^<]+)', response.text)
    return response.status_code, match.group(1).strip() if match else response.text
