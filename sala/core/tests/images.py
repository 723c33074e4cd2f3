"""Image files for tests, including ones too large to build the ordinary way."""

import hashlib
import io
import struct
import zlib
from functools import cache
from typing import Any

from PIL import Image


def png_chunk(kind: bytes, body: bytes) -> bytes:
    """Return one PNG chunk: length, type, body and checksum."""
    crc = zlib.crc32(kind + body)
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


@cache
def blank_png(width: int, height: int) -> bytes:
    """Return a valid 1-bit PNG of `width` x `height` black pixels.

    Written row by row, so it is built without ever holding the pixels: 30000 x 30000 is
    a file of about 110 KB that would decode to 900 million pixels (an image bomb).
    """
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = bytes(1 + (width + 7) // 8)  # filter type 0, then the packed bits
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", pixels)
        + png_chunk(b"IEND", b"")
    )


def noise(size: int) -> bytes:
    """Return `size` bytes that look random and do not compress: the same every run."""
    return hashlib.shake_256(b"sala").digest(size)


def encoded(image: Image.Image, image_format: str, **options: Any) -> bytes:
    """Return `image` saved in `image_format` (Pillow's name: "PNG", "JPEG", "WEBP"...)."""
    output = io.BytesIO()
    image.save(output, format=image_format, **options)
    return output.getvalue()


@cache
def noisy_png() -> bytes:
    """Return a 96x96 PNG of noise, about 28 KB: an upload that does not compress away."""
    return encoded(Image.frombytes("RGB", (96, 96), noise(96 * 96 * 3)), "PNG")
