"""Proof of work instead of a third-party captcha (ALTCHA's protocol, with the `altcha` package).

The forms a bot would flood (subscribe, connect Mastodon, pledge) carry a hidden `altcha` field. The
page's script (`static/js/proof.js`) fetches a challenge from `/proof/challenge`, finds the number whose
SHA-256 with the salt is the challenge (WebCrypto, about a second on a phone), and puts the signed
solution in the field. We check the signature and the expiry, and that the solution is used once. No
cookie is needed and nothing leaves this site. Without JavaScript the page says that the form needs it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from altcha import ChallengeOptionsV1, create_challenge_v1, verify_solution_v1
from flask import Blueprint, current_app, jsonify
from flask_babel import gettext as _
from werkzeug.wrappers import Response
from wtforms import HiddenField, ValidationError
from wtforms.form import BaseForm

from extensions import limiter

CHALLENGE_LIFETIME = timedelta(minutes=20)
bp = Blueprint("proof", __name__, url_prefix="/proof")


def _key() -> bytes:
    return hashlib.sha256(f"{current_app.config['SECRET_KEY']}:altcha".encode()).digest()


def new_challenge() -> dict[str, object]:
    options = ChallengeOptionsV1(
        hmac_key=_key(),
        max_number=int(current_app.config["ALTCHA_MAX_NUMBER"]),
        expires=datetime.now(UTC) + CHALLENGE_LIFETIME,
    )
    return create_challenge_v1(options).to_dict()


def is_solved(payload: str) -> bool:
    """A valid, unexpired solution that was not used before (each is good for one form, once)."""
    if not current_app.config.get("ALTCHA_ENABLED", True):
        return True
    if not payload or len(payload) > 2000:
        return False
    try:
        ok, _error = verify_solution_v1(payload, _key(), check_expires=True)
    except (ValueError, TypeError, KeyError, AttributeError):
        return False
    if not ok:
        return False
    storage = limiter.storage
    used = storage.incr(
        f"altcha-used:{hashlib.sha256(payload.encode()).hexdigest()}", int(CHALLENGE_LIFETIME.total_seconds())
    )
    return used == 1


class ProofField(HiddenField):
    """The hidden field the page's script fills with the solved challenge."""

    def pre_validate(self, form: BaseForm) -> None:
        if not is_solved(self.data or ""):
            raise ValidationError(
                _("The check that you are not a robot did not finish. Wait a second and send the form again.")
            )


@bp.route("/challenge")
@limiter.limit("60 per minute")
def challenge() -> Response:
    response = jsonify(new_challenge())
    response.headers["Cache-Control"] = "no-store"
    return response
