"""The WSGI application: every page and form goes through it.

Guest page cache hits are answered in front of Django's handler (docs/subsystems/caching.md).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sala.settings")

django_application = get_wsgi_application()

from sala.core.page_cache.front import GuestPageCacheFront  # noqa: E402  (after Django's set-up)

application = GuestPageCacheFront(django_application)
