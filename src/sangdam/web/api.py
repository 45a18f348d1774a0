"""The REST API (``/api/v1``): every feature's JSON router, gathered in one place."""

from __future__ import annotations

from fastapi import APIRouter

from sangdam.conversations.api import router as conversations_router
from sangdam.customers.api import router as customers_router
from sangdam.routing.api import router as agents_router
from sangdam.routing.schedule_api import router as schedule_router

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(conversations_router)
api_router.include_router(customers_router)
api_router.include_router(agents_router)
api_router.include_router(schedule_router)
