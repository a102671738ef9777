"""The organisation's targets: browse with filters, import a CSV."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from accounts.permissions import current_organisation_id, editor_required
from channels import Network
from extensions import db
from recipients.forms import FilterForm, ImportForm, TargetFilterForm, network_choices, role_choices
from recipients.importer import COLUMNS, import_targets
from recipients.models import TargetRole
from recipients.services import TargetFilter, distinct_values, organisation_lists, select_targets

bp = Blueprint("recipients", __name__, url_prefix="/admin/targets")

PAGE_SIZE = 50


def filter_from_args(organisation_id: int, form: FilterForm | TargetFilterForm) -> TargetFilter:
    """Fill the filter form's menus and read its values; unknown values filter nothing."""
    lists = organisation_lists(organisation_id)
    form.recipient_list.choices = [("", _("All targets"))] + [(str(lst.id), f"{lst.name} ({n})") for lst, n in lists]
    form.role.choices = role_choices()
    form.group.choices = [("", _("Any group"))] + [(g, g) for g in distinct_values(organisation_id, "group_name")]
    form.department.choices = [("", _("Any department"))] + [
        (d, d) for d in distinct_values(organisation_id, "department")
    ]
    form.network.choices = network_choices(_("Any network"))
    list_ids = {lst.id for lst, _n in lists}
    list_id = int(form.recipient_list.data) if (form.recipient_list.data or "").isdigit() else None
    return TargetFilter(
        recipient_list_id=list_id if list_id in list_ids else None,
        role=TargetRole(form.role.data) if form.role.data in TargetRole._value2member_map_ else None,
        group_name=form.group.data or "",
        department=form.department.data or "",
        network=Network(form.network.data) if form.network.data in Network._value2member_map_ else None,
    )


@bp.route("/")
@login_required
def index() -> str:
    organisation_id = current_organisation_id()
    form = FilterForm(request.args)
    target_filter = filter_from_args(organisation_id, form)
    page = db.paginate(
        select_targets(organisation_id, target_filter).order_by("last_name", "first_name"),
        per_page=PAGE_SIZE,
        error_out=False,
    )
    return render_template(
        "recipients/index.html",
        form=form,
        page=page,
        lists=organisation_lists(organisation_id),
        args={key: value for key, value in request.args.items() if key != "page"},
    )


@bp.route("/import", methods=["GET", "POST"])
@editor_required
def import_page() -> Response | str:
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        data = form.file.data.read()
        report = import_targets(
            current_organisation_id(),
            data,
            source=form.source.data or "csv",
            list_name=form.list_name.data or "",
            dry_run=bool(form.dry_run.data),
        )
        if report.ok and not form.dry_run.data:
            db.session.commit()
        else:
            db.session.rollback()
    return render_template("recipients/import.html", form=form, report=report, columns=COLUMNS)
