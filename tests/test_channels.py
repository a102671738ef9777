"""Length rules, compose links and handle forms, per network."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from channels import Network, check_length, compose_url, normalise_handle

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # one grapheme, seven code points
FLAG = "\U0001f1eb\U0001f1f7"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 280, 280),
        ("é" * 280, 280),  # accented Latin weighs 1
        ("日本語" * 47, 282),  # CJK weighs 2
        (FAMILY, 2),  # an emoji sequence weighs 2 as a whole
        (FLAG + FLAG, 4),
        ("Lisez https://example.org/a/very/long/path/that/goes/on?x=1 merci", 6 + 23 + 6),
        ("example.com", 23),  # scheme-less links count 23 on X
    ],
)
def test_x_weighted_length(text: str, expected: int) -> None:
    assert check_length(Network.X, text).length == expected


def test_x_over_by_says_how_much() -> None:
    result = check_length(Network.X, "é" * 290)
    assert (result.ok, result.over_by, result.limit) == (False, 10, 280)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("é" * 300, 300),
        ("日本語", 3),
        (FAMILY + FLAG, 2),  # graphemes, not code points
        ("e\u0301", 1),  # a combining accent is one grapheme with its letter
        ("https://example.org/" + "a" * 40, 60),  # links count in full
    ],
)
def test_bluesky_counts_graphemes(text: str, expected: int) -> None:
    assert check_length(Network.BLUESKY, text).length == expected


def test_bluesky_byte_limit_binds_for_dense_text() -> None:
    text = FAMILY * 290  # 290 graphemes but 25 bytes each
    result = check_length(Network.BLUESKY, text)
    assert result.unit == "bytes" and result.limit == 3000 and result.over_by == 290 * 25 - 3000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@jean@piaille.fr bonjour", len("@jean bonjour")),  # @user@domain counts as @user
        ("@jean bonjour", len("@jean bonjour")),
        ("voir https://example.org/" + "a" * 100, 5 + 23),  # http(s) links count 23
        ("voir example.org/" + "a" * 10, len("voir example.org/") + 10),  # without a scheme, in full
        (FAMILY + " é", 3),
        ("écrire à jean@piaille.fr", len("écrire à jean@piaille.fr")),  # an e-mail is not a mention
    ],
)
def test_mastodon_length(text: str, expected: int) -> None:
    assert check_length(Network.MASTODON, text).length == expected


def test_mastodon_limit_is_the_instances() -> None:
    assert check_length(Network.MASTODON, "a" * 600, limit=1000).ok
    assert check_length(Network.MASTODON, "a" * 600).over_by == 100


def test_compose_links_carry_the_exact_text() -> None:
    text = "@depute Madame la Députée, lisez https://example.org/?a=1&b=2 #LivreBlanc 👨‍👩‍👧"
    for network, host, path in [
        (Network.X, "x.com", "/intent/tweet"),
        (Network.BLUESKY, "bsky.app", "/intent/compose"),
    ]:
        parts = urlsplit(compose_url(network, text))
        assert (parts.scheme, parts.netloc, parts.path) == ("https", host, path)
        assert parse_qs(parts.query)["text"] == [text]
    mastodon = urlsplit(compose_url(Network.MASTODON, text, instance="https://Piaille.fr/"))
    assert (mastodon.netloc, mastodon.path, parse_qs(mastodon.query)["text"]) == ("piaille.fr", "/share", [text])
    mail = urlsplit(compose_url(Network.EMAIL, text, to="depute@assemblee.test", subject="Livre blanc & vous"))
    assert mail.scheme == "mailto" and mail.path == "depute@assemblee.test"
    assert parse_qs(mail.query) == {"subject": ["Livre blanc & vous"], "body": [text]}


def test_mastodon_link_refuses_a_non_host() -> None:
    with pytest.raises(ValueError, match="not a Mastodon instance"):
        compose_url(Network.MASTODON, "x", instance="javascript:alert(1)")


@pytest.mark.parametrize(
    ("network", "raw", "expected"),
    [
        (Network.X, "@EricMartineau72\r", "EricMartineau72"),
        (Network.X, "https://twitter.com/Jean_Dupont", "Jean_Dupont"),
        (Network.X, "x.com/Jean_Dupont?lang=fr", "Jean_Dupont"),
        (Network.BLUESKY, "@Jean.BSKY.social", "jean.bsky.social"),
        (Network.BLUESKY, "https://bsky.app/profile/depute.fr", "depute.fr"),
        (Network.MASTODON, "@jean@Piaille.fr", "jean@piaille.fr"),
        (Network.MASTODON, "jean@piaille.fr", "jean@piaille.fr"),
        (Network.MASTODON, "https://piaille.fr/@jean", "jean@piaille.fr"),
        (Network.EMAIL, " Jean@Assemblee-Nationale.FR ", "Jean@assemblee-nationale.fr"),
    ],
)
def test_handles_in_every_form(network: Network, raw: str, expected: str) -> None:
    assert normalise_handle(network, raw) == expected


@pytest.mark.parametrize(
    ("network", "raw"),
    [
        (Network.X, "far_too_long_handle_x"),
        (Network.X, "with space"),
        (Network.BLUESKY, "nodot"),
        (Network.MASTODON, "jean"),
        (Network.MASTODON, "jean@"),
        (Network.EMAIL, "not-an-address"),
    ],
)
def test_bad_handles_are_refused_with_the_network_named(network: Network, raw: str) -> None:
    with pytest.raises(ValueError, match=network.label if network is not Network.EMAIL else "e-mail"):
        normalise_handle(network, raw)
