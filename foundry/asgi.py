"""ASGI entry point: HTTP through Django, websockets through Channels
(session authentication, origin checked against ALLOWED_HOSTS)."""

import os

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "foundry.settings")
django_asgi_app = get_asgi_application()

from foundry.routing import websocket_urlpatterns  # noqa: E402  (needs Django set up)

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    "websocket": AllowedHostsOriginValidator(
        AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
    ),
})
