"""Short-lived signed values (HMAC-SHA256 with the service's secret key)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: str, purpose: str, value: str, ttl_seconds: int) -> str:
    expires = int(time.time()) + ttl_seconds
    body = f"{_b64(value.encode())}.{expires}"
    mac = hmac.new(secret.encode(), f"{purpose}|{body}".encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def unsign(secret: str, purpose: str, token: str | None) -> str | None:
    """The value, or ``None`` if the token is forged, for another purpose, or expired."""
    if not token or token.count(".") != 2:
        return None
    body, _, mac = token.rpartition(".")
    expected = hmac.new(secret.encode(), f"{purpose}|{body}".encode(), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(expected, _unb64(mac)):
            return None
        encoded, expires = body.split(".")
        if int(expires) < time.time():
            return None
        return _unb64(encoded).decode()
    except (ValueError, UnicodeDecodeError):
        return None
