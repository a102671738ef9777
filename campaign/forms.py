from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    FieldList,
    SelectField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import URL, DataRequired, Length, Optional, Regexp, ValidationError

from channels import Network
from config import LANGUAGES
from i18n import CachedCatalogueMeta
from proof import ProofField
from recipients.forms import ConfirmForm, MultiCheckboxField

__all__ = ["CampaignForm", "ConfirmForm", "MessageForm", "MultiCheckboxField"]

LANGUAGE_NAMES = {"fr": "Français", "en": "English"}


class CampaignForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    slug = StringField(
        _l("Address"),
        description=_l("The end of the campaign's address, /c/… Leave empty to make it from the title."),
        validators=[
            Optional(),
            Length(max=80),
            Regexp(r"^[a-z0-9]+(?:-[a-z0-9]+)*$", message=_l("Lower-case letters, digits and dashes only.")),
        ],
    )
    cause = TextAreaField(
        _l("The cause"),
        description=_l("A few paragraphs that supporters read first. Separate paragraphs with an empty line."),
        validators=[DataRequired(), Length(max=10000)],
    )
    language = SelectField(_l("Language"), choices=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES])
    hashtags = StringField(
        _l("Hashtags"),
        description=_l("Separated by spaces or commas, with or without #."),
        validators=[Length(max=300)],
    )
    link = URLField(
        _l("Link"),
        description=_l("The page supporters' messages point to; {link} in a message."),
        validators=[Optional(), URL(require_tld=True, message=_l("Enter a full address, https://…")), Length(max=500)],
    )
    networks = MultiCheckboxField(
        _l("Networks"),
        choices=[(network.value, network.label) for network in Network],
        validators=[DataRequired(_l("Choose at least one network."))],
    )
    recipient_list = SelectField(
        _l("Targets"),
        choices=[],
        validate_choice=False,
        description=_l("A list of your targets. Or choose filters (role, group, department) on the next page."),
    )
    starts_at = DateTimeLocalField(_l("Starts"), validators=[Optional()], format="%Y-%m-%dT%H:%M")
    ends_at = DateTimeLocalField(_l("Ends"), validators=[Optional()], format="%Y-%m-%dT%H:%M")

    def validate_link(self, field: URLField) -> None:
        if field.data and not field.data.lower().startswith(("https://", "http://")):
            raise ValidationError(_l("Enter a full address, https://…"))

    def validate_ends_at(self, field: DateTimeLocalField) -> None:
        if field.data and self.starts_at.data and field.data <= self.starts_at.data:
            raise ValidationError(_l("The end must come after the start."))


class MessageForm(FlaskForm):
    label = StringField(
        _l("Name"), description=_l("For you: supporters do not see it."), validators=[DataRequired(), Length(max=200)]
    )
    variants = FieldList(TextAreaField(validators=[Length(max=5000)]), min_entries=1)
    # A variant's own text on one network, where it should differ from its shared text (aligned with variants).
    texts_x = FieldList(TextAreaField(validators=[Length(max=5000)]))
    texts_bluesky = FieldList(TextAreaField(validators=[Length(max=5000)]))
    texts_mastodon = FieldList(TextAreaField(validators=[Length(max=5000)]))
    email_subject = StringField(_l("Subject"), validators=[Length(max=300)])
    email_body = TextAreaField(
        _l("Letter"),
        description=_l(
            "What the e-mail button sends: a letter, with no network's limit. It is signed with the name and "
            "postcode the supporter gives on the page. Placeholders work here too."
        ),
        validators=[Length(max=20000)],
    )

    OWN_TEXTS = {Network.X: "texts_x", Network.BLUESKY: "texts_bluesky", Network.MASTODON: "texts_mastodon"}

    def own_texts(self) -> list[dict[str, str]]:
        """Each variant's own text per network, aligned with `variants`."""
        lists = {network: getattr(self, name).data for network, name in self.OWN_TEXTS.items()}
        return [
            {network.value: texts[index] for network, texts in lists.items() if index < len(texts) and texts[index]}
            for index in range(len(self.variants.data))
        ]


# Shown on the campaign page; `waves.views_public.subscribe` takes it.
class SubscribeForm(FlaskForm):
    class Meta(CachedCatalogueMeta):
        pass

    email = EmailField(_l("Your e-mail"), validators=[DataRequired(_l("Give your e-mail address.")), Length(max=320)])
    share = BooleanField(_l("The organisers may also write to me about this campaign (they will see my address)"))
    altcha = ProofField()
