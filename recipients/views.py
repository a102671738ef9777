"""The organisation's targets: browse with filters, edit one, load the postcode map."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from accounts.permissions import current_organisation_id, editor_required
from channels import Network
from database import page_number, parse_id, utcnow
from extensions import db
from recipients.coverage import constituency_coverage
from recipients.forms import (
    AddToListForm,
    ConfirmForm,
    FilterForm,
    ListForm,
    PostcodeForm,
    TargetFilterForm,
    TargetForm,
    activity_choices,
    network_choices,
    role_choices,
)
from recipients.lists import ListError, add_filtered, find_list
from recipients.models import ImportRun, ImportState, Recipient, TargetRole
from recipients.places import department_label, group_label
from recipients.postcodes import POSTCODE_FORMAT, PostcodeReport, import_postcodes
from recipients.salutations import salutation
from recipients.services import (
    ACTIVITY,
    TargetFilter,
    distinct_committees,
    distinct_values,
    edit_target,
    lists_of,
    organisation_lists,
    reach,
    select_targets,
)

bp = Blueprint("recipients", __name__, url_prefix="/admin/targets")

PAGE_SIZE = 50


def filter_from_args(organisation_id: int, form: FilterForm | TargetFilterForm | ListForm) -> TargetFilter:
    """Fill the filter form's menus and read its values; unknown values filter nothing."""
    lists = organisation_lists(organisation_id)
    form.recipient_list.choices = [("", _("All targets"))] + [(str(lst.id), f"{lst.name} ({n})") for lst, n in lists]
    form.role.choices = role_choices()[1:]

    def menu(blank: str, values: list[str]) -> list[tuple[str, str]]:
        return [("", blank)] + [(v, v) for v in values]

    form.chamber.choices = menu(_("Any chamber"), distinct_values(organisation_id, "chamber"))
    form.group.choices = [(v, group_label(v)) for v in distinct_values(organisation_id, "group_name")]
    form.department.choices = [(v, department_label(v)) for v in distinct_values(organisation_id, "department")]
    form.committee.choices = menu(_("Any committee"), distinct_committees(organisation_id))
    form.network.choices = network_choices(_("Any network"))
    activity = "active"
    if isinstance(form, FilterForm | ListForm):
        form.activity.choices = activity_choices()
        activity = form.activity.data if form.activity.data in ACTIVITY else "active"
    list_ids = {lst.id for lst, _n in lists}
    list_id = parse_id(form.recipient_list.data)
    return TargetFilter(
        recipient_list_id=list_id if list_id in list_ids else None,
        roles=tuple(TargetRole(v) for v in form.role.data or [] if v in TargetRole._value2member_map_),
        chamber=form.chamber.data or "",
        groups=tuple(dict.fromkeys(v for v in form.group.data or [] if v)),
        departments=tuple(dict.fromkeys(v for v in form.department.data or [] if v)),
        committee=form.committee.data or "",
        network=Network(form.network.data) if form.network.data in Network._value2member_map_ else None,
        activity=activity,
    )


def fill_filter_form(form: FilterForm | TargetFilterForm | ListForm, target_filter: TargetFilter) -> None:
    """Show a stored filter in the form (before `filter_from_args` fills the menus)."""
    form.recipient_list.data = str(target_filter.recipient_list_id or "")
    form.role.data = [role.value for role in target_filter.roles]
    form.chamber.data = target_filter.chamber
    form.group.data = list(target_filter.groups)
    form.department.data = list(target_filter.departments)
    form.committee.data = target_filter.committee
    form.network.data = target_filter.network.value if target_filter.network else ""
    if isinstance(form, FilterForm | ListForm):
        form.activity.data = target_filter.activity


@bp.route("/")
@login_required
def index() -> str:
    organisation_id = current_organisation_id()
    form = FilterForm(request.args)
    target_filter = filter_from_args(organisation_id, form)
    page = db.paginate(
        select_targets(organisation_id, target_filter).order_by(Recipient.last_name, Recipient.first_name),
        page=page_number(request.args.get("page")),
        per_page=PAGE_SIZE,
        error_out=False,
    )
    add_form = AddToListForm()
    static_lists = [lst for lst in lists_of(organisation_id) if not lst.is_dynamic]
    add_form.target_list.choices = [(str(lst.id), lst.name) for lst in static_lists]
    return render_template(
        "recipients/index.html",
        form=form,
        page=page,
        reach=reach(organisation_id, target_filter),
        add_form=add_form,
        args={key: values for key, values in request.args.lists() if key != "page"},
    )


@bp.route("/add-to-list", methods=["POST"])
@editor_required
def add_to_list() -> Response:
    """Add every target the filters (in the query string) show to a static list."""
    organisation_id = current_organisation_id()
    form = AddToListForm()
    filters = FilterForm(request.args)
    target_filter = filter_from_args(organisation_id, filters)
    target_list = find_list(organisation_id, list_id) if (list_id := parse_id(form.target_list.data)) else None
    if not form.validate_on_submit() or target_list is None:
        flash(_("Choose a static list."), "error")
        return redirect(_with_query(url_for(".index")))
    try:
        added = add_filtered(organisation_id, target_list, target_filter)
    except ListError as exc:
        flash(str(exc), "error")
        return redirect(_with_query(url_for(".index")))
    db.session.commit()
    flash(_("%(count)d target(s) added to %(name)s.", count=added, name=target_list.name), "success")
    return redirect(url_for("recipient_lists.show", list_id=target_list.id))


