"""Sala's settings plus one deliberately slow page, for the graceful-shutdown test."""

from sala.settings import *  # noqa: F403

ROOT_URLCONF = "tests.serving_urls"
