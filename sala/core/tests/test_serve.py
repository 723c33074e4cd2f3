"""`sala serve`: production server process behaviour."""

import os
import signal
import threading
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT, SmtpSink, server_environment, start_server


@pytest.mark.django_db(transaction=True)
def test_stopping_the_server_lets_an_in_flight_request_finish(
    smtp_sink: SmtpSink, collected_static: Path
) -> None:
    env = server_environment(smtp_sink.port, collected_static)
    env["DJANGO_SETTINGS_MODULE"] = "tests.serving_settings"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    url, process = start_server(env)
    answers: list[tuple[int, bytes]] = []

    def fetch_slow_page() -> None:
        with urllib.request.urlopen(url + "/slow/", timeout=20) as response:
            answers.append((response.status, response.read()))

    reader = threading.Thread(target=fetch_slow_page)
    reader.start()
    threading.Event().wait(0.7)  # the request is now inside the view
    process.send_signal(signal.SIGTERM)
    reader.join(timeout=20)
    process.wait(timeout=30)

    assert answers == [(200, b"finished")]
    assert process.returncode == 0
