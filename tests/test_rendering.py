"""Rendering: placeholders, handles per network, hashtags, salutations."""

from __future__ import annotations

import pytest

from campaign.rendering import RenderError, TargetContext, format_hashtags, mentions, render, unknown_placeholders
from channels import Network
from recipients.models import Gender, TargetRole
from recipients.salutations import salutation

TARGET = TargetContext(
    name="Héloïse Martin",
    salutation="Madame la Députée",
    title="Députée",
    constituency="Paris (1re)",
    handles={Network.X: "HMartin", Network.BLUESKY: "hmartin.bsky.social", Network.MASTODON: "hm@piaille.fr"},
)
TEMPLATE = "{handle} {salutation}, lisez {link} {hashtags}"


@pytest.mark.parametrize(
    ("network", "mention"),
    [(Network.X, "@HMartin"), (Network.BLUESKY, "@hmartin.bsky.social"), (Network.MASTODON, "@hm@piaille.fr")],
)
def test_handle_is_the_targets_on_that_network(network: Network, mention: str) -> None:
    text = render(TEMPLATE, TARGET, network, hashtags="LivreBlanc, #ESS", link="https://ex.org/x")
    assert text == f"{mention} Madame la Députée, lisez https://ex.org/x #LivreBlanc #ESS"


def test_every_placeholder() -> None:
    text = render("{name} · {title} · {constituency}", TARGET, Network.EMAIL)
    assert text == "Héloïse Martin · Députée · Paris (1re)"


def test_empty_values_leave_no_stray_spaces() -> None:
    assert render("Bonjour {name} {hashtags}, merci {link}.", TARGET, Network.EMAIL) == "Bonjour Héloïse Martin, merci."


def test_line_breaks_are_kept() -> None:
    assert render("{salutation},\n\nmerci.", TARGET, Network.EMAIL) == "Madame la Députée,\n\nmerci."


def test_unknown_placeholder_is_named() -> None:
    assert unknown_placeholders("{hanlde} {name} {hanlde} {foo}") == ["hanlde", "foo"]
    with pytest.raises(RenderError, match="hanlde"):
        render("{hanlde}", TARGET, Network.X)


def test_braces_that_are_not_placeholders_stay() -> None:
    assert unknown_placeholders("{ a } {} {{") == []


def test_missing_handle_is_an_error_not_an_empty_mention() -> None:
    with pytest.raises(RenderError, match="E-mail|email"):
        render("{handle}", TargetContext(name="A", salutation="B"), Network.EMAIL)
    with pytest.raises(RenderError, match="X"):
        render("{handle}", TargetContext(name="A", salutation="B"), Network.X)


def test_html_is_left_as_text() -> None:
    target = TargetContext(name="<script>alert(1)</script>", salutation="x")
    assert render("{name}", target, Network.EMAIL) == "<script>alert(1)</script>"  # escaping is the template's job


def test_hashtags() -> None:
    assert format_hashtags(" #ESS, LivreBlanc;ESS  climat ") == "#ESS #LivreBlanc #climat"
    assert format_hashtags("") == ""


@pytest.mark.parametrize(
    ("role", "gender", "language", "expected"),
    [
        (TargetRole.DEPUTY, Gender.FEMALE, "fr", "Madame la Députée"),
        (TargetRole.DEPUTY, Gender.MALE, "fr", "Monsieur le Député"),
        (TargetRole.SENATOR, Gender.FEMALE, "fr", "Madame la Sénatrice"),
        (TargetRole.MINISTER, Gender.MALE, "fr", "Monsieur le Ministre"),
        (TargetRole.MINISTER, Gender.FEMALE, "fr", "Madame la Ministre"),
        (TargetRole.MEP, Gender.FEMALE, "fr", "Madame la Députée européenne"),
        (TargetRole.DEPUTY, None, "fr", "Madame, Monsieur le Député"),
        (TargetRole.MINISTER, None, "fr", "Madame, Monsieur le Ministre"),
        (TargetRole.OTHER, None, "fr", "Madame, Monsieur"),
        (TargetRole.SENATOR, Gender.MALE, "en", "Dear Senator Smith"),
        (TargetRole.SENATOR, None, "en", "Dear Senator Smith"),
        (TargetRole.REPRESENTATIVE, Gender.FEMALE, "en", "Dear Representative Smith"),
        (TargetRole.MINISTER, Gender.MALE, "en", "Dear Minister Smith"),
        (TargetRole.DEPUTY, Gender.FEMALE, "en", "Dear Ms Smith"),
        (TargetRole.MEP, Gender.MALE, "en", "Dear Mr Smith"),
        (TargetRole.DEPUTY, None, "en", "Dear Jo Smith"),
    ],
)
def test_salutation(role: TargetRole, gender: Gender | None, language: str, expected: str) -> None:
    assert salutation(role=role, gender=gender, language=language, first_name="Jo", last_name="Smith") == expected


def test_salutation_override_wins() -> None:
    assert (
        salutation(
            role=TargetRole.DEPUTY,
            gender=Gender.FEMALE,
            language="fr",
            first_name="",
            last_name="X",
            override="Chère Présidente",
        )
        == "Chère Présidente"
    )


@pytest.mark.parametrize(
    ("network", "mention"),
    [(Network.X, "@HMartin"), (Network.BLUESKY, "@hmartin.bsky.social"), (Network.MASTODON, "@hm@piaille.fr")],
)
def test_a_social_text_without_handle_still_mentions_its_target(network: Network, mention: str) -> None:
    text = render("{salutation} {name}, lisez le Livre blanc.", TARGET, network)
    assert text == f"{mention} Madame la Députée Héloïse Martin, lisez le Livre blanc."
    assert mentions(network, TARGET.handles[network], text)


def test_an_email_is_not_given_a_mention() -> None:
    text = render("{salutation}, lisez.", TARGET, Network.EMAIL)
    assert text == "Madame la Députée, lisez."


def test_no_text_for_a_network_the_target_is_not_on() -> None:
    lonely = TargetContext(name="A", salutation="B", handles={Network.X: "a"})
    with pytest.raises(RenderError, match="Bluesky"):
        render("{salutation}, lisez.", lonely, Network.BLUESKY)


@pytest.mark.parametrize(
    ("network", "handle", "text", "expected"),
    [
        (Network.X, "HMartin", "Bonjour @hmartin !", True),
        (Network.X, "HMartin", "Bonjour @HMartin2", False),
        (Network.X, "HMartin", "Bonjour HMartin", False),
        (Network.BLUESKY, "hm.bsky.social", "@hm.bsky.social.", True),
        (Network.BLUESKY, "hm.bsky.social", "@hm.bsky.social.example", False),
        (Network.BLUESKY, "hm.bsky.social", "@xhm.bsky.social", False),
        (Network.MASTODON, "hm@piaille.fr", "cc @hm@piaille.fr, merci", True),
        (Network.MASTODON, "hm@piaille.fr", "cc @hm@piaille.fr.evil", False),
        (Network.MASTODON, "hm@piaille.fr", "cc @hm", False),
    ],
)
def test_mentions_finds_the_whole_handle_only(network: Network, handle: str, text: str, expected: bool) -> None:
    assert mentions(network, handle, text) is expected
