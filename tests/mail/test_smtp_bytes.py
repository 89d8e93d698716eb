"""The SMTP transport's message bytes are Django's and the stdlib's, byte for byte, only
made faster; and a multipart message's boundary is set before the generator runs."""

from __future__ import annotations

import email

import pytest
from django.core.mail import EmailMultiAlternatives

from mail.transports.smtp import as_bytes

LONG = "A subject that goes on and on, well past the seventy-eight characters of one line"
SUBJECTS = [
    "Hi Carol",
    LONG,
    "Grüße aus Köln",  # non-ASCII: an encoded word
    "two  spaces and\ta tab",
    " leading and trailing ",
    "x" * 120,  # one word longer than a line
    "semi; colons, and commas, " * 4,
    "",
]
NAMES = ["", "Carol", "Zoë Ünal", 'Quote "Me" Maybe', "Very Long Name " * 6]


def message(subject: str, name: str, html: bool) -> EmailMultiAlternatives:
    to = f"{name} <carol@example.com>" if name else "carol@example.com"
    mail = EmailMultiAlternatives(
        subject=subject,
        body="Hello,\n\nline two with ünïcödé\n.leading dot\n",
        from_email="Alpha News <news@alpha.test>",
        to=[to],
        headers={"Message-ID": "<sogoms.alpha.1.1700000000@alpha.test>", "X-Long": LONG * 2},
    )
    if html:
        mail.attach_alternative("<p>Hello <b>Carol</b></p>", "text/html")
    return mail


@pytest.mark.parametrize("html", [True, False])
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("subject", SUBJECTS)
def test_the_bytes_are_the_stdlib_ones(subject, name, html):
    mail = message(subject, name, html)
    ours = mail.message()
    fast = as_bytes(ours)
    theirs = mail.message()
    if html:  # the same boundary, so that only the generators differ
        theirs.set_boundary(ours.get_boundary())
    assert fast == theirs.as_bytes(linesep="\r\n")


def test_a_multipart_message_gets_a_fresh_random_boundary():
    first, second = (message("Hi", "Carol", True).message() for _ in range(2))
    as_bytes(first), as_bytes(second)
    assert first.get_boundary().startswith("=_sogoms_")
    assert first.get_boundary() != second.get_boundary()
    # short enough for the header to stay on one line (the generator's short cut)
    assert as_bytes(first).startswith(b'Content-Type: multipart/alternative; boundary="=_sogoms_')
    assert as_bytes(first).split(b"\r\n")[0].endswith(b'"')
    parsed = email.message_from_bytes(as_bytes(message("Hi", "Carol", True).message()))
    assert [part.get_content_type() for part in parsed.get_payload()] == ["text/plain", "text/html"]
