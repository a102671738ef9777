"""Language choice: the visitor's choice (remembered), else the page's language, else the browser's."""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request, session

from config import LANGUAGES


def select_locale() -> str:
    """Flask-Babel's locale selector (outside a request, as in the CLI: the default language)."""
    if not has_request_context():
        return str(current_app.config.get("BABEL_DEFAULT_LOCALE", "fr"))
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return str(chosen)
    page_language = g.get("page_language")
    if page_language in LANGUAGES:
        return str(page_language)
    best = request.accept_languages.best_match(LANGUAGES)
    return best or str(current_app.config.get("BABEL_DEFAULT_LOCALE", "fr"))


def select_timezone() -> str:
    """One clock for everything staff and supporters read: the organisation's (TIMEZONE), never UTC."""
    return str(current_app.config["TIMEZONE"])


def clock_name() -> str:
    """The organisation's clock as people name it ("Paris"), in the page's language."""
    from babel.dates import get_timezone, get_timezone_location
    from flask_babel import get_locale

    return str(get_timezone_location(get_timezone(select_timezone()), str(get_locale() or "fr"), return_city=True))


def _remember_choice() -> None:
    """`?lang=en` on any page switches the interface and remembers it for the visit."""
    wanted = request.args.get("lang")
    if wanted in LANGUAGES:
        session["lang"] = wanted


def init_app(app: Flask) -> None:
    app.before_request(_remember_choice)

    @app.context_processor
    def _languages() -> dict[str, object]:
        from flask_babel import get_locale

        return {"languages": LANGUAGES, "current_language": str(get_locale() or "fr"), "timezone_name": clock_name()}
