"""Language choice: the visitor's choice (remembered), else the page's language, else the browser's."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel import support
from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import get_locale
from flask_login import current_user
from wtforms.i18n import messages_path

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
    """One clock for everything staff and supporters read: on staff pages the organisation's when it set one,
    else the instance's (TIMEZONE); never UTC. (Supporters' pages never load a user for it.)"""
    if has_request_context() and request.path.startswith(("/admin", "/account")):
        if current_user and current_user.is_authenticated and current_user.organisation.timezone:
            return str(current_user.organisation.timezone)
    return str(current_app.config["TIMEZONE"])


def clock_name() -> str:
    """The organisation's clock as people name it ("Paris"), in the page's language."""
    from babel.dates import get_timezone, get_timezone_location

    return str(get_timezone_location(get_timezone(select_timezone()), str(get_locale() or "fr"), return_city=True))


def _remember_choice() -> None:
    """`?lang=en` on any page switches the interface and remembers it for the visit."""
    wanted = request.args.get("lang")
    if wanted in LANGUAGES:
        session["lang"] = wanted


def init_app(app: Flask) -> None:
    app.before_request(_remember_choice)

    app.add_template_filter(translate_stored)

    @app.context_processor
    def _languages() -> dict[str, object]:
        return {"languages": LANGUAGES, "current_language": str(get_locale() or "fr"), "timezone_name": clock_name()}


# Texts stored for later readers (an import's report, written by a background job) are kept in the source
# language, the catalogue's msgids with their values filled in; each reader gets them in their own language
# by matching the text back to its msgid. Built once per catalogue.
_PLACEHOLDER = re.compile(r"%\((\w+)\)([sd])")
_patterns: dict[int, list[tuple[re.Pattern[str], str, dict[str, str]]]] = {}


def _stored_patterns(catalog: dict[Any, str]) -> list[tuple[re.Pattern[str], str, dict[str, str]]]:
    key = id(catalog)
    if key not in _patterns:
        found = []
        for msgid, msgstr in catalog.items():
            if not isinstance(msgid, str) or not msgid or not msgstr or "%(" not in msgid:
                continue
            kinds: dict[str, str] = {}
            regex, position = "", 0
            for match in _PLACEHOLDER.finditer(msgid):
                regex += re.escape(msgid[position : match.start()]).replace("%%", "%")
                name, kind = match.groups()
                if name in kinds:
                    regex += f"(?P={name})"
                else:
                    kinds[name] = kind
                    regex += f"(?P<{name}>-?\\d+)" if kind == "d" else f"(?P<{name}>.+?)"
                position = match.end()
            regex += re.escape(msgid[position:]).replace("%%", "%")
            literal = len(_PLACEHOLDER.sub("", msgid))
            found.append((literal, re.compile(regex, re.DOTALL), msgstr, kinds))
        found.sort(key=lambda item: -item[0])  # the most specific first: "%(a)s: %(b)s" matches anything
        _patterns[key] = [(pattern, msgstr, kinds) for _literal, pattern, msgstr, kinds in found]
    return _patterns[key]


def translate_stored(text: str, depth: int = 0) -> str:
    """A text stored in the source language (msgid with its values), in the reader's language; a text the
    catalogue does not know (or one stored in another language before) comes back as it is."""
    from flask_babel import get_translations

    catalog: dict[Any, str] = getattr(get_translations(), "_catalog", {})
    if not text or not catalog:
        return text
    if text in catalog and catalog[text]:
        return catalog[text]
    for pattern, msgstr, kinds in _stored_patterns(catalog):
        match = pattern.fullmatch(text)
        if match is None:
            continue
        values: dict[str, Any] = {}
        for name, kind in kinds.items():
            value = match.group(name)
            values[name] = int(value) if kind == "d" else (translate_stored(value, depth + 1) if depth < 2 else value)
        try:
            return msgstr % values
        except (KeyError, TypeError, ValueError):
            return text
    return text


def to_utc(local: datetime, zone: str) -> datetime:
    """A wall-clock time typed in the organisers' zone, as UTC."""
    return local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def to_local(moment: datetime, zone: str) -> datetime:
    """A UTC moment (naive means UTC) on the organisers' wall clock, naive (for a datetime-local field)."""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return aware.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


@functools.cache
def _wtforms_catalogue(locale: str) -> support.NullTranslations:
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class CachedCatalogueMeta:
    """A form Meta whose WTForms messages come from a catalogue read once per language and process, where
    Flask-WTF reads it from disk on every request (a public page's form is built on every view)."""

    def get_translations(self, form: Any) -> support.NullTranslations:
        return _wtforms_catalogue(str(get_locale() or "en"))
