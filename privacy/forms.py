from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField
from wtforms.validators import DataRequired, Email, Length

from proof import ProofField


class RequestLinkForm(FlaskForm):
    email = EmailField(_l("Your e-mail address"), validators=[DataRequired(), Email(), Length(max=254)])
    altcha = ProofField()  # it sends an e-mail to the address typed: a proof of work, as subscribing


class EraseForm(FlaskForm):
    confirm = BooleanField(_l("I understand: my data is erased for good."), validators=[DataRequired()])


class StaffRequestForm(FlaskForm):
    email = EmailField(_l("The supporter's e-mail address"), validators=[DataRequired(), Email(), Length(max=254)])
