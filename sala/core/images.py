"""Open images from untrusted sources safely and re-encode them without their metadata."""

import io
import warnings
from typing import IO

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

#: The only formats Pillow is allowed to decode; every other decoder stays unused.
ALLOWED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")


class ImageRejected(ValueError):
    """The file is not an image Sala accepts; the message says why, for the member."""


def open_untrusted_image(data: IO[bytes], *, max_bytes: int, max_pixels: int) -> Image.Image:
    """Return the decoded image in `data`, or raise ImageRejected saying why not.

    The size in bytes and the size in pixels (read from the header) are both checked
    before anything is decoded, so a small file that expands into gigabytes of pixels
    (an image bomb) is refused without being expanded.
    """
    data.seek(0, io.SEEK_END)
    size = data.tell()
    data.seek(0)
    if size == 0:
        raise ImageRejected(_("The file is empty."))
    if size > max_bytes:
        # Only the limit is named: rounded to one decimal, a file just over it would
        # read as its own size ("5.0 MB; the limit is 5.0 MB").
        raise ImageRejected(
            _("The file is too large: the limit is %(limit)s.")
            % {"limit": filesizeformat(max_bytes)}
        )
    megapixels = f"{max_pixels / 1_000_000:g}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(data, formats=ALLOWED_FORMATS)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        # Pillow's own bomb check fires while the header is read, before the size is at
        # hand, so only the limit can be named.
        raise ImageRejected(
            _("The image is too large: the limit is %(megapixels)s megapixels.")
            % {"megapixels": megapixels}
        ) from None
    except UnidentifiedImageError:
        raise ImageRejected(_("This file is not a JPEG, PNG, GIF or WebP image.")) from None
    if image.width * image.height > max_pixels:
        raise ImageRejected(
            _(
                "The image is too large: %(width)s by %(height)s pixels;"
                " the limit is %(megapixels)s megapixels."
            )
            % {"width": image.width, "height": image.height, "megapixels": megapixels}
        )
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ImageRejected(_("The image is damaged and can't be read.")) from None
    return image


def encode_square_webp(image: Image.Image, *, side: int) -> bytes:
    """Return `image` cropped to a centred square of `side` pixels, as WebP, without metadata.

    Camera rotation (EXIF orientation) is applied first, then dropped with the rest of
    the metadata: a new image is written from the pixels alone.
    """
    image = ImageOps.exif_transpose(image)
    image = image.convert("RGBA" if image.mode in {"RGBA", "LA", "P"} else "RGB")
    square = ImageOps.fit(image, (side, side), method=Image.Resampling.LANCZOS)
    output = io.BytesIO()
    square.save(output, format="WEBP", quality=85, method=4)
    return output.getvalue()
