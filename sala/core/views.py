"""Files the frame serves itself: uploads, when no media host is configured."""

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest
from django.utils._os import safe_join

#: The only kinds of upload served, by extension; anything else is a 404.
SERVED_MEDIA_TYPES = {
    ".webp": "image/webp",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
}


def media(request: HttpRequest, path: str) -> FileResponse:
    """Serve an uploaded file with its exact type, never sniffed, never run as a page.

    Production deployments with a separate media host (SALA_MEDIA_URL) serve these from
    there; this view keeps the embedded default working on its own.
    """
    suffix = "." + path.rsplit(".", 1)[-1].lower() if "." in path else ""
    content_type = SERVED_MEDIA_TYPES.get(suffix)
    if content_type is None:
        raise Http404("Not a served file type.")
    try:
        safe_join(str(settings.MEDIA_ROOT), path)
        handle = default_storage.open(path, "rb")
    except (FileNotFoundError, ValueError, PermissionError):
        raise Http404("No such file.") from None
    response = FileResponse(handle, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
