"""The storage of collected static files: hashed names, compressed copies, JS imports."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # WhiteNoise ships no types; its storage is Django's manifest storage that also
    # writes gzip/brotli copies, so it is checked as that.
    from django.contrib.staticfiles.storage import (
        ManifestStaticFilesStorage as CompressedManifestStaticFilesStorage,
    )
else:
    from whitenoise.storage import CompressedManifestStaticFilesStorage


class HashedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Name each collected file by its content and keep gzip/brotli copies (WhiteNoise).

    Rewrite the `import ... from "./x.js"` of JavaScript modules to the hashed names too
    (Django leaves them alone by default), so live.js and forum_live.js load the
    live_notice.js they were collected with: the unhashed names are not served
    (WHITENOISE_KEEP_ONLY_HASHED_FILES), and a hashed name cached for a year must not
    import a file that changed since.
    """

    support_js_module_import_aggregation = True
