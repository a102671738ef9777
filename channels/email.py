"""E-mail: a `mailto:` link; no length rule but a sanity bound on what mail clients accept."""

from __future__ import annotations

from urllib.parse import quote

from email_validator import EmailNotValidError, validate_email

from channels import LengthCheck, Network

# Long mailto: URLs are cut or refused by some clients (Outlook stops near 2,000 characters).
SAFE_LENGTH = 1800


def check_length(text: str) -> LengthCheck:
    return LengthCheck(Network.EMAIL, len(text), SAFE_LENGTH, detail="mail clients cut longer links")


def compose_url(text: str, *, to: str, subject: str) -> str:
    return f"mailto:{quote(to, safe='@')}?subject={quote(subject, safe='')}&body={quote(text, safe='')}"


def normalise_handle(raw: str) -> str:
    """A valid address, lower-cased domain. Raises ValueError with the validator's reason."""
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not an e-mail address: {raw.strip()!r} ({exc})") from exc
