"""The production HTTP server command the scale-out tests and bench/scale_out.py start:
sogoms_site.serving's by default, or the SOGOMS_SERVER_COMMAND template."""

from __future__ import annotations

from pathlib import Path

from sogoms_site.serving import http_server_args
from tests.scale.processes import BIN, server_command


def test_the_default_is_the_production_command_with_the_workers_host_and_port_given():
    command = server_command(3, 45678, "10.0.0.1")
    assert Path(command[0]) == BIN / "granian" and Path(command[0]).exists(), command
    assert command[1:] == http_server_args("10.0.0.1", 45678, 3)


def test_a_template_in_the_environment_replaces_the_default(monkeypatch):
    template = "{bin}/granian --interface wsgi sogoms_site.wsgi:application --workers {workers} --port {port}"
    monkeypatch.setenv("SOGOMS_SERVER_COMMAND", template)
    assert server_command(4, 8123) == [
        f"{BIN}/granian",
        "--interface",
        "wsgi",
        "sogoms_site.wsgi:application",
        "--workers",
        "4",
        "--port",
        "8123",
    ]
