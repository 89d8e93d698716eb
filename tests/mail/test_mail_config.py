"""The mail config section: transports and templates checked when the config loads."""

from __future__ import annotations

import datetime
import decimal
import textwrap

from mail.config import load_mail
from tenants.config.loader import LoadOptions, LoadResult, load_config
from tests.tenants.test_config import Site


def load(site: Site) -> LoadResult:
    options = LoadOptions(config_dir=site.config, base_dir=site.base, var_dir=site.var, sections=(load_mail,))
    return load_config(options)


def messages(result: LoadResult) -> list[str]:
    return [str(problem) for problem in result.problems]


def site_with(tmp_path, extra: str = "", templates: dict | None = None) -> Site:
    site = Site(tmp_path)
    site.tenant("shop", extra)
    for name, text in (templates or {}).items():
        path = site.config / "emails" / "shop" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return site


def mail_of(site: Site):
    result = load(site)
    assert result.ok, result.problems
    return result.registry.get("shop").extensions["mail"]


def test_without_smtp_or_email_mail_goes_to_files_and_says_so(tmp_path):
    mail = mail_of(site_with(tmp_path))
    assert mail.transport.kind == "file"
    assert "no smtp: or email: block" in mail.describe()


def test_the_seed_smtp_keys_give_starttls_on_587_or_implicit_tls_on_465(tmp_path):
    site = site_with(
        tmp_path,
        "smtp:\n  host: mail.example.com\n  user: u\n  password_file: secrets/smtp\n"
        "  from: no-reply@example.com\n  from_name: Shop\n",
    )
    site.write_secret("secrets/smtp", "pw")
    transport = mail_of(site).transport
    assert (transport.settings["port"], transport.settings["use_tls"], transport.settings["use_ssl"]) == (
        587,
        True,
        False,
    )
    assert transport.settings["password"] == "pw"
    assert transport.from_email == "Shop <no-reply@example.com>"
    site.tenant("shop", "smtp:\n  host: mail.example.com\n  from: a@example.com\n  tls: true\n")
    transport = mail_of(site).transport
    assert (transport.settings["port"], transport.settings["use_tls"], transport.settings["use_ssl"]) == (
        465,
        False,
        True,
    )


def test_a_missing_smtp_password_file_is_a_problem(tmp_path):
    site = site_with(tmp_path, "smtp:\n  host: h\n  from: a@example.com\n  password_file: secrets/none\n")
    assert any(
        m.startswith("routes/shop.yaml: smtp.password_file: secret file") for m in messages(load(site))
    )


def test_smtp_and_email_together_are_refused(tmp_path):
    site = site_with(
        tmp_path, "smtp:\n  host: h\n  from: a@example.com\nemail:\n  provider: test\n  from: a@example.com\n"
    )
    assert "routes/shop.yaml: email: give smtp or email, not both" in messages(load(site))


def test_an_anymail_provider_takes_credentials_from_files(tmp_path):
    site = site_with(
        tmp_path,
        "email:\n  provider: mailgun\n  from: a@example.com\n  api_key_file: secrets/mg\n"
        "  options: {sender_domain: mg.example.com}\n",
    )
    site.write_secret("secrets/mg", "key-123")
    transport = mail_of(site).transport
    assert transport.kind == "anymail"
    assert dict(transport.settings["options"]) == {"sender_domain": "mg.example.com", "api_key": "key-123"}


def test_an_unknown_provider_or_a_literal_credential_is_refused(tmp_path):
    site = site_with(tmp_path, "email:\n  provider: carrier_pigeon\n  from: a@example.com\n")
    assert "routes/shop.yaml: email.provider: 'carrier_pigeon' is not a django-anymail provider" in messages(
        load(site)
    )
    site.tenant("shop", "email:\n  provider: mailgun\n  from: a@example.com\n  api_key: key-in-yaml\n")
    assert any("api_key" in m and "_file" in m for m in messages(load(site)))


def test_template_problems_name_the_file_and_the_part(tmp_path):
    site = site_with(
        tmp_path,
        templates={
            "broken.yaml": "subject: Hi\nbody: '{% if x %}never closed'\n",
            "empty.yaml": "subject: Hi\n",
            "nosubject.yaml": "body: text\n",
            "typo.yaml": "subject: Hi\nbody: b\nbodyhtml: x\n",
        },
    )
    found = messages(load(site))
    assert any(m.startswith("emails/shop/broken.yaml: body: template syntax:") for m in found)
    assert "emails/shop/empty.yaml: give body, body_html or both" in found
    assert "emails/shop/nosubject.yaml: subject: is required" in found
    assert any(m.startswith("emails/shop/typo.yaml: bodyhtml: unknown key") for m in found)


def test_valid_templates_are_loaded_by_file_name(tmp_path):
    mail = mail_of(
        site_with(tmp_path, templates={"hello.yaml": "subject: 'Hi {{.Name}}'\nbody: 'Hello {{ Name }}'\n"})
    )
    assert list(mail.templates) == ["hello"]
    assert mail.template("hello").render({"Name": "Ann"}).subject == "Hi Ann"


def test_values_render_as_the_sites_localized_formats_would_render_them(tmp_path):
    from django.template import Context

    source = "{{ n }} {{ f }} {{ d }} {{ day }} {{ at }} {{ yes }} {{ f|floatformat:2 }}"
    mail = mail_of(site_with(tmp_path, templates={"values.yaml": f"subject: s\nbody: '{source}'\n"}))
    values = {
        "n": 1234567,
        "f": -1234.5,
        "d": decimal.Decimal("1234.50"),
        "day": datetime.date(2026, 12, 6),
        "at": datetime.datetime(2026, 12, 6, 23, 5, tzinfo=datetime.UTC),
        "yes": True,
    }
    localized = mail.template("values").parts["body"].render(Context(values))

    assert mail.template("values").render(values).body == localized
    assert localized == "1234567 -1234.5 1234.50 Dec. 6, 2026 Dec. 6, 2026, 11:05 p.m. True -1234.50"
