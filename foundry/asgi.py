"""ASGI entry point: HTTP through Django, websockets through Channels.

Each app lists its websocket routes in its own ``routing.py``; they are
joined here behind the session authentication of Django's pages.
"""

import os

from channels.auth import AuthMiddlewareStack
from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "foundry.settings")
django_asgi_app = get_asgi_application()

from tasks.routing import websocket_urlpatterns as task_websockets  # noqa: E402

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    "websocket": AuthMiddlewareStack(URLRouter([*task_websockets])),
})
