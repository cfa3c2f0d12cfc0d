"""The frontend's own health check (public: no session needed)."""

from __future__ import annotations

from fastapi import APIRouter


class HealthRouter:
    """`/healthz`: the process answers."""

    def __init__(self) -> None:
        self.router = APIRouter()
        self.router.add_api_route("/healthz", self.healthz, methods=["GET"])

    async def healthz(self) -> dict[str, str]:
        """Liveness of the frontend process."""
        return {"status": "ok"}
