"""The real text of messages that carry one-time secrets, sealed while they wait.

The outbox row shows `[redacted]` where a secret was (see `mail.templates`); the message as
it must be sent is kept beside it encrypted (Fernet: AES-128-CBC with HMAC-SHA256), opened
only by the worker at send time and deleted once the message is sent or dead. The key is
`SOGOMS_OUTBOX_KEY` / `SOGOMS_OUTBOX_KEY_FILE` when set, else one derived from Django's
`SECRET_KEY`; changing it makes the messages still waiting unsendable (they go `dead`).
"""

from __future__ import annotations

import base64
import json

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from mail.templates import Rendered
from sogoms_site.env import env_secret

_INFO = b"sogoms mail outbox secrets v1"


class SealError(ValueError):
    """A sealed message that cannot be opened (another key, or damaged)."""


def _fernet() -> Fernet:
    # Read per use, not at import: a key file put in place later is picked up.
    material = env_secret("SOGOMS_OUTBOX_KEY") or settings.SECRET_KEY
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(material.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal_text(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode("ascii")


def open_text(sealed: str) -> str:
    try:
        return _fernet().decrypt(sealed.encode("ascii")).decode()
    except (InvalidToken, UnicodeError, ValueError):
        raise SealError("the sealed text cannot be opened (the outbox key changed?)") from None


def seal(rendered: Rendered) -> str:
    parts = {"subject": rendered.subject, "body": rendered.body, "body_html": rendered.body_html}
    return _fernet().encrypt(json.dumps(parts).encode()).decode("ascii")


def unseal(sealed: str) -> Rendered:
    try:
        parts = json.loads(_fernet().decrypt(sealed.encode("ascii")))
    except (InvalidToken, UnicodeError, ValueError):
        raise SealError("the sealed message cannot be opened (the outbox key changed?)") from None
    return Rendered(subject=parts["subject"], body=parts["body"], body_html=parts["body_html"])