def _with_query(url: str) -> str:
    """`url` with this request's query string (the filters) kept."""
    query = request.query_string.decode()
    return f"{url}?{query}" if query else url


def _target_or_404(target_id: int) -> Recipient:
    target = db.session.get(Recipient, target_id)
    if target is None or target.organisation_id != current_organisation_id():
        abort(404)
    return target


@bp.route("/<int:target_id>", methods=["GET", "POST"])
@login_required
def show(target_id: int) -> Response | str:
    target = _target_or_404(target_id)
    form = TargetForm(obj=target)
    if request.method == "POST":
        if not current_user.can_edit:
            abort(403)
        if form.validate_on_submit():
            handles = form.handles()
            if not any(getattr(form, name).errors for name in (*TargetForm.HANDLES.values(), "email")):
                edit_target(
                    target, salutation=form.salutation.data or "", is_active=bool(form.is_active.data), handles=handles
                )
                db.session.commit()
                flash(_("Saved."), "success")
                return redirect(url_for(".show", target_id=target.id))
    greetings = {
        language: salutation(
            role=target.role,
            gender=target.gender,
            language=language,
            first_name=target.first_name,
            last_name=target.last_name,
        )
        for language in ("fr", "en")
    }
    return render_template("recipients/show.html", target=target, form=form, greetings=greetings)


@bp.route("/postcodes", methods=["GET", "POST"])
@login_required
def postcodes() -> Response | str:
    """The map's coverage, and loading a new one: checked first (what it changes), loaded on confirmation."""
    organisation_id = current_organisation_id()
    form = PostcodeForm()
    report, pending = None, None
    if request.method == "POST":
        if not current_user.can_edit:
            abort(403)
        if form.validate_on_submit():
            data = form.file.data.read()
            keep = bool(form.keep.data)
            report = import_postcodes(
                organisation_id, data, max_bytes=current_app.config["MAX_CONTENT_LENGTH"], dry_run=True, keep=keep
            )
            if report.ok:
                run = ImportRun(
                    organisation_id=organisation_id,
                    user_id=current_user.id,
                    file_format=POSTCODE_FORMAT,
                    filename=(form.file.data.filename or "")[:255],
                    data=data,
                    source=POSTCODE_FORMAT,
                    options={"keep": keep},
                    report=report.as_dict(),
                    state=ImportState.CHECKED,
                )
                db.session.add(run)
                db.session.commit()
                return redirect(url_for(".postcodes", check=run.id))
    elif (check := parse_id(request.args.get("check"))) is not None:
        pending = _pending_map(organisation_id, check)
        if pending is not None:
            report = PostcodeReport.from_dict(pending.report)
    return render_template(
        "recipients/postcodes.html",
        form=form,
        report=report,
        pending=pending,
        coverage=constituency_coverage(organisation_id),
    )


def _postcode_run(organisation_id: int, run_id: int) -> ImportRun | None:
    """The organisation's uploaded map `run_id` (None for another organisation's, or any other run)."""
    run = db.session.get(ImportRun, run_id)
    if run is None or run.organisation_id != organisation_id or run.file_format != POSTCODE_FORMAT:
        return None
    return run


def _pending_map(organisation_id: int, run_id: int) -> ImportRun | None:
    run = _postcode_run(organisation_id, run_id)
    return run if run is not None and run.state is ImportState.CHECKED else None


@bp.route("/postcodes/<int:run_id>", methods=["POST"])
@editor_required
def load_postcodes(run_id: int) -> Response:
    """Load the checked map (or discard it): the map as it is now is compared again, so the figures are exact."""
    run = _postcode_run(current_organisation_id(), run_id)
    if run is None:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    if run.state is not ImportState.CHECKED:
        flash(_("This map was loaded or discarded already."), "error")
        return redirect(url_for(".postcodes"))
    organisation_id = run.organisation_id
    if request.form.get("discard"):
        run.state = ImportState.DISCARDED
        db.session.commit()
        flash(_("The map was discarded; nothing changed."), "success")
        return redirect(url_for(".postcodes"))
    report = import_postcodes(
        organisation_id,
        run.data,
        max_bytes=current_app.config["MAX_CONTENT_LENGTH"],
        keep=bool((run.options or {}).get("keep")),
    )
    run.state, run.report, run.data, run.finished_at = ImportState.DONE, report.as_dict(), b"", utcnow()
    db.session.commit()
    flash(
        _(
            "Postcode map loaded: %(postcodes)d postcodes, %(spanning)d of them over several constituencies.",
            postcodes=report.postcodes,
            spanning=report.spanning,
        ),
        "success",
    )
    return redirect(url_for(".postcodes"))
