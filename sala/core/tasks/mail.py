"""Mail sent from a background task: no page waits on the mail server, and a send that
fails (the server is down, refuses for a while) is tried again."""

from typing import Any

from django.core.mail import EmailMessage, EmailMultiAlternatives

from sala.core.tasks import background_task


def enqueue_email(message: EmailMessage) -> None:
    """Send `message` from a background task, after the current transaction commits.

    Refuse a message with attachments: a task's arguments are JSON, and no mail of
    Sala's has any.
    """
    if message.attachments:
        raise ValueError("Mail sent through a task cannot have attachments.")
    alternatives = getattr(message, "alternatives", [])
    send_email.enqueue(
        {
            "subject": message.subject,
            "body": message.body,
            "content_subtype": message.content_subtype,
            "from_email": message.from_email,
            "to": message.to,
            "cc": message.cc,
            "bcc": message.bcc,
            "reply_to": message.reply_to,
            "headers": message.extra_headers,
            "alternatives": [[a.content, a.mimetype] for a in alternatives],
        }
    )


# Five attempts over about eight minutes ride out a mail server's restart or a greylist.
@background_task(max_attempts=5, retry_delay=30, priority=10)
def send_email(message: dict[str, Any]) -> None:
    """Send a message that `enqueue_email` stored, through the default mailer."""
    email = EmailMultiAlternatives(
        message["subject"],
        message["body"],
        message["from_email"],
        message["to"],
        cc=message["cc"],
        bcc=message["bcc"],
        reply_to=message["reply_to"],
        headers=message["headers"],
        alternatives=[(content, mimetype) for content, mimetype in message["alternatives"]],
    )
    email.content_subtype = message["content_subtype"]
    email.send()
