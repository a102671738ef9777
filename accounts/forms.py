from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, NumberRange, Optional

from accounts.models import Role
from proof import ProofField

ROLE_CHOICES = [
    (Role.ADMIN.value, _l("Admin: staff, settings, everything")),
    (Role.ORGANISER.value, _l("Organiser: builds and runs campaigns")),
    (Role.ANALYST.value, _l("Analyst: reads the figures")),
]


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    remember = BooleanField(_l("Keep me signed in"))


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(), Length(max=20)],
        description=_l("The six digits your authenticator app shows, or one of your recovery codes."),
    )


class ForgotForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    altcha = ProofField()  # it sends an e-mail: a proof of work, as every form that does


class NewPasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(max=200)],
        description=_l("At least 10 characters, and not one of the most common passwords."),
    )
    confirm = PasswordField(
        _l("The same again"),
        validators=[DataRequired(), EqualTo("password", message=_l("The two passwords differ."))],
    )


class AcceptForm(NewPasswordForm):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=200)])


class ChangePasswordForm(NewPasswordForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])


class EnrolForm(FlaskForm):
    code = StringField(_l("Code from the app"), validators=[DataRequired(), Length(max=20)])


class ConfirmPasswordForm(FlaskForm):
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=200)])


class InviteForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, default=Role.ORGANISER.value)


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)


class SettingsForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    sender_name = StringField(
        _l("Sender name of its e-mails"),
        validators=[Optional(), Length(max=200)],
        description=_l("Shown as the sender of reminders and confirmations; the organisation's name if empty."),
    )
    reply_to = EmailField(
        _l("Reply-to address"),
        validators=[Optional(), Email(), Length(max=254)],
        description=_l("Where answers to its e-mails go."),
    )
    language = SelectField(_l("Default language"), choices=[("fr", "Français"), ("en", "English")])
    timezone = StringField(
        _l("Time zone"),
        validators=[Optional(), Length(max=64)],
        description=_l("As in the tz database: Europe/Paris, America/Montreal… Empty: the instance's clock."),
    )
    privacy_contact = EmailField(
        _l("Privacy contact"),
        validators=[DataRequired(), Email(), Length(max=254)],
        description=_l("Shown to supporters on the privacy page: who answers their requests."),
    )
    requires_two_factor = BooleanField(_l("Every member must use two-step sign-in"))
    retention_supporter_months = IntegerField(
        _l("Supporters' data, months after their last action once the campaign has ended"),
        validators=[DataRequired(), NumberRange(min=1, max=120)],
    )
    retention_pending_days = IntegerField(
        _l("Unconfirmed subscriptions, days"), validators=[DataRequired(), NumberRange(min=1, max=365)]
    )
    retention_bounced_months = IntegerField(
        _l("Bounced addresses, months"), validators=[DataRequired(), NumberRange(min=1, max=60)]
    )
    retention_import_days = IntegerField(
        _l("Imported files, days"), validators=[DataRequired(), NumberRange(min=1, max=365)]
    )
    retention_log_months = IntegerField(
        _l("Audit log and request records, months"), validators=[DataRequired(), NumberRange(min=1, max=60)]
    )


class OrganisationForm(FlaskForm):
    name = StringField(_l("Organisation's name"), validators=[DataRequired(), Length(max=200)])
    admin_email = EmailField(
        _l("Its first admin's e-mail"),
        validators=[DataRequired(), Email(), Length(max=254)],
        description=_l("They receive an invitation to choose their password."),
    )


ROLE_NAMES = {
    Role.ADMIN: _l("admin"),
    Role.ORGANISER: _l("organiser"),
    Role.ANALYST: _l("analyst"),
}
