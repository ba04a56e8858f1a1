"""Sign-in and sign-out pages, and the OAuth callback around social-auth's.

Every way a sign-in can fail (refused on GitHub, an expired or foreign
state, a failed code exchange, GitHub down, Foundry's own user actor too
slow) ends on ``/signin/`` with a sentence saying what happened, and an
audit entry; never a 500. A callback seen before (same OAuth state: a proxy
retrying a slow callback, a reload) does not spend the code again.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from social_core.exceptions import (
    AuthCanceled,
    AuthCredentialError,
    AuthProviderError,
    AuthSessionError,
    SocialAuthBaseException,
)
from social_django.views import complete as social_complete

from audit_log.append import append
from audit_log.models import AuditKind
from foundry.actors import ActorError
from orgs.access import user_is_member
from users.models import OAuthCallback, UserProfile
from users.signin_github import SignInGitHubError

log = logging.getLogger(__name__)

# A retried callback waits this long for the first one to finish.
REPEATED_CALLBACK_WAIT_SECONDS = 10.0
# A state is only good for minutes (GitHub's codes live 10); its record is
# kept a day, then pruned by the next callback.
CALLBACK_RECORD_DAYS = 1


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Anonymous → sign in; else the organization opened last, or the list."""
    if not request.user.is_authenticated:
        return redirect("signin")
    last = (
        UserProfile.objects.filter(user_id=request.user.pk)
        .values_list("last_org", flat=True).first()
    )
    if last and user_is_member(request.user, last):
        return redirect("organization", org_id=last)
    return redirect("organizations")


@require_GET
def signin(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    configured = bool(settings.GITHUB_OAUTH_CLIENT_ID and settings.GITHUB_OAUTH_CLIENT_SECRET)
    return render(request, "signin.html", {"configured": configured})


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        login = request.user.get_username()
        logout(request)
        append(AuditKind.SIGN_OUT, actor=login, target=login)
    return redirect("signin")


def _failure_message(exc: BaseException) -> str:
    if isinstance(exc, AuthCanceled):
        return "You declined the sign-in on GitHub. Nothing was changed."
    if isinstance(exc, AuthSessionError):
        return "This sign-in expired or began in another browser. Please sign in again."
    if isinstance(exc, AuthProviderError | SignInGitHubError):
        return "GitHub is not answering right now. Please try again in a moment."
    if isinstance(exc, AuthCredentialError):
        return "GitHub refused this sign-in. Please sign in again."
    if isinstance(exc, ActorError):
        return "Foundry could not record your sign-in in time. Please try again."
    return "Signing in with GitHub failed. Please try again."


def _fail(request: HttpRequest, exc: BaseException) -> HttpResponseRedirect:
    log.warning("GitHub sign-in failed: %s: %s", type(exc).__name__, exc)
    append(AuditKind.SIGN_IN_FAILED, details={
        "error": type(exc).__name__, "reason": str(exc)[:300],
        "github_error": request.GET.get("error", "")[:100],
    })
    messages.error(request, _failure_message(exc))
    return redirect("signin")


@never_cache
@csrf_exempt
def complete(request: HttpRequest, backend: str) -> HttpResponse:
    state = request.GET.get("state", "")[:128]
    if state and "error" not in request.GET:
        try:
            with transaction.atomic():
                callback = OAuthCallback.objects.create(state=state)
        except IntegrityError:
            return _repeated(request, state)
        OAuthCallback.objects.filter(
            created_at__lt=timezone.now() - timedelta(days=CALLBACK_RECORD_DAYS)
        ).delete()
    else:
        callback = None
    try:
        response = social_complete(request, backend)
    except (SocialAuthBaseException, SignInGitHubError, ActorError) as exc:
        if callback is not None:
            OAuthCallback.objects.filter(pk=callback.pk).update(succeeded=False)
        return _fail(request, exc)
    if callback is not None:
        signed_in = request.user.is_authenticated
        OAuthCallback.objects.filter(pk=callback.pk).update(
            succeeded=signed_in, user_id=request.user.pk if signed_in else None
        )
    return response


def _repeated(request: HttpRequest, state: str) -> HttpResponse:
    """The same state again: wait for the first callback if it still runs,
    then send the browser on; the code is never exchanged twice."""
    deadline = time.monotonic() + REPEATED_CALLBACK_WAIT_SECONDS
    outcome = OAuthCallback.objects.filter(state=state).values_list("succeeded", flat=True)
    while outcome.first() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if request.user.is_authenticated:
        return redirect("home")
    messages.info(request, "This sign-in link was already used. Please sign in again.")
    return redirect("signin")
