"""The FastAPI application: routes, error mapping, limits, lifecycle."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from intake import errors, open311, web
from intake.bootstrap import Intake
from intake.limits import BodyLimitMiddleware, ClientRateLimitMiddleware, NulRejectMiddleware
from intake.metrics import MetricsMiddleware
from intake.routes import admin, complaints, contracts, events, health, sms, staff
from services import collector


def create_app(intake: Intake) -> FastAPI:
    """An ASGI app serving ``intake``'s object graph."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await intake.start()
        collector.tune(intake.settings.gc_threshold)
        try:
            yield
        finally:
            await intake.stop()

    app = FastAPI(
        title="Pasokh intake",
        version="1",
        summary="Submit complaints to the city and follow them (Persian and English).",
        lifespan=lifespan,
    )
    app.state.intake = intake
    errors.install(app)
    app.add_middleware(NulRejectMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=intake.settings.intake.max_body_bytes)
    app.add_middleware(ClientRateLimitMiddleware, buckets=intake.limits.per_ip)
    if intake.settings.intake.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=intake.settings.intake.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=[
                "Content-Type",
                "Idempotency-Key",
                "Authorization",
                "X-API-Key",
                "Accept-Language",
            ],
            expose_headers=["Retry-After", "Idempotent-Replayed"],
            max_age=600,
        )
    app.add_middleware(MetricsMiddleware)
    app.include_router(complaints.router)
    app.include_router(staff.router)
    app.include_router(admin.router)
    app.include_router(sms.router)
    app.include_router(events.router)
    app.include_router(contracts.router)
    app.include_router(open311.router)
    app.include_router(health.router)
    app.include_router(web.router)
    web.mount_static(app)
    return app
