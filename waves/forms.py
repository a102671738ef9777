"""The organiser's wave form and the supporter's pledge and opt-in forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError

from campaign.forms import MultiCheckboxField
from proof import ProofField
from recipients.forms import MultiFilterField
from waves.models import PLEDGE_NETWORKS
from waves.services import DEFAULT_CAP, MAX_CAP

DATETIME = "%Y-%m-%dT%H:%M"


class WaveForm(FlaskForm):
    title = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    opens_at = DateTimeLocalField(_l("Opens"), validators=[DataRequired(_l("When does it open?"))], format=DATETIME)
    closes_at = DateTimeLocalField(_l("Closes"), validators=[DataRequired(_l("When does it close?"))], format=DATETIME)
    messages = MultiCheckboxField(
        _l("Messages"), coerce=int, validators=[DataRequired(_l("Choose at least one message."))]
    )
    networks = MultiCheckboxField(_l("Networks"), validators=[DataRequired(_l("Choose at least one network."))])
    role = MultiFilterField(_l("Targets: role"), choices=[], blank=_l("Every role"))
    group_name = MultiFilterField(_l("Targets: group"), choices=[], blank=_l("Every group"))
    department = MultiFilterField(_l("Targets: department"), choices=[], blank=_l("Every department"))
    cap_per_hour = IntegerField(
        _l("Cap per target per hour"),
        default=DEFAULT_CAP,
        description=_l("Messages a target may receive in an hour, counting every campaign. 30 is a courteous pace."),
        validators=[
            InputRequired(_l("Give a cap of at least 1.")),
            NumberRange(min=1, max=MAX_CAP, message=_l("Between 1 and %(max)s.", max=MAX_CAP)),
        ],
    )
    reminder_text = TextAreaField(
        _l("The reminder"),
        description=_l("What subscribers read in the e-mail when the wave opens (their targets and link follow)."),
        validators=[DataRequired(_l("Write the reminder's text.")), Length(max=3000)],
    )

    def validate_closes_at(self, field: DateTimeLocalField) -> None:
        if field.data and self.opens_at.data and field.data <= self.opens_at.data:
            raise ValidationError(_l("The wave must close after it opens."))


class PledgeForm(FlaskForm):
    network = SelectField(
        _l("Network"), choices=[(name, name.title()) for name in PLEDGE_NETWORKS], validate_choice=False
    )
    recipient_id = HiddenField(validators=[DataRequired()])
    variant_id = HiddenField()
    text = TextAreaField(_l("Your post"), validators=[DataRequired(_l("The text is empty.")), Length(max=5000)])
    altcha = ProofField()

    def validate_network(self, field: SelectField) -> None:
        if field.data not in PLEDGE_NETWORKS:
            raise ValidationError(_l("Pledged posts go out on Bluesky and Mastodon only, never on X."))
