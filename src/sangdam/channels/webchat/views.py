"""The portal's chat page ``/chat``: the widget drawn inside the page, always open."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sangdam.web.deps import SettingsDep, TemplatesDep
from sangdam.web.portal import render

router = APIRouter(include_in_schema=False)


@router.get("/chat")
def chat_page(request: Request, templates: TemplatesDep, settings: SettingsDep) -> Response:
    return render(templates, request, "chat/customer.html", {"settings": settings})
