from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from channels import Network, normalise_handle
from recipients.labels import role_label
from recipients.models import TargetRole


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class MultiFilterField(MultiCheckboxField):
    """A filter that takes several values, shown folded with the values chosen (`blank` when none)."""

    def __init__(self, *args: object, blank: object = "", **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.blank = blank

    def pre_validate(self, form: object) -> None:
        """Values that are no longer offered (a group gone from the data) filter nothing; not an error."""

    def summary(self) -> str:
        labels = dict(self.choices or [])
        chosen = [str(labels.get(value, value)).split(" · ")[0] for value in self.data or []]
        return ", ".join(chosen) if chosen else str(self.blank)


def role_choices(blank: str | None = None) -> list[tuple[str, str]]:
    return [("", blank or str(_l("Any role")))] + [(role.value, role_label(role)) for role in TargetRole]


def network_choices(blank: str) -> list[tuple[str, str]]:
    return [("", blank)] + [(network.value, network.label) for network in Network]


def activity_choices() -> list[tuple[str, str]]:
    return [("active", str(_l("Active"))), ("inactive", str(_l("Retired"))), ("all", str(_l("Active and retired")))]


class ImportForm(FlaskForm):
    file = FileField(_l("File"), validators=[FileRequired(_l("Choose a file."))])
    file_format = SelectField(_l("Format"), choices=[], default="auto")
    extra_file = FileField(
        _l("Second file (optional)"),
        description=_l("For the US congress-legislators roster: its social-media YAML, joined on the bioguide id."),
    )
    source = StringField(
        _l("Source name"),
        description=_l(
            "Targets are matched on this name and their id: importing a newer file of the same source updates "
            "them. Leave empty for the format's usual name."
        ),
        validators=[
            Optional(),
            Length(max=64),
            Regexp(r"^[\w.\-]+$", message=_l("Letters, digits, dots and dashes only.")),
        ],
    )
    list_name = StringField(_l("Add to the static list"), validators=[Optional(), Length(max=200)])
    retire = BooleanField(
        _l("Retire the targets of this source that the file no longer holds"),
        default=True,
        description=_l("They are kept, inactive, with their history. Files of handles never retire anyone."),
    )


class PostcodeForm(FlaskForm):
    file = FileField(_l("Postcode map (JSON)"), validators=[FileRequired(_l("Choose a file."))])
    keep = BooleanField(
        _l("Keep the postcodes the file does not hold"),
        description=_l("Without this, the file's map replaces today's: postcodes it does not hold are removed."),
    )


class ConfirmForm(FlaskForm):
    """A form with only the CSRF token: for buttons that change something."""


class _FilterFields:
    recipient_list = SelectField(_l("List"), choices=[], validate_choice=False)
    role = MultiFilterField(_l("Role"), choices=[], blank=_l("Any role"))
    chamber = SelectField(_l("Chamber"), choices=[], validate_choice=False)
    group = MultiFilterField(_l("Group"), choices=[], blank=_l("Any group"))
    department = MultiFilterField(_l("Department"), choices=[], blank=_l("Any department"))
    committee = SelectField(_l("Committee"), choices=[], validate_choice=False)
    network = SelectField(_l("Has an address on"), choices=[], validate_choice=False)


class FilterForm(_FilterFields, FlaskForm):
    activity = SelectField(_l("Status"), choices=[], validate_choice=False, default="active")

    class Meta:
        csrf = False  # a GET search form


class TargetFilterForm(_FilterFields, FlaskForm):
    """The same filters, saved on a campaign (a POST, so with CSRF)."""


class ListForm(_FilterFields, FlaskForm):
    """A list's name, and for a dynamic list its filters (the `recipient_list` field is unused)."""

    name = StringField(_l("Name"), validators=[DataRequired(_l("A list needs a name.")), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    is_dynamic = BooleanField(
        _l("Dynamic: the members are whoever passes the filters below, today"),
        description=_l("A static list keeps the members you add; a dynamic one follows every import."),
    )
    activity = SelectField(_l("Status"), choices=[], validate_choice=False, default="active")


class AddToListForm(FlaskForm):
    target_list = SelectField(_l("Add every target shown to the list"), choices=[], validate_choice=False)


class TargetForm(FlaskForm):
    salutation = StringField(
        _l("Salutation"),
        description=_l("Leave empty to use the usual one for the role, gender and language (shown above)."),
        validators=[Optional(), Length(max=200)],
    )
    is_active = BooleanField(_l("Active (offered to campaigns)"))
    handle_x = StringField("X", validators=[Optional(), Length(max=200)])
    handle_bluesky = StringField("Bluesky", validators=[Optional(), Length(max=300)])
    handle_mastodon = StringField("Mastodon", validators=[Optional(), Length(max=400)])
    email = StringField(_l("E-mail"), validators=[Optional(), Length(max=254)])

    HANDLES = {Network.X: "handle_x", Network.BLUESKY: "handle_bluesky", Network.MASTODON: "handle_mastodon"}

    def handles(self) -> dict[Network, str | None]:
        """The addresses typed, in their stored form (None: no account). Puts an error on a field it cannot read."""
        found: dict[Network, str | None] = {}
        fields = {**self.HANDLES, Network.EMAIL: "email"}
        for network, name in fields.items():
            field = getattr(self, name)
            text = " ".join((field.data or "").split())
            if not text:
                found[network] = None
                continue
            try:
                found[network] = normalise_handle(network, text)
            except ValueError:
                field.errors = [*field.errors, _l("Not a valid %(network)s address.", network=network.label)]
        return found
