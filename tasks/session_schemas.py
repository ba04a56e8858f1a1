"""Payloads of the task actor's session commands."""

from __future__ import annotations

from pydantic import BaseModel


class CreateSessionIn(BaseModel):
    session_id: str = ""
    agent: str | None = None
    model: str | None = None
    title: str = ""
    as_user: int | None = None


class SessionIn(BaseModel):
    session_id: str


class SendMessageIn(BaseModel):
    session_id: str
    text: str
    message_id: str = ""
    as_user: int | None = None


class RenameSessionIn(BaseModel):
    session_id: str
    title: str


class AnswerPermissionIn(BaseModel):
    session_id: str
    request_id: int | str
    option_id: str | None
    as_user: int | None = None


class TurnFinishedIn(BaseModel):
    session_id: str
    request_id: str
    stop_reason: str = ""
    error: str = ""
