"""Images members put into posts: checked, re-encoded without metadata, stored."""

from __future__ import annotations

import hashlib
import io

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from PIL import Image, ImageOps

from sala.accounts.models import User
from sala.core.images import open_untrusted_image
from sala.forums.models import Upload

#: Longest side of a stored post image, in pixels; larger images are scaled down.
MAX_SIDE = 2000


def store_post_image(*, owner: User, upload: UploadedFile[bytes]) -> Upload:
    """Check, re-encode and store an image for a post; return its record.

    Raise sala.core.images.ImageRejected (with a message for the member) for anything
    that is not an allowed, sane image. The stored file is a WebP written from the pixels
    alone: no EXIF, no GPS, no comments survive.
    """
    image = open_untrusted_image(
        upload,
        max_bytes=settings.SALA_UPLOAD_MAX_BYTES,
        max_pixels=settings.SALA_UPLOAD_MAX_PIXELS,
    )
    image = ImageOps.exif_transpose(image)
    image = image.convert("RGBA" if image.mode in {"RGBA", "LA", "P", "PA"} else "RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    encoded = io.BytesIO()
    image.save(encoded, format="WEBP", quality=85, method=4)
    data = encoded.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:24]
    now = timezone.now()
    name = default_storage.save(f"uploads/{now:%Y/%m}/{digest}.webp", ContentFile(data))
    return Upload.objects.create(
        owner=owner, file=name, width=image.width, height=image.height, created_at=now
    )


def figure_markdown(upload: Upload, caption: str) -> str:
    """Return the Markdown that shows `upload` as a figure with `caption`."""
    text = " ".join(caption.split()).replace('"', "'").replace("]", ")").replace("[", "(")
    if text:
        return f'![{text}]({upload.file.url} "{text}")'
    return f"![]({upload.file.url})"
