"""Template + target + network → the text a supporter sends. Pure: no database, no Flask."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from channels import Network, mention

PLACEHOLDERS = ("handle", "name", "salutation", "title", "constituency", "hashtags", "link")
_PLACEHOLDER = re.compile(r"\{([^{}\s]{1,40})\}")
_SPACES = re.compile(r"[ \t]{2,}")
_SPACE_BEFORE_PUNCTUATION = re.compile(r"[ \t]+([,.])")
SOCIAL = (Network.X, Network.BLUESKY, Network.MASTODON)  # where a post reaches its target by mentioning it


class RenderError(ValueError):
    """The template cannot be rendered for this target on this network."""


@dataclass(frozen=True)
class TargetContext:
    """What a template can say about one target (built from a Recipient by the campaign's services)."""

    name: str
    salutation: str
    title: str = ""
    constituency: str = ""
    handles: dict[Network, str] = field(default_factory=dict)


def unknown_placeholders(template: str) -> list[str]:
    """The `{words}` in `template` that are not placeholders, in order of first use."""
    found = [name for name in _PLACEHOLDER.findall(template) if name not in PLACEHOLDERS]
    return list(dict.fromkeys(found))


def uses_placeholder(template: str, name: str) -> bool:
    return name in _PLACEHOLDER.findall(template)


def format_hashtags(raw: str) -> str:
    """'ESS, #LivreBlanc  climat' → '#ESS #LivreBlanc #climat'."""
    tags = [tag.lstrip("#") for tag in re.split(r"[\s,;]+", raw) if tag.strip("# ")]
    return " ".join("#" + tag for tag in dict.fromkeys(tags))


def mentions(network: Network, handle: str, text: str) -> bool:
    """Whether `text` mentions the account `handle` on `network` (as a whole mention, in any case)."""
    written = re.escape(mention(network, handle))
    return re.search(rf"(?<![\w@.]){written}(?![\w@.-]*\w)", text, re.IGNORECASE) is not None


def render(template: str, target: TargetContext, network: Network, *, hashtags: str = "", link: str = "") -> str:
    """The final text. Raises RenderError for an unknown placeholder or a handle the target lacks.

    On a social network the text always mentions the target, or the target would never see it: where
    the template puts `{handle}`, else at the start. A target without an account there has no text there.
    """
    unknown = unknown_placeholders(template)
    if unknown:
        raise RenderError(f"unknown placeholder {{{unknown[0]}}}")
    handle = target.handles.get(network)
    if (network in SOCIAL or uses_placeholder(template, "handle")) and not handle:
        raise RenderError(f"the target has no {network.label} address")
    if network in SOCIAL and not uses_placeholder(template, "handle"):
        template = "{handle} " + template
    values = {
        "handle": (mention(network, handle) if network is not Network.EMAIL else target.name) if handle else "",
        "name": target.name,
        "salutation": target.salutation,
        "title": target.title,
        "constituency": target.constituency,
        "hashtags": format_hashtags(hashtags),
        "link": link,
    }
    text = _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)
    # An empty placeholder must not leave a double space or a space before a comma behind.
    lines = [_SPACE_BEFORE_PUNCTUATION.sub(r"\1", _SPACES.sub(" ", line)).strip() for line in text.splitlines()]
    return "\n".join(lines).strip()
