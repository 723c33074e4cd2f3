"""The ASGI application: the live stream (`/live/`) served lean, the rest by Django.

`sala serve` runs it for the live server beside the WSGI workers; `--interface asgi`
serves everything from it, which is right for the embedded default.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sala.settings")

django_application = get_asgi_application()

from sala.live.app import route  # noqa: E402  (imports models: Django must be set up first)

application = route(django_application)
