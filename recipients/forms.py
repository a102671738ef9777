from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Length, Optional, Regexp

from channels import Network
from recipients.labels import role_label
from recipients.models import TargetRole


def role_choices() -> list[tuple[str, str]]:
    return [("", str(_l("Any role")))] + [(role.value, role_label(role)) for role in TargetRole]


def network_choices(blank: str) -> list[tuple[str, str]]:
    return [("", blank)] + [(network.value, network.label) for network in Network]


class ImportForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a CSV file."))])
    source = StringField(
        _l("Source name"),
        default="csv",
        description=_l("Targets are matched on this name and their external id: re-importing updates them."),
        validators=[Length(min=1, max=64), Regexp(r"^[\w.\-]+$", message=_l("Letters, digits, dots and dashes only."))],
    )
    list_name = StringField(_l("Add to the list"), validators=[Optional(), Length(max=200)])
    dry_run = BooleanField(_l("Check only, import nothing"))


class _FilterFields:
    recipient_list = SelectField(_l("List"), choices=[], validate_choice=False)
    role = SelectField(_l("Role"), choices=[], validate_choice=False)
    group = SelectField(_l("Group"), choices=[], validate_choice=False)
    department = SelectField(_l("Department"), choices=[], validate_choice=False)
    network = SelectField(_l("Has an address on"), choices=[], validate_choice=False)


class FilterForm(_FilterFields, FlaskForm):
    class Meta:
        csrf = False  # a GET search form


class TargetFilterForm(_FilterFields, FlaskForm):
    """The same filters, saved on a campaign (a POST, so with CSRF)."""
