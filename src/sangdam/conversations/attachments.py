"""Attachments: checked (count, size, real type from the file's bytes) before anything is written.

Bytes are stored content-addressed under ``<data_dir>/attachments/ab/cdef…``; the database keeps
the name, type, size and hash.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import filetype

from sangdam.core.errors import InputError

ALLOWED_TYPES: dict[str, str] = {
    "image/jpeg": "JPG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
    "image/heic": "HEIC",
    "application/pdf": "PDF",
}


@dataclass(frozen=True, slots=True)
class AttachmentUpload:
    """A file as received from a channel, not yet checked."""

    filename: str
    data: bytes
    declared_type: str | None = None


@dataclass(frozen=True, slots=True)
class CheckedAttachment:
    filename: str
    content_type: str
    size: int
    sha256: str
    data: bytes

    @property
    def storage_key(self) -> str:
        return f"{self.sha256[:2]}/{self.sha256}"


def safe_filename(name: str) -> str:
    name = unicodedata.normalize("NFC", os.path.basename(name.replace("\\", "/"))).strip()
    name = re.sub(r"[\x00-\x1f\x7f/\\:*?\"<>|]", "_", name)
    return (name or "첨부파일")[:200]


def check_attachments(uploads: list[AttachmentUpload], max_count: int, max_bytes: int) -> list[CheckedAttachment]:
    """Refuse the whole set if any file is over the limits or not an allowed type."""
    uploads = [u for u in uploads if u.filename or u.data]
    if len(uploads) > max_count:
        raise InputError(
            "attachments",
            f"첨부파일은 최대 {max_count}개까지 올릴 수 있습니다.",
            f"At most {max_count} attachments are allowed.",
        )
    allowed = ", ".join(sorted(set(ALLOWED_TYPES.values())))
    checked: list[CheckedAttachment] = []
    for upload in uploads:
        name = safe_filename(upload.filename)
        if not upload.data:
            raise InputError("attachments", f"'{name}' 파일이 비어 있습니다.", f"'{name}' is empty.")
        if len(upload.data) > max_bytes:
            mb = max_bytes // (1024 * 1024)
            raise InputError(
                "attachments",
                f"'{name}' 파일이 너무 큽니다. 파일당 최대 {mb}MB까지 올릴 수 있습니다.",
                f"'{name}' is too large: at most {mb} MB per file.",
            )
        kind = filetype.guess(upload.data)
        mime = kind.mime if kind else None
        if mime not in ALLOWED_TYPES:
            raise InputError(
                "attachments",
                f"'{name}' 파일은 올릴 수 없는 형식입니다. 올릴 수 있는 형식: {allowed}",
                f"'{name}' is not an allowed file type ({allowed}).",
            )
        checked.append(
            CheckedAttachment(name, mime, len(upload.data), hashlib.sha256(upload.data).hexdigest(), upload.data)
        )
    return checked


def store(root: Path, item: CheckedAttachment) -> None:
    path = root / item.storage_key
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(item.data)
    os.replace(tmp, path)


def open_path(root: Path, storage_key: str) -> Path:
    path = (root / storage_key).resolve()
    if not str(path).startswith(str(root.resolve())):
        raise InputError("attachment", "잘못된 첨부파일입니다.", "Bad attachment.")
    return path
