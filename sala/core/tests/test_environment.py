"""Configuration read from the environment, and the production checks it must pass."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from conftest import child_environment
from sala.core import environment


def run_sala(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sala", *args],
        env={k: v for k, v in child_environment(**env).items() if k != "SECRET_KEY"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_mode_passes_check_deploy_without_a_single_warning(tmp_path: Path) -> None:
    result = run_sala(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            "SALA_DATA_DIR": str(tmp_path),
            "ALLOWED_HOSTS": "forum.example.org",
            "SALA_DEBUG": "",
            "SALA_HTTPS": "",
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_secret_key_is_generated_once_into_the_data_folder_and_kept(tmp_path: Path) -> None:
    monkey_env = os.environ.pop("SECRET_KEY", None)
    try:
        first = environment.secret_key(tmp_path)
        second = environment.secret_key(tmp_path)
    finally:
        if monkey_env is not None:
            os.environ["SECRET_KEY"] = monkey_env
    assert first == second
    assert len(first) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_secret_key_from_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert environment.secret_key(tmp_path) == "from-the-environment"
    assert not (tmp_path / "secret_key").exists()


def test_email_url_becomes_an_smtp_mailer_with_credentials_and_tls() -> None:
    mailer = environment.mailer("smtp://mail%40example.org:s%3Dcret@smtp.example.org:587?tls=1")
    assert mailer["BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert mailer["OPTIONS"] | {"timeout": None} == {
        "host": "smtp.example.org",
        "port": 587,
        "username": "mail@example.org",
        "password": "s=cret",
        "use_ssl": False,
        "use_tls": True,
        "timeout": None,
    }


def test_email_url_console_prints_mail_decoded() -> None:
    assert environment.mailer("console:")["BACKEND"] == "sala.core.console_mail.EmailBackend"


def test_an_unknown_email_url_scheme_says_which_ones_work() -> None:
    with pytest.raises(ImproperlyConfigured, match="smtp://host:port"):
        environment.mailer("carrier-pigeon://coop")


def test_a_flag_that_is_not_a_boolean_is_refused_with_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SALA_DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="use 1 or 0"):
        environment.flag("SALA_DEBUG", False)


def test_development_mode_prints_mail_to_the_console(tmp_path: Path) -> None:
    code = "from django.conf import settings; print(settings.MAILERS['default']['BACKEND'])"
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env=child_environment(
            DJANGO_SETTINGS_MODULE="sala.settings",
            SALA_DATA_DIR=str(tmp_path),
            SALA_DEBUG="1",
            EMAIL_URL="",
        ),
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "sala.core.console_mail.EmailBackend"
