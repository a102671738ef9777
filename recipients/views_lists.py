"""Lists of targets: static (chosen members) and dynamic (saved filters); counts per network; CSV export."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response as BaseResponse

from accounts.permissions import current_organisation_id, editor_required
from database import page_number
from extensions import db
from recipients.forms import ListForm
from recipients.lists import ListError, delete_list, export_csv, find_list, members_filter, remove_member, save_list
from recipients.models import Recipient, RecipientList
from recipients.services import TargetFilter, lists_of, reach, select_targets
from recipients.views import fill_filter_form, filter_from_args

bp = Blueprint("recipient_lists", __name__, url_prefix="/admin/targets/lists")
PAGE_SIZE = 50


def _list_or_404(list_id: int) -> RecipientList:
    target_list = find_list(current_organisation_id(), list_id)
    if target_list is None:
        abort(404)
    return target_list


@bp.route("/")
@login_required
def index() -> str:
    organisation_id = current_organisation_id()
    rows = [(lst, reach(organisation_id, members_filter(lst))) for lst in lists_of(organisation_id)]
    return render_template("recipients/lists.html", rows=rows)


def _edit(target_list: RecipientList | None) -> BaseResponse | str:
    organisation_id = current_organisation_id()
    form = ListForm(obj=target_list)
    if request.method == "GET":
        if target_list is not None:
            fill_filter_form(form, TargetFilter.from_criteria(target_list.criteria or {}))
        else:
            form.is_dynamic.data = request.args.get("dynamic") == "1"
    criteria = filter_from_args(organisation_id, form)
    if form.validate_on_submit():
        dynamic = target_list.is_dynamic if target_list is not None else bool(form.is_dynamic.data)
        try:
            saved = save_list(
                organisation_id,
                target_list,
                name=form.name.data or "",
                description=form.description.data or "",
                criteria=TargetFilter(**{**criteria.__dict__, "recipient_list_id": None}) if dynamic else None,
            )
        except ListError as exc:
            form.name.errors = [*form.name.errors, str(exc)]
        else:
            db.session.commit()
            flash(_("List saved."), "success")
            return redirect(url_for(".show", list_id=saved.id))
    preview = reach(organisation_id, TargetFilter(**{**criteria.__dict__, "recipient_list_id": None}))
    return render_template("recipients/list_edit.html", form=form, target_list=target_list, preview=preview)


@bp.route("/new", methods=["GET", "POST"])
@editor_required
def new() -> BaseResponse | str:
    return _edit(None)


@bp.route("/<int:list_id>/edit", methods=["GET", "POST"])
@editor_required
def edit(list_id: int) -> BaseResponse | str:
    return _edit(_list_or_404(list_id))


@bp.route("/<int:list_id>")
@login_required
def show(list_id: int) -> str:
    organisation_id = current_organisation_id()
    target_list = _list_or_404(list_id)
    target_filter = members_filter(target_list)
    page = db.paginate(
        select_targets(organisation_id, target_filter).order_by(Recipient.last_name, Recipient.first_name),
        page=page_number(request.args.get("page")),
        per_page=PAGE_SIZE,
        error_out=False,
    )
    return render_template(
        "recipients/list.html",
        target_list=target_list,
        page=page,
        reach=reach(organisation_id, target_filter),
        criteria=TargetFilter.from_criteria(target_list.criteria or {}),
    )


@bp.route("/<int:list_id>/export.csv")
@login_required
def export(list_id: int) -> Response:
    target_list = _list_or_404(list_id)
    body = export_csv(current_organisation_id(), target_list)
    filename = "".join(c if c.isalnum() or c in "-_" else "-" for c in target_list.name).strip("-") or "list"
    return Response(
        "\ufeff" + body,  # a BOM, so spreadsheet programs read the accents right
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


@bp.route("/<int:list_id>/members/<int:recipient_id>/remove", methods=["POST"])
@editor_required
def remove(list_id: int, recipient_id: int) -> BaseResponse:
    target_list = _list_or_404(list_id)
    if target_list.is_dynamic:
        abort(400)
    remove_member(target_list, recipient_id)
    db.session.commit()
    flash(_("Removed from the list."), "success")
    return redirect(url_for(".show", list_id=target_list.id))


@bp.route("/<int:list_id>/delete", methods=["POST"])
@editor_required
def delete(list_id: int) -> BaseResponse:
    target_list = _list_or_404(list_id)
    try:
        delete_list(target_list)
    except ListError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".show", list_id=target_list.id))
    db.session.commit()
    flash(_("List deleted; its targets are kept."), "success")
    return redirect(url_for(".index"))
