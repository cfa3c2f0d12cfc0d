"""Liveness (`/healthz`) and readiness (`/readyz`) for orchestrators and people."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared.db.manager import DatabaseManager
from shared.db.migrate import MigrationRunner


class Liveness(BaseModel):
    """The process answers."""

    status: str = "ok"


class Readiness(BaseModel):
    """Whether the API can serve: database reachable and schema at the code's revision."""

    status: str
    database: bool
    migrations_at_head: bool


class HealthRouter:
    """`/healthz` and `/readyz`."""

    def __init__(self, database: DatabaseManager) -> None:
        self._database = database
        self._migrations = MigrationRunner(database)
        self._head = self._migrations.head_revision()  # read the scripts once, not per probe
        self.router = APIRouter(tags=["health"])
        self.router.add_api_route(
            "/healthz", self.healthz, methods=["GET"], response_model=Liveness
        )
        self.router.add_api_route(
            "/readyz",
            self.readyz,
            methods=["GET"],
            response_model=Readiness,
            responses={503: {"model": Readiness}},
        )

    async def healthz(self) -> Liveness:
        """Liveness: the process is up (does not touch the database)."""
        return Liveness()

    async def readyz(self) -> JSONResponse:
        """Readiness: 200 when the database answers and its schema is at head, else 503."""
        reachable = await self._database.ping()
        at_head = False
        if reachable:
            try:
                at_head = await self._migrations.current_revision() == self._head
            except Exception:  # a half-created database is simply "not ready"
                at_head = False
        ready = reachable and at_head
        body = Readiness(
            status="ok" if ready else "unavailable", database=reachable, migrations_at_head=at_head
        )
        return JSONResponse(status_code=200 if ready else 503, content=body.model_dump())
