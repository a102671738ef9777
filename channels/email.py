"""E-mail: a `mailto:` link; no length rule but a sanity bound on what mail clients accept."""

from __future__ import annotations

import re
from urllib.parse import quote

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from channels import LengthCheck, Network

# Long mailto: URLs are cut or refused by some clients (Outlook stops near 2,000 characters).
SAFE_LENGTH = 1800


def check_length(text: str) -> LengthCheck:
    return LengthCheck(Network.EMAIL, len(text), SAFE_LENGTH, detail="mail clients cut longer links")


def compose_url(text: str, *, to: str, subject: str) -> str:
    return f"mailto:{quote(to, safe='@')}?subject={quote(subject, safe='')}&body={quote(text, safe='')}"


# The common case, checked without the full validator (which costs ~250 µs an address, most of an
# import's time): a dot-atom ASCII local part and a host name with an alphabetic top-level domain.
_PLAIN = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})$"
)
_RESERVED = {name.rsplit(".", 1)[-1] for name in SPECIAL_USE_DOMAIN_NAMES}


def normalise_handle(raw: str) -> str:
    """A valid address, lower-cased domain. Raises ValueError with the validator's reason."""
    value = raw.strip()
    plain = _PLAIN.match(value)
    if plain and len(value) <= 254 and plain.group(1).rsplit(".", 1)[-1].lower() not in _RESERVED:
        local, _at, domain = value.rpartition("@")
        return f"{local}@{domain.lower()}"
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not an e-mail address: {raw.strip()!r} ({exc})") from exc
