"""Error pages in the visitor's language, and JSON errors for JSON callers."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response


def _messages(code: int) -> tuple[str, str]:
    known = {
        400: (_("Bad request"), _("The request could not be understood.")),
        403: (_("Not allowed"), _("Your role does not allow this action.")),
        404: (_("Page not found"), _("This page does not exist, or you do not have access to it.")),
        405: (_("Method not allowed"), _("This address does not accept that kind of request.")),
        413: (_("File too large"), _("The file is larger than the limit this server accepts.")),
        429: (_("Too many requests"), _("Please wait a moment before trying again.")),
        500: (_("Something went wrong"), _("The error has been logged. Please try again later.")),
    }
    return known.get(code, (_("Error"), _("The request could not be completed.")))


def _render(code: int, detail: str | None = None) -> tuple[Response | str, int]:
    title, text = _messages(code)
    if request.accept_mimetypes.best == "application/json" or request.is_json:
        return jsonify(error=title, detail=detail or text), code
    return render_template("errors/error.html", code=code, title=title, text=detail or text), code


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> tuple[Response | str, int]:
        return _render(400, _("The form has expired. Go back, reload the page and try again."))

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> tuple[Response | str, int]:
        return _render(error.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> tuple[Response | str, int]:
        app.logger.exception("unhandled error")
        return _render(500)
