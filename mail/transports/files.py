"""The embedded default: each message written as a file under var/mail/<app>/."""

from __future__ import annotations

from pathlib import Path

from django.core.mail.backends.filebased import EmailBackend

from mail.transports.base import Transport


class FileTransport(Transport):
    kind = "file"

    def make_backend(self) -> EmailBackend:
        Path(self.spec.settings["file_path"]).mkdir(parents=True, exist_ok=True)
        return EmailBackend(file_path=self.spec.settings["file_path"], fail_silently=False)
