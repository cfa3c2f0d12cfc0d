"""Users: the list, one user's page, and what can be done to a user."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from frontend.api_client import AdminApiClient, ApiError, ApiNotFoundError
from frontend.listing import MAX_ID, PAGE_SIZE, Pagination, QueryReader
from frontend.pages import AdminPages
from frontend.routes.uploads import ArchiveUpload
from shared.db.enums import UserStatus

UserId = Annotated[int, Path(ge=1, le=MAX_ID)]
TokenId = Annotated[int, Path(ge=1, le=MAX_ID)]

_ACTIONS = {
    "pause": "Polling paused.",
    "resume": "Polling resumed.",
    "trigger-sync": "A sync is queued; the collector picks it up shortly.",
}


class UsersRouter:
    """`/users`, `/users/{id}` and the user's actions: pause, resume, sync, delete, tokens."""

    def __init__(self, pages: AdminPages) -> None:
        self._pages = pages
        self._uploads = ArchiveUpload(pages)
        self.router = APIRouter(prefix="/users")
        route = self.router.add_api_route
        route("", self.list_users, methods=["GET"], response_class=HTMLResponse)
        route("/{user_id}", self.user_detail, methods=["GET"], response_class=HTMLResponse)
        route("/{user_id}/pause", self.pause_user, methods=["POST"], response_model=None)
        route("/{user_id}/resume", self.resume_user, methods=["POST"], response_model=None)
        route("/{user_id}/trigger-sync", self.trigger_sync, methods=["POST"], response_model=None)
        route(
            "/{user_id}/delete", self.confirm_delete, methods=["GET"], response_class=HTMLResponse
        )
        route("/{user_id}/delete", self.delete_user, methods=["POST"], response_model=None)
        route("/{user_id}/tokens", self.create_token, methods=["POST"], response_model=None)
        route(
            "/{user_id}/tokens/{token_id}/revoke",
            self.revoke_token,
            methods=["POST"],
            response_model=None,
        )
        route("/{user_id}/imports", self.upload_import, methods=["POST"], response_model=None)

    async def list_users(self, request: Request) -> HTMLResponse:
        """Users, filtered by status and by name or Spotify ID, a page at a time."""
        reader = QueryReader(request.query_params)
        filters = {
            "status": reader.choice("status", [status.value for status in UserStatus]),
            "q": reader.text("q", 255),
        }
        page = await self._pages.api_for(request).list_users(
            **filters, limit=PAGE_SIZE, offset=reader.offset()
        )
        return self._pages.render(
            request,
            "users.html",
            {
                "nav": "users",
                "users": page["items"],
                "filters": filters,
                "statuses": [status.value for status in UserStatus],
                "pagination": Pagination.of(page, "/users", filters),
            },
        )

    async def user_detail(self, request: Request, user_id: UserId) -> HTMLResponse:
        """One user: profile, sync state, token expiry, actions, tool tokens, uploads."""
        api = self._pages.api_for(request)
        user = await api.get_user(user_id)
        tokens, imports, jobs, status = await asyncio.gather(
            self._tokens(api, user_id),
            api.list_imports(user_id=user_id, limit=5),
            api.list_jobs(user_id=user_id, limit=5),
            api.status(),
        )
        return self._pages.render(
            request,
            "user_detail.html",
            {
                "nav": "users",
                "user": user,
                "tokens": tokens,
                "imports": imports["items"],
                "jobs": jobs["items"],
                "status": status,
            },
        )

    @staticmethod
    async def _tokens(api: AdminApiClient, user_id: int) -> list[dict[str, Any]] | None:
        """The user's tool tokens; None when this API has no tool-token routes."""
        try:
            return await api.list_tokens(user_id)
        except ApiNotFoundError:
            return None

    async def pause_user(self, request: Request, user_id: UserId) -> Response:
        """Stop polling the user until resumed."""
        return await self._user_action(request, user_id, "pause")

    async def resume_user(self, request: Request, user_id: UserId) -> Response:
        """Poll the user again."""
        return await self._user_action(request, user_id, "resume")

    async def trigger_sync(self, request: Request, user_id: UserId) -> Response:
        """Queue a poll of the user now."""
        return await self._user_action(request, user_id, "trigger-sync")

    async def _user_action(self, request: Request, user_id: int, action: str) -> Response:
        """Pause, resume or trigger a sync; htmx gets the refreshed controls, forms a redirect."""
        api = self._pages.api_for(request)
        level, text = "ok", _ACTIONS[action]
        try:
            await api.user_action(user_id, action)
        except ApiNotFoundError:
            raise
        except ApiError as exc:
            level, text = "error", exc.message
        if self._pages.is_htmx(request):
            user = await api.get_user(user_id)
            return self._pages.partial(
                request,
                "partials/user_controls.html",
                {"user": user, "notice": {"level": level, "text": text}},
            )
        self._pages.flash(request, level, text)
        return self._pages.redirect(f"/users/{user_id}")

    async def confirm_delete(self, request: Request, user_id: UserId) -> HTMLResponse:
        """Ask before deleting: the admin types the user's Spotify ID to confirm."""
        user = await self._pages.api_for(request).get_user(user_id)
        return self._pages.render(
            request, "user_delete.html", {"nav": "users", "user": user, "error": None}
        )

    async def delete_user(
        self,
        request: Request,
        user_id: UserId,
        confirm: Annotated[str, Form(max_length=255)] = "",
    ) -> Response:
        """Delete the user and everything of theirs once the typed Spotify ID matches."""
        api = self._pages.api_for(request)
        user = await api.get_user(user_id)
        if confirm.strip() != user["spotify_user_id"]:
            return self._pages.render(
                request,
                "user_delete.html",
                {
                    "nav": "users",
                    "user": user,
                    "error": "The Spotify ID you typed does not match; nothing was deleted.",
                },
                status_code=400,
            )
        removed = await api.delete_user(user_id)
        name = user["display_name"] or user["spotify_user_id"]
        self._pages.flash(
            request,
            "ok",
            f"Deleted {name}: {removed['plays']} plays, {removed['import_jobs']} imports, "
            f"{removed['job_runs']} jobs, {removed['api_tokens']} tool tokens.",
        )
        return self._pages.redirect("/users")

    async def create_token(
        self,
        request: Request,
        user_id: UserId,
        name: Annotated[str, Form(max_length=255)] = "",
    ) -> Response:
        """Issue a tool token and show it this once (it is never shown again)."""
        api = self._pages.api_for(request)
        if not name.strip():
            self._pages.flash(request, "error", "Give the token a name, such as 'Claude desktop'.")
            return self._pages.redirect(f"/users/{user_id}#tokens")
        try:
            issued = await api.create_token(user_id, name.strip())
        except ApiNotFoundError:
            raise
        except ApiError as exc:
            self._pages.flash(request, "error", exc.message)
            return self._pages.redirect(f"/users/{user_id}#tokens")
        user = await api.get_user(user_id)
        return self._pages.render(
            request, "token_created.html", {"nav": "users", "user": user, "issued": issued}
        )

    async def revoke_token(self, request: Request, user_id: UserId, token_id: TokenId) -> Response:
        """Revoke one of the user's tool tokens."""
        api = self._pages.api_for(request)
        tokens = await api.list_tokens(user_id)
        if not any(token["id"] == token_id for token in tokens):
            raise ApiNotFoundError(404, "not_found", "This user has no such tool token.")
        await api.revoke_token(token_id)
        self._pages.flash(request, "ok", "Token revoked: tools using it are refused from now on.")
        return self._pages.redirect(f"/users/{user_id}#tokens")

    async def upload_import(
        self, request: Request, user_id: UserId, file: Annotated[UploadFile, File()]
    ) -> Response:
        """Upload a privacy-export ZIP for this user; then follow its import."""
        return await self._uploads.forward(request, user_id, file, back=f"/users/{user_id}")
