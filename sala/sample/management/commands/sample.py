"""`sala sample`: load the sample community so a newcomer sees a living forum."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from sala.sample.community import load_sample_community


class Command(BaseCommand):
    help = (
        "Load the sample community (once; running it again changes nothing) "
        "and print how to sign in as its admin."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        sign_in = load_sample_community(settings.DATA_DIR)
        self.stdout.write(self.style.SUCCESS(f"Sample community ready. Sign in as {sign_in}"))
