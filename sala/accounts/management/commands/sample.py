"""`sala sample`: load the sample community so a newcomer sees a living forum."""

import secrets
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from sala.accounts import services
from sala.accounts.models import User

SAMPLE_MEMBERS = [
    ("marta", "Marta Quintero"),
    ("oskar.lind", "Oskar Lind"),
    ("priya_n", "Priya Natarajan"),
    ("tomasz", ""),
]


class Command(BaseCommand):
    help = "Load the sample community (idempotent) and print how to sign in as its admin."

    def handle(self, *args: Any, **options: Any) -> None:
        password_file = settings.DATA_DIR / "sample-admin-password"
        admin = User.objects.filter(username="admin").first()
        if admin is None:
            password = secrets.token_urlsafe(12)
            services.create_member(
                username="admin",
                email="admin@example.org",
                password=password,
                display_name="Sala Admin",
                is_staff=True,
                is_superuser=True,
            )
            password_file.write_text(password)
            password_file.chmod(0o600)
        for username, display_name in SAMPLE_MEMBERS:
            if not User.objects.filter(username=username).exists():
                services.create_member(
                    username=username,
                    email=f"{username.replace('.', '')}@example.org",
                    password=None,
                    display_name=display_name,
                )
        if password_file.exists():
            sign_in = f"admin / {password_file.read_text().strip()}"
        else:
            sign_in = "admin (its password was set before this data folder kept it)"
        self.stdout.write(self.style.SUCCESS(f"Sample community ready. Sign in as {sign_in}"))
