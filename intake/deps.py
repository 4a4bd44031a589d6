"""FastAPI dependencies as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from intake.bootstrap import Intake


async def get_intake(request: Request) -> Intake:
    """The object graph built at start-up (async: a plain function would cost a thread hop per request)."""
    intake: Intake = request.app.state.intake
    return intake


IntakeDep = Annotated[Intake, Depends(get_intake)]
