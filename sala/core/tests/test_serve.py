"""`sala serve`: production server process behaviour."""

import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import (
    REDIS_TEST_URL,
    ROOT,
    SmtpSink,
    child_environment,
    free_port,
    server_environment,
    start_server,
    wait_for_http,
)
from sala.forums.tests.factories import make_topic


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


@pytest.mark.django_db(transaction=True)
def test_serve_runs_the_live_server_beside_the_pages_and_stops_both(
    smtp_sink: SmtpSink, collected_static: Path
) -> None:
    topic = make_topic()
    port, live_port = free_port(), free_port()
    env = {**server_environment(smtp_sink.port, collected_static), "REDIS_URL": REDIS_TEST_URL}
    url, process = start_server(env, "--live-port", str(live_port), "--grace", "2", port=port)
    live_url = f"http://127.0.0.1:{live_port}"
    try:
        wait_for_http(live_url + "/live/", timeout=30, process=process)
        with urllib.request.urlopen(url + topic.get_absolute_url(), timeout=10) as page:
            assert page.status == 200
        # The pages' workers have no stream to give ...
        with urllib.request.urlopen(f"{url}/live/t/{topic.pk}/", timeout=10) as quiet:
            assert quiet.status == 204
        # ... the live server beside them has.
        with urllib.request.urlopen(f"{live_url}/live/t/{topic.pk}/", timeout=10) as stream:
            assert stream.headers["Content-Type"].startswith("text/event-stream")
            assert stream.readline() == b"retry: 2000\n"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)

    assert process.returncode == 0
    for address in (url, live_url):
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(address + "/", timeout=2)


def test_a_live_server_beside_the_pages_without_redis_is_refused_with_what_to_do(
    collected_static: Path,
) -> None:
    env = child_environment(SALA_DATA_DIR=str(collected_static), SALA_DEBUG="0", REDIS_URL="")

    result = subprocess.run(
        [sys.executable, "-m", "sala", "serve", "--live-port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "needs REDIS_URL" in result.stderr
    assert "--interface asgi" in result.stderr


def test_a_port_already_served_is_refused_with_what_to_do(collected_static: Path) -> None:
    env = child_environment(SALA_DATA_DIR=str(collected_static), SALA_DEBUG="0", REDIS_URL="")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = subprocess.run(
            [sys.executable, "-m", "sala", "serve", "--port", str(port), "--workers", "1"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert result.returncode != 0
    assert f"Port {port} on 127.0.0.1 is already being served" in result.stderr
    assert "--port" in result.stderr
    assert "Serving" not in result.stdout


@pytest.mark.django_db(transaction=True)
def test_an_asgi_worker_serves_as_many_streams_at_once_as_max_connections_says(
    smtp_sink: SmtpSink, collected_static: Path
) -> None:
    topic = make_topic()
    env = server_environment(smtp_sink.port, collected_static)
    url, process = start_server(
        env, "--interface", "asgi", "--max-connections", "2", "--grace", "2"
    )
    stream_url = f"{url}/live/t/{topic.pk}/"
    try:
        with urllib.request.urlopen(stream_url, timeout=10) as first:
            assert first.readline() == b"retry: 2000\n"
            with urllib.request.urlopen(stream_url, timeout=10) as second:
                assert second.readline() == b"retry: 2000\n"
                # A third is accepted by the kernel but not served while two are open ...
                with pytest.raises(TimeoutError):
                    urllib.request.urlopen(stream_url, timeout=2)
        # ... and is once they closed.
        with urllib.request.urlopen(stream_url, timeout=10) as third:
            assert third.readline() == b"retry: 2000\n"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
