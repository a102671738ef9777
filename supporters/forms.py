from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from proof import ProofField


class MastodonServerForm(FlaskForm):
    instance = StringField(
        _l("Your Mastodon server"),
        validators=[DataRequired(), Length(max=253)],
        description=_l("The address after the second @ of yours: mastodon.social, piaille.fr…"),
    )
    next = HiddenField()
    altcha = ProofField()


class BlueskyForm(FlaskForm):
    handle = StringField(
        _l("Your Bluesky handle"),
        validators=[DataRequired(), Length(max=253)],
        description=_l("For example camille.bsky.social"),
    )
    app_password = PasswordField(
        _l("An app password"),
        validators=[DataRequired(), Length(max=64)],
        description=_l(
            "Create one in Bluesky: Settings → Privacy and security → App passwords. It looks like "
            "abcd-efgh-ijkl-mnop. We never keep it: it opens a session, which you can end here."
        ),
    )
    next = HiddenField()
