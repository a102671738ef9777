"""Values as the data sets write them, and what we store."""

from __future__ import annotations

import pytest

from channels import Network, normalise_handle
from recipients import normalise
from recipients.formats.mapped_csv import guess_mapping
from recipients.models import Gender


@pytest.mark.parametrize(
    ("network", "raw", "stored"),
    [
        (Network.X, "handle", "handle"),
        (Network.X, "@Handle_1", "Handle_1"),
        (Network.X, "https://twitter.com/AdamAfriyie", "AdamAfriyie"),
        (Network.X, "x.com/PDurand", "PDurand"),
        (Network.X, "https://mobile.twitter.com/#!/jo_doe?lang=fr", "jo_doe"),
        (Network.X, "@EricMartineau72\r", "EricMartineau72"),
        (Network.X, "  @spaced \t", "spaced"),
        (Network.BLUESKY, "name.bsky.social", "name.bsky.social"),
        (Network.BLUESKY, "@DanielleSimonnet.fr", "daniellesimonnet.fr"),
        (Network.BLUESKY, "https://bsky.app/profile/eva-sas.fr", "eva-sas.fr"),
        (Network.MASTODON, "user@piaille.fr", "user@piaille.fr"),
        (Network.MASTODON, "@CongresswomanNorton@Mastodon.social", "CongresswomanNorton@mastodon.social"),
        (Network.MASTODON, "https://mamot.fr/@Ebothorel", "Ebothorel@mamot.fr"),
        (Network.EMAIL, " Alain.David@Assemblee-Nationale.FR ", "Alain.David@assemblee-nationale.fr"),
    ],
)
def test_handles_in_every_form_the_data_uses(network: Network, raw: str, stored: str) -> None:
    assert normalise_handle(network, raw) == stored


@pytest.mark.parametrize(
    ("network", "raw"),
    [
        (Network.X, "a handle with spaces"),
        (Network.X, "sixteen_chars_xx"),
        (Network.BLUESKY, "nodot"),
        (Network.MASTODON, "@alone"),
        (Network.MASTODON, "user@not a host"),
        (Network.EMAIL, "nope"),
    ],
)
def test_invalid_handles_are_refused(network: Network, raw: str) -> None:
    with pytest.raises(ValueError, match=network.label if network is not Network.EMAIL else "e-mail"):
        normalise_handle(network, raw)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("1", "01"),
        ("01", "01"),
        ("2a", "2A"),
        ("2B", "2B"),
        ("971", "971"),
        ("999", "099"),
        ("099", "099"),
        ("ZZ", "099"),
        ("ZA", "971"),
        ("ZN", "988"),
        (" 75 ", "75"),
    ],
)
def test_department_codes(raw: str, code: str) -> None:
    assert normalise.department(raw) == code


@pytest.mark.parametrize("raw", ["20", "96", "123", "2C", "ZQ", ""])
def test_unknown_department_codes_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        normalise.department(raw)


@pytest.mark.parametrize(
    ("raw", "code"),
    [("0104", "0104"), ("2a01", "2A01"), ("ZA01", "97101"), ("ZX01", "97701"), ("ZP03", "98703")],
)
def test_postcode_map_codes_become_the_deputies_codes(raw: str, code: str) -> None:
    assert normalise.map_constituency_code(raw) == code


def test_constituency_numbers_and_codes() -> None:
    assert [normalise.constituency_number(v) for v in (1, "01", "1re", "3e circonscription", " 12 ")] == [
        1,
        1,
        1,
        3,
        12,
    ]
    assert normalise.constituency_code("971", 1) == "97101"
    with pytest.raises(ValueError):
        normalise.constituency_number("0")


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("DUPONT", "Dupont"),
        ("DE LA FONTAINE", "De la Fontaine"),
        ("PANNIER-RUNACHER", "Pannier-Runacher"),
        ("  Jean   Paul ", "Jean Paul"),
        ("d'ARTAGNAN", "d'ARTAGNAN"),
        ("Le Coq", "Le Coq"),
        ("O", "O"),
    ],
)
def test_names(raw: str, name: str) -> None:
    assert normalise.person_name(raw) == name


def test_genders_and_ids() -> None:
    assert [normalise.gender(v) for v in ("F", "Mme", "femme", "M.", "H", "male", "")] == [
        Gender.FEMALE,
        Gender.FEMALE,
        Gender.FEMALE,
        Gender.MALE,
        Gender.MALE,
        Gender.MALE,
        None,
    ]
    with pytest.raises(ValueError, match="unknown gender"):
        normalise.gender("x")
    assert normalise.an_id("642847") == "PA642847" and normalise.an_id(" pa1008 ") == "PA1008"
    assert normalise.slug("Élisabeth Borne") == "elisabeth-borne"
    assert normalise.clean_text("a\u0000b\r\nc") == "ab c"


def test_a_first_guess_at_a_mapping() -> None:
    header = ["Identifiant", "Nom", "Prénom", "Compte Twitter", "Courriel", "Groupe politique"]
    assert guess_mapping(header) == {
        "Identifiant": "external_id",
        "Nom": "last_name",
        "Prénom": "first_name",
        "Compte Twitter": "x",
        "Courriel": "email",
        "Groupe politique": "group",
    }
