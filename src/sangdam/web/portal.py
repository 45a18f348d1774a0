"""The customer portal: home, inquiry form (문의 접수), receipt lookup with replies and follow-up."""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.datastructures import UploadFile

from sangdam.conversations import actions, queries
from sangdam.conversations.attachments import AttachmentUpload
from sangdam.conversations.schemas import InquiryCreate
from sangdam.core import signing
from sangdam.core.errors import InputError, NotFound, SangdamError
from sangdam.knowledge.actions import mark_deflection_submitted
from sangdam.models import Conversation, Topic
from sangdam.privacy.audit import Actor
from sangdam.web.auth import check_csrf, csrf_for_page
from sangdam.web.deps import ClientDep, DbDep, SettingsDep, TemplatesDep
from sangdam.web.i18n import CONSENT_TEXT_EN, CONSENT_TEXT_KO, translator

router = APIRouter(include_in_schema=False)

LANG_COOKIE = "sangdam_lang"
LOOKUP_COOKIE = "sangdam_lookup"
LOOKUP_TTL = 30 * 60


def language(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "ko"
    return lang if lang in ("ko", "en") else "ko"


def render(templates: Any, request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    lang = language(request)
    context = {"lang": lang, "_": translator(lang), "csrf_token": csrf_for_page(request), **context}
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    if request.query_params.get("lang") in ("ko", "en"):
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


def _topics(db: DbDep) -> list[Topic]:
    with db.transaction() as session:
        return list(session.execute(select(Topic).where(Topic.active.is_(True)).order_by(Topic.sort_order)).scalars())


@router.get("/")
def home(request: Request, templates: TemplatesDep, settings: SettingsDep) -> Response:
    return render(templates, request, "portal/home.html", {"settings": settings})


@router.get("/inquiry")
def inquiry_form(request: Request, templates: TemplatesDep, db: DbDep, settings: SettingsDep) -> Response:
    return render(
        templates,
        request,
        "portal/inquiry.html",
        {"topics": _topics(db), "form": {}, "error": None, "settings": settings, **_consent(request)},
    )


def _consent(request: Request) -> dict[str, str]:
    return {"consent_text": CONSENT_TEXT_EN if language(request) == "en" else CONSENT_TEXT_KO}


async def _uploads(items: list[Any]) -> list[AttachmentUpload]:
    uploads = []
    for item in items:
        if isinstance(item, UploadFile) and (item.filename or item.size):
            uploads.append(AttachmentUpload(item.filename or "", await item.read(), item.content_type))
    return uploads


@router.post("/inquiry")
async def inquiry_submit(
    request: Request, templates: TemplatesDep, db: DbDep, settings: SettingsDep, client: ClientDep
) -> Response:
    form = await request.form(max_files=settings.max_attachments + 5, max_fields=50)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        check_csrf(request, values.get("csrf_token"))
        uploads = await _uploads(form.getlist("attachments"))
        try:
            data = InquiryCreate(
                name=values.get("name", "").strip() or " ",
                phone=values.get("phone", "").strip() or " ",
                email=values.get("email") or None,
                topic=values.get("topic", ""),
                subject=values.get("subject", ""),
                body=values.get("body", "").strip() or " ",
                consent=values.get("consent") in ("on", "true", "1", "yes"),
                language=language(request),
                deflection_id=int(values["deflection_id"]) if values.get("deflection_id", "").isdigit() else None,
            )
        except ValueError as exc:
            raise InputError(
                None, "입력 내용을 확인해 주세요. 너무 긴 항목이 있습니다.", "Please check the form."
            ) from exc
        with db.transaction() as session:
            conversation = actions.create_inquiry(session, settings, data, uploads, Actor.customer(None, client))
            receipt = conversation.receipt_number
            if data.deflection_id is not None:  # FAQ suggestions were shown, and the customer submitted anyway
                with contextlib.suppress(NotFound):
                    mark_deflection_submitted(session, data.deflection_id, conversation.id)
    except SangdamError as error:
        status = error.status_code if error.status_code != 422 else 400
        context = {"topics": _topics(db), "form": values, "error": error, "settings": settings, **_consent(request)}
        return render(templates, request, "portal/inquiry.html", context, status_code=status)
    response = RedirectResponse(f"/inquiry/done?r={receipt}", status_code=303)
    _remember_lookup(response, settings, receipt)
    return response


def _remember_lookup(response: Response, settings: SettingsDep, receipt: str) -> None:
    token = signing.sign(settings.resolved_secret_key(), "lookup", receipt, LOOKUP_TTL)
    response.set_cookie(
        LOOKUP_COOKIE, token, max_age=LOOKUP_TTL, httponly=True, secure=settings.cookie_secure, samesite="lax"
    )


@router.get("/inquiry/done")
def inquiry_done(request: Request, templates: TemplatesDep, settings: SettingsDep) -> Response:
    receipt = request.query_params.get("r", "")
    return render(templates, request, "portal/inquiry_done.html", {"receipt": receipt, "settings": settings})


@router.get("/lookup")
def lookup_form(request: Request, templates: TemplatesDep) -> Response:
    return render(templates, request, "portal/lookup.html", {"form": {}, "error": None})


@router.post("/lookup")
async def lookup_submit(
    request: Request, templates: TemplatesDep, db: DbDep, settings: SettingsDep, client: ClientDep
) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    refused: queries.LookupRefused | None = None
    receipt = ""
    try:
        check_csrf(request, values.get("csrf_token"))
    except SangdamError as error:
        return render(templates, request, "portal/lookup.html", {"form": values, "error": error}, status_code=403)
    with db.transaction() as session:
        try:
            conversation = queries.lookup_by_receipt(
                session, settings, values.get("receipt_number", ""), values.get("phone", ""), client
            )
            receipt = conversation.receipt_number
        except queries.LookupRefused as exc:
            refused = exc  # the failed try is committed with the transaction
    if refused is not None:
        error = SangdamError(refused.message, refused.message_en)
        status = 429 if refused.rate_limited else 404
        return render(templates, request, "portal/lookup.html", {"form": values, "error": error}, status_code=status)
    response = RedirectResponse("/lookup/view", status_code=303)
    _remember_lookup(response, settings, receipt)
    return response


def _looked_up(request: Request, settings: SettingsDep) -> str | None:
    return signing.unsign(settings.resolved_secret_key(), "lookup", request.cookies.get(LOOKUP_COOKIE))


@router.get("/lookup/view")
def lookup_view(
    request: Request, templates: TemplatesDep, db: DbDep, settings: SettingsDep, client: ClientDep
) -> Response:
    receipt = _looked_up(request, settings)
    if receipt is None:
        return RedirectResponse("/lookup?expired=1", status_code=303)
    return _thread(request, templates, db, receipt, client, None, 200)


def _thread(
    request: Request,
    templates: TemplatesDep,
    db: DbDep,
    receipt: str,
    client: str,
    error: SangdamError | None,
    status_code: int,
) -> Response:
    with db.transaction() as session:
        conversation = session.execute(
            select(Conversation).where(Conversation.receipt_number == receipt)
        ).scalar_one_or_none()
        if conversation is None:
            return RedirectResponse("/lookup", status_code=303)
        messages = queries.messages_of(session, conversation.id)
        from sangdam.privacy.audit import record

        record(
            session,
            Actor.customer(conversation.customer_id, client),
            "conversation.customer_view",
            "conversation",
            conversation.id,
            customer_id=conversation.customer_id,
        )
        context = {"conversation": conversation, "messages": messages, "error": error}
        return render(templates, request, "portal/thread.html", context, status_code=status_code)


@router.post("/lookup/reply")
async def lookup_reply(
    request: Request, templates: TemplatesDep, db: DbDep, settings: SettingsDep, client: ClientDep
) -> Response:
    receipt = _looked_up(request, settings)
    if receipt is None:
        return RedirectResponse("/lookup?expired=1", status_code=303)
    form = await request.form(max_files=settings.max_attachments + 5, max_fields=20)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        check_csrf(request, values.get("csrf_token"))
        uploads = await _uploads(form.getlist("attachments"))
        with db.transaction() as session:
            conversation = session.execute(
                select(Conversation).where(Conversation.receipt_number == receipt)
            ).scalar_one()
            actions.customer_follow_up(
                session,
                settings,
                conversation,
                values.get("body", ""),
                uploads,
                Actor.customer(conversation.customer_id, client),
            )
    except SangdamError as error:
        return _thread(request, templates, db, receipt, client, error, 400)
    return RedirectResponse("/lookup/view", status_code=303)


@router.get("/lookup/attachments/{attachment_id}")
def lookup_attachment(attachment_id: int, request: Request, db: DbDep, settings: SettingsDep) -> Response:
    from sangdam.web.files import attachment_response

    receipt = _looked_up(request, settings)
    if receipt is None:
        return RedirectResponse("/lookup?expired=1", status_code=303)
    return attachment_response(db, settings, attachment_id, receipt=receipt)
