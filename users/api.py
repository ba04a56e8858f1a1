"""The person and their personal access tokens."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.security import SessionAuth

from foundry.api import ERRORS, ApiError, person
from orgs.access import member_org_ids
from users.tokens import DEFAULT_DAYS, MAX_DAYS, TokenError, create_token, revoke_token, tokens_of

router = Router(tags=["users"])


class MeOut(Schema):
    login: str
    name: str
    email: str
    is_staff: bool
    orgs: list[str]


@router.get("/me", response={200: MeOut, **ERRORS}, summary="The signed-in person")
def me(request: HttpRequest) -> MeOut:
    user = person(request)
    return MeOut(
        login=user.username, name=user.get_full_name(), email=user.email,
        is_staff=user.is_staff, orgs=member_org_ids(user),
    )


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenIn(Schema):
    name: str
    days: int = DEFAULT_DAYS


class NewTokenOut(TokenOut):
    token: str


@router.get("/tokens", response={200: list[TokenOut], **ERRORS}, summary="My access tokens")
def list_tokens(request: HttpRequest) -> list[TokenOut]:
    return [TokenOut.from_orm(t) for t in tokens_of(person(request))]


# Creating a token needs the browser session: a token cannot mint tokens.
@router.post(
    "/tokens", response={201: NewTokenOut, **ERRORS}, auth=SessionAuth(),
    summary=f"Create an access token (1 to {MAX_DAYS} days); the token is shown this once",
)
def create(request: HttpRequest, body: TokenIn) -> Status[NewTokenOut]:
    try:
        new = create_token(person(request), body.name, body.days)
    except TokenError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from exc
    out = TokenOut.from_orm(new.record).model_dump()
    return Status(201, NewTokenOut(**out, token=new.secret))


@router.delete("/tokens/{token_id}", response={200: TokenOut, **ERRORS}, summary="Revoke a token")
def revoke(request: HttpRequest, token_id: int) -> TokenOut:
    try:
        return TokenOut.from_orm(revoke_token(person(request), token_id))
    except TokenError as exc:
        raise ApiError(404, "not_found", str(exc)) from exc


# The person's feed, notifications and sessions register on this router.
from users import api_feed  # noqa: E402,F401
