"""Errors that reach a user: a code, a Korean message first, an English one, and the field at fault.

The web layer turns them into one consistent JSON body (and into form messages on pages):
``{"error": {"code": …, "message": …, "message_en": …, "field": …}}``.
"""

from __future__ import annotations


class SangdamError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, message_en: str = "", *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.message_en = message_en or message
        self.field = field
        if code:
            self.code = code

    def to_body(self) -> dict[str, dict[str, str | None]]:
        return {
            "error": {"code": self.code, "message": self.message, "message_en": self.message_en, "field": self.field}
        }


class InputError(SangdamError):
    """The input is not acceptable (HTTP 422)."""

    status_code = 422
    code = "invalid_input"

    def __init__(self, field: str | None, message: str, message_en: str = "", *, code: str | None = None):
        super().__init__(message, message_en, field=field, code=code)


class NotFound(SangdamError):
    status_code = 404
    code = "not_found"


class Forbidden(SangdamError):
    status_code = 403
    code = "forbidden"


class Unauthorized(SangdamError):
    status_code = 401
    code = "unauthorized"


class Conflict(SangdamError):
    status_code = 409
    code = "conflict"


class TooManyRequests(SangdamError):
    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, message_en: str = "", *, retry_after: int = 60):
        super().__init__(message, message_en)
        self.retry_after = retry_after
