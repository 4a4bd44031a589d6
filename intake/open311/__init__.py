"""Open311 GeoReport v2 (wiki.open311.org/GeoReport_v2) with mySociety's servicerequestupdates."""

from intake.open311.routes import router

__all__ = ["router"]
