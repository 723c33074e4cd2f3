"""Mail printed to the console in development (EMAIL_URL=console:), readable as sent."""

from django.core.mail.backends import console
from django.core.mail.message import EmailMessage

#: Headers about the encoding on the wire, which the decoded text printed no longer has.
WIRE_HEADERS = {"mime-version", "content-type", "content-transfer-encoding"}


class EmailBackend(console.EmailBackend):
    """Write each message's headers and its plain text, decoded, to the stream.

    Django's console backend writes the message as it would go over SMTP: text is
    quoted-printable, with `=` soft line breaks every 76 characters, so a verification
    link printed by `make run` is split across lines and cannot be copied. Here links
    stay whole; other parts (an HTML alternative, attachments) are named, not printed.
    """

    def write_message(self, message: EmailMessage) -> None:
        mime = message.message()
        lines = [
            f"{name}: {value}" for name, value in mime.items() if name.lower() not in WIRE_HEADERS
        ]
        text = mime.get_body(preferencelist=("plain",))
        lines.append("")
        if text is not None:
            lines.append(str(text.get_content()).rstrip("\n"))
        for part in mime.walk():
            if part is text or part.is_multipart():
                continue
            name = part.get_filename()
            lines.append(f"[{part.get_content_type()}{f' {name}' if name else ''} not shown]")
        lines.append("-" * 79)
        self.stream.write("\n".join(lines) + "\n")
