"""Liveness, readiness and metrics endpoints."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from intake.deps import IntakeDep
from services.bus import KafkaPublisher
from services.errors import DependencyUnavailable
from services.metrics import exposition

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    """Always ok while the event loop runs."""
    return {"status": "ok"}


@router.get("/readyz", summary="Kafka and MongoDB are reachable")
async def readyz(intake: IntakeDep) -> JSONResponse:
    """200 when both dependencies answer, 503 naming the one that does not."""
    checks: dict[str, str] = {}
    try:
        await intake.store.ping()
        checks["mongo"] = "ok"
    except DependencyUnavailable as exc:
        checks["mongo"] = str(exc)
    if isinstance(intake.publisher, KafkaPublisher):
        try:
            await intake.publisher.ready()
            checks["kafka"] = "ok"
        except DependencyUnavailable as exc:
            checks["kafka"] = str(exc)
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks}, 200 if ready else 503
    )


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics() -> Response:
    """Prometheus text exposition."""
    body, content_type = exposition()
    return Response(body, media_type=content_type)
