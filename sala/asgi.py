"""The ASGI application, kept for the live stream (Server-Sent Events)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sala.settings")

application = get_asgi_application()
