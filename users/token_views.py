"""The personal access tokens settings page, ``/settings/tokens/``: the
person's own tokens (never anyone else's), a form to create one (shown
once, on the answer to that POST, never stored), and revoke buttons. Plain
forms with CSRF; the work is ``users/tokens.py``'s, as for the API and the
``token`` command."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from users.tokens import DEFAULT_DAYS, MAX_DAYS, TokenError, create_token, revoke_token, tokens_of


def _page(request: HttpRequest, *, new_secret: str = "", error: str = "",
          status: int = 200) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)  # login_required
    return render(request, "tokens.html", {
        "tokens": tokens_of(user), "now": timezone.now(), "new_secret": new_secret,
        "error": error, "default_days": DEFAULT_DAYS, "max_days": MAX_DAYS,
    }, status=status)


@never_cache  # the answer that shows a new token must not be kept anywhere
@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request)
    user = request.user
    assert isinstance(user, User)
    try:
        days = int(request.POST.get("days") or DEFAULT_DAYS)
    except ValueError:
        return _page(request, error="days must be a whole number", status=400)
    try:
        made = create_token(user, request.POST.get("name", ""), days)
    except TokenError as exc:
        return _page(request, error=str(exc), status=400)
    return _page(request, new_secret=made.secret)


@login_required
@require_POST
def revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    try:
        token = revoke_token(user, token_id)
    except TokenError:
        # Another person's token or none: the same answer, no hint.
        messages.error(request, "No such token.")
    else:
        messages.info(request, f"Token “{token.name}” revoked.")
    return redirect("tokens")
