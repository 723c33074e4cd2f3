"""The development console mail backend prints what a mail program would show."""

import io

from django.core.mail import EmailMultiAlternatives

from sala.core.console_mail import EmailBackend


def test_console_prints_the_text_decoded_and_names_the_parts_it_leaves_out() -> None:
    console = io.StringIO()
    link = "https://forum.example.org/accounts/password/reset/key/" + "k" * 90 + "/"
    message = EmailMultiAlternatives(
        subject="Réinitialisez votre mot de passe",
        body=f"Bonjour Zoë, suivez ce lien = {link}\n",
        from_email="Sala <noreply@example.org>",
        to=["zoe@example.org"],
    )
    message.attach_alternative(f'<p><a href="{link}">Réinitialiser</a></p>', "text/html")
    message.attach("notes.txt", "deux lignes", "text/plain")

    assert EmailBackend(stream=console).send_messages([message]) == 1

    printed = console.getvalue().splitlines()
    assert "Subject: Réinitialisez votre mot de passe" in printed
    assert "To: zoe@example.org" in printed
    assert not [line for line in printed if line.lower().startswith("content-")]
    assert f"Bonjour Zoë, suivez ce lien = {link}" in printed
    assert printed[-3:] == ["[text/html not shown]", "[text/plain notes.txt not shown]", "-" * 79]
