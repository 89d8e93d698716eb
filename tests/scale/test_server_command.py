"""The production HTTP server command the scale-out tests and bench/scale_out.py start:
the Makefile's `serve-prod` line by default, or the SOGOMS_SERVER_COMMAND template."""

from __future__ import annotations

from pathlib import Path

from tests.scale.processes import BIN, server_command


def test_the_default_is_the_serve_prod_line_with_the_workers_host_and_port_given():
    command = server_command(3, 45678, "10.0.0.1")
    line = " ".join(command)
    assert Path(command[0]).parent == BIN and Path(command[0]).exists(), command
    assert "3" in command and "45678" in line and "10.0.0.1" in line, command
    assert "$(" not in line and "{" not in line, command


def test_a_template_in_the_environment_replaces_the_makefile_line(monkeypatch):
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
