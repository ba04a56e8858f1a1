"""The authorize page a browser gets: pick an emulated user, approve or deny.

Plain server-rendered HTML (the emulator is not Django): one form that posts the
OAuth parameters back with the chosen `login` and a `decision` (`approve` or
`deny`). Every value is HTML-escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; background: #f6f8fa; color: #1f2328; }
main { max-width: 34rem; margin: 3rem auto; background: #fff; padding: 1.5rem 2rem;
       border: 1px solid #d0d7de; border-radius: 6px; }
h1 { font-size: 1.3rem; } fieldset { border: 1px solid #d0d7de; border-radius: 6px; }
label { display: block; padding: .35rem .2rem; } .who { color: #59636e; }
.error { color: #d1242f; font-weight: 600; } code { font-size: .9em; }
button { font: inherit; padding: .4rem 1rem; margin: 1rem .5rem 0 0; border-radius: 6px;
         border: 1px solid #d0d7de; cursor: pointer; }
button[value=approve] { background: #1f883d; color: #fff; border-color: #1f883d; }
"""


@dataclass(frozen=True)
class Account:
    """A user the page offers, with what access control will see of them."""

    login: str
    name: str
    orgs: list[tuple[str, str]]  # (organization, role)
    personal_installation: bool

    def describe(self) -> str:
        orgs = ", ".join(f"{org} (admin)" if role == "admin" else org for org, role in self.orgs)
        parts = [orgs or "no organization"]
        if self.personal_installation:
            parts.append("the App on their personal account")
        return "; ".join(parts)


@dataclass(frozen=True)
class AuthorizeRequest:
    """The OAuth parameters the form carries back."""

    client_id: str
    redirect_uri: str
    scope: str
    state: str | None


def render(request: AuthorizeRequest, accounts: list[Account], error: str | None = None) -> bytes:
    hidden = {
        "client_id": request.client_id,
        "redirect_uri": request.redirect_uri,
        "scope": request.scope,
    }
    if request.state is not None:
        hidden["state"] = request.state
    inputs = "".join(
        f'<input type="hidden" name="{name}" value="{escape(value)}">'
        for name, value in hidden.items()
    )
    choices = "".join(
        f'<label><input type="radio" name="login" value="{escape(a.login)}"'
        f"{' checked' if i == 0 else ''}> <strong>{escape(a.login)}</strong> "
        f'{escape(a.name)} <span class="who">— {escape(a.describe())}</span></label>'
        for i, a in enumerate(accounts)
    )
    scopes = escape(request.scope) or "(none)"
    problem = f'<p class="error">{escape(error)}</p>' if error else ""
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Authorize Foundry · GitHub emulator</title><style>{STYLE}</style></head>
<body><main>
<h1>Authorize Foundry</h1>
<p>The local GitHub emulator signs you in as one of its users. Scopes asked:
<code>{scopes}</code>. You will be sent back to <code>{escape(request.redirect_uri)}</code>.</p>
{problem}
<form method="post" action="/login/oauth/authorize">{inputs}
<fieldset><legend>Sign in as</legend>{choices}</fieldset>
<button type="submit" name="decision" value="approve">Authorize</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form></main></body></html>
"""
    return page.encode()
