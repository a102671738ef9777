"""Clean one value of target data: names, genders, French department and constituency codes, ids.

Pure functions, no database. Each raises ValueError with a short reason when a value cannot be
understood, so the importer can name the row and the field.
"""

from __future__ import annotations

import re
import unicodedata

from recipients.models import Gender

_SPACES = re.compile(r"\s+")
# Particles that stay lowercase inside a name written in capitals ("DE LA FONTAINE" → "de La Fontaine").
_PARTICLES = {"de", "du", "des", "la", "le", "d", "van", "von", "der", "den", "di", "da", "y"}

GENDERS = {
    "f": Gender.FEMALE,
    "female": Gender.FEMALE,
    "femme": Gender.FEMALE,
    "mme": Gender.FEMALE,
    "mme.": Gender.FEMALE,
    "madame": Gender.FEMALE,
    "mrs": Gender.FEMALE,
    "ms": Gender.FEMALE,
    "miss": Gender.FEMALE,
    "m": Gender.MALE,
    "m.": Gender.MALE,
    "h": Gender.MALE,
    "male": Gender.MALE,
    "homme": Gender.MALE,
    "monsieur": Gender.MALE,
    "mr": Gender.MALE,
}

# Overseas constituencies in the postcode map use INSEE's "Z" codes; the deputies carry department codes.
Z_CODES = {
    "ZA": "971",  # Guadeloupe
    "ZB": "972",  # Martinique
    "ZC": "973",  # Guyane
    "ZD": "974",  # La Réunion
    "ZS": "975",  # Saint-Pierre-et-Miquelon
    "ZM": "976",  # Mayotte
    "ZX": "977",  # Saint-Barthélemy et Saint-Martin
    "ZW": "986",  # Wallis-et-Futuna
    "ZP": "987",  # Polynésie française
    "ZN": "988",  # Nouvelle-Calédonie
}
ABROAD = "099"  # French residents abroad: Datan writes 099, NosDéputés 999, some files ZZ
_DEPARTMENT = re.compile(r"^(0[1-9]|1\d|2[1-9]|[3-8]\d|9[0-5]|2A|2B|97[1-8]|98[4-9]|099)$")  # no 20 since 1976
AN_ID = re.compile(r"^PA\d{1,8}$")


def clean_text(value: object) -> str:
    """A value as one line of text: NFC, no control characters, single spaces, trimmed."""
    if value is None or value is False:
        return ""
    text = _SPACES.sub(" ", unicodedata.normalize("NFC", str(value)))
    return "".join(c for c in text if unicodedata.category(c) != "Cc").strip()


def _capitalise(word: str, first: bool) -> str:
    if not first and word.lower() in _PARTICLES:
        return word.lower()
    return "-".join(part[:1].upper() + part[1:].lower() for part in word.split("-"))


def person_name(value: object) -> str:
    """A name cleaned of stray spaces; one written all in capitals is given its usual case."""
    text = clean_text(value)
    if len(text) > 1 and text.isupper():
        words = re.split(r"(\s+|')", text)
        text = "".join(_capitalise(w, i == 0) if w.strip() and w != "'" else w for i, w in enumerate(words))
    return text


def gender(value: object) -> Gender | None:
    """F, Mme, femme, female… or M, H, M., homme, male…; empty is None. Raises ValueError otherwise."""
    text = clean_text(value).lower()
    if not text:
        return None
    if text not in GENDERS:
        raise ValueError(f"unknown gender {text!r}")
    return GENDERS[text]


def department(value: object) -> str:
    """A French department code: 1 → 01, 2a → 2A, 971, 999/ZZ → 099, ZA → 971. Raises ValueError."""
    text = clean_text(value).upper()
    if text in Z_CODES:
        return Z_CODES[text]
    if text in {"999", "ZZ", "99"}:
        return ABROAD
    if text.isdigit() and len(text) == 1:
        text = "0" + text
    if not _DEPARTMENT.match(text):
        raise ValueError(f"not a French department code: {text!r}")
    return text


def constituency_number(value: object) -> int:
    """1, '01', '1re', '3e circonscription' → the number. Raises ValueError."""
    match = re.match(r"^0*(\d{1,3})", clean_text(value))
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"not a constituency number: {clean_text(value)!r}")
    return int(match.group(1))


def constituency_code(department_code: str, number: int) -> str:
    """The code deputies and the postcode map share: department then two digits (0103, 2A01, 97101)."""
    return f"{department_code}{number:02d}"


def map_constituency_code(value: str) -> str:
    """A postcode map's code in the deputies' form: ZA01 → 97101, 2a01 → 2A01, 0104 → 0104."""
    text = clean_text(value).upper()
    if len(text) < 3 or not text[-2:].isdigit():
        raise ValueError(f"not a constituency code: {text!r}")
    return constituency_code(department(text[:-2]), int(text[-2:]))


def an_id(value: object) -> str:
    """The Assemblée nationale id as PA + digits, whether the file writes 'PA1008' or '1008'."""
    text = clean_text(value).upper()
    if text.isdigit():
        text = "PA" + text
    if not AN_ID.match(text):
        raise ValueError(f"not an Assemblée nationale id: {text!r}")
    return text


def slug(value: str) -> str:
    """A stable id made from a name: 'Élisabeth Borne' → 'elisabeth-borne'."""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
