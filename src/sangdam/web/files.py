"""Serving stored attachments to those allowed to see them."""

from __future__ import annotations

from urllib.parse import quote

from fastapi.responses import FileResponse

from sangdam.conversations.attachments import open_path
from sangdam.core.db import Database
from sangdam.core.errors import NotFound
from sangdam.core.settings import Settings
from sangdam.models import Attachment, Conversation


def attachment_response(
    db: Database,
    settings: Settings,
    attachment_id: int,
    *,
    receipt: str | None = None,
    conversation_id: int | None = None,
) -> FileResponse:
    with db.transaction() as session:
        row = session.get(Attachment, attachment_id)
        owner = session.get(Conversation, row.conversation_id) if row else None
        if (
            row is None
            or owner is None
            or (receipt is not None and owner.receipt_number != receipt)
            or (conversation_id is not None and owner.id != conversation_id)
        ):
            raise NotFound("첨부파일을 찾을 수 없습니다.", "Attachment not found.")
        path = open_path(settings.attachments_dir, row.storage_key)
        content_type, filename = row.content_type, row.filename
    if not path.exists():
        raise NotFound("첨부파일을 찾을 수 없습니다.", "Attachment not found.")
    disposition = f"inline; filename*=UTF-8''{quote(filename)}"
    return FileResponse(path, media_type=content_type, headers={"Content-Disposition": disposition})
