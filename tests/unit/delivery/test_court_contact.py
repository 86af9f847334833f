"""The court's phone, address and office hours come from configuration (issue 14): shown to
recipients, with the sandbox's example values, and named by `songda config check` when unset."""

from __future__ import annotations

from pathlib import Path

from delivery.config import Settings, advisories, load_settings
from delivery.court_contact import SANDBOX_CONTACT, CourtContact
from delivery.infra.secret_box import new_key


def _settings(data_dir: Path, **values: str) -> Settings:
    """Production settings with the court contact ``values`` (``COURT_PHONE=…``)."""
    base = {
        "DATA_DIR": str(data_dir),
        "SECRET_KEY": "x" * 32,
        "SMTP_HOST": "smtp.court.example",
        "SMTP_SENDER": "songda@court.example",
        "COURT_NAME": "杭州市西湖区人民法院",
        "SECRETS_KEY": new_key(),
        "TSA_URL": "",
    }
    return load_settings({f"SONGDA_{k}": v for k, v in (base | values).items()})


def test_the_court_contact_is_read_as_written(tmp_path: Path) -> None:
    written = {
        "COURT_PHONE": " 0571-87000000 ",
        "COURT_ADDRESS": "杭州市西湖区文三路 1 号",
        "COURT_HOURS": "周一至周五 9:00–17:00",
    }
    settings = _settings(tmp_path, **written)
    assert settings.court_contact == CourtContact(
        "0571-87000000", "杭州市西湖区文三路 1 号", "周一至周五 9:00–17:00"
    )
    assert not [a for a in map(str, advisories(settings)) if "SONGDA_COURT_" in a]


def test_unset_contact_runs_but_config_check_names_what_is_missing(tmp_path: Path) -> None:
    settings = _settings(tmp_path, COURT_PHONE="0571-87000000")
    assert settings.court_contact == CourtContact(phone="0571-87000000")
    [advice] = [a for a in map(str, advisories(settings)) if "SONGDA_COURT_" in a]
    assert advice.startswith("SONGDA_COURT_ADDRESS, SONGDA_COURT_HOURS unset")
    assert "no court address or hours" in advice


def test_the_sandbox_has_example_values_marked_as_such(tmp_path: Path) -> None:
    settings = load_settings({"SONGDA_DATA_DIR": str(tmp_path)}, sandbox=True)
    assert settings.court_contact == SANDBOX_CONTACT
    for value in (SANDBOX_CONTACT.phone, SANDBOX_CONTACT.address, SANDBOX_CONTACT.hours):
        assert value is not None and "沙箱" in value
    assert not [a for a in map(str, advisories(settings)) if "SONGDA_COURT_" in a]


def test_the_phone_dials_as_digits() -> None:
    assert CourtContact(phone="0571-8700 0000").dial == "057187000000"
    assert CourtContact(phone="+86 571 8700 0000").dial == "+8657187000000"
    assert SANDBOX_CONTACT.dial == "000000000000"
    assert CourtContact(phone="见官网").dial is None
