"""The WSGI application: every page and form goes through it."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sala.settings")

application = get_wsgi_application()
