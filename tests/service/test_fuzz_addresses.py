"""Hypothesis over the address headers of strangers (reviewbot.addresses).

To/Cc/From values are built from the pieces that fool address parsers:
quoted display names holding commas and addresses, encoded words, groups,
comments, source routes, folds, NULs, IDN domains and UTF-8 local parts.
Whatever comes in: no traceback; every address given back is one the input
named (its domain and local part are in the text); ``sender_of`` is one
address or nobody; ``choose`` mails each address once, never an excluded one,
at most the author, the list and ``max_recipients``.  Fixed budget
(derandomized), so CI runs the same cases every time.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from email.headerregistry import Address
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewbot import addresses

SETTINGS = settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

_PIECES = st.sampled_from(
    [
        "ada@example.org",
        "Ada <ada@example.org>",
        '"Doe, John" <john@example.org>',
        '"evil@attacker.example" <bob@example.org>',
        '"a@b"@quoted.example',
        "=?utf-8?q?Eve=2C_<eve=40attacker.example>?= <eve@example.org>",
        "=?utf-8?q?x=40attacker.example?=@example.org",
        "group: a@example.org, b@example.org;",
        "Undisclosed recipients:;",
        "<@route.example:c@example.org>",
        "d@example.org (comment <x@attacker.example>)",
        "jörg@exämple.org",
        "user@xn--bcher-kva.example",
        "x@\u202eevil.example",
        "a\u200b@example.org",
        "no-domain",
        "@no-local.example",
        "a@b@c.example",
        "e@[127.0.0.1]",
        "f@example.org\r\n g@example.org",
        "h@example.org\x00",
        "\udcff@example.org",
        "i@" + "x" * 300 + ".example",
        ",",
        ", ",
        ";",
        "<",
        ">",
        '"',
        "\\",
        "(",
        ")",
        ":",
        " ",
        "\n ",
        "K@Example.ORG",
        "k@example.org",
    ]
)
_VALUES = st.lists(_PIECES, max_size=6).map("".join)
_LISTS = st.lists(st.one_of(_VALUES, st.text(max_size=40)), max_size=4)


def _named(addr: Address, given: list[str]) -> bool:
    """Whether the input names this address: its domain and local part are in the text."""
    text = unicodedata.normalize("NFC", addresses._utf8(" ".join(given))).casefold()
    domain = addr.domain.casefold()
    local = addr.username.casefold()
    bare = re.sub(r'[\\"]', "", text)  # a quoted local part, its escapes dropped
    return domain in text and (local in text or re.sub(r'[\\"]', "", local) in bare)


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="reviewbot.addresses")


@SETTINGS
@given(values=_LISTS)
def test_parsed_addresses_are_ones_the_header_named(values: list[str]) -> None:
    found = addresses.parse_addresses(values)
    specs = [a.addr_spec.lower() for a in found]
    assert len(specs) == len(set(specs))
    for addr in found:
        assert addresses.usable(addr) and _named(addr, values), addr.addr_spec
        assert not any(c in addr.addr_spec for c in "\r\n\x00 ")


@SETTINGS
@given(value=st.one_of(_VALUES, st.text(max_size=80)))
def test_a_sender_is_one_named_address_or_nobody(value: str) -> None:
    sender = addresses.sender_of(value)
    if sender is None:
        return
    assert len(sender) <= addresses.MAX_SENDER
    (again,) = addresses.parse_addresses([sender])
    assert _named(again, [value]), (sender, value)
    # the address is the one the From: names, whatever the display name says
    assert [a.addr_spec.lower() for a in addresses.parse_addresses([value])] == [
        again.addr_spec.lower()
    ]


@SETTINGS
@given(
    case=st.fixed_dictionaries(
        {
            "author": _LISTS,
            "list_addr": st.sampled_from([[], ["linux-mm@kvack.org"], ["List <list@example.org>"]]),
            "others": _LISTS,
            "thread": _LISTS,
            "exclude": st.sampled_from([[], ["reviewbot@example.org"], ["ada@example.org"]]),
            "cap": st.integers(0, 6),
        }
    )
)
def test_chosen_recipients_are_named_once_and_capped(case: dict[str, Any]) -> None:
    author, list_addr, others = case["author"], case["list_addr"], case["others"]
    thread, exclude, cap = case["thread"], case["exclude"], case["cap"]
    rcpt = addresses.choose(author, list_addr, others, cap, exclude, thread=thread)
    env = [s.lower() for s in rcpt.envelope]
    assert len(env) == len(set(env))
    assert not set(env) & {e.lower() for e in exclude}
    assert len(rcpt.to) <= 1
    listed = addresses.parse_addresses(list_addr)
    assert len(env) <= max(cap, len(rcpt.to) + len(listed))
    given_all = [*author, *list_addr, *others, *thread]
    for addr in [*rcpt.to, *rcpt.cc]:
        assert addresses.usable(addr) and _named(addr, given_all), addr.addr_spec
    for addr in rcpt.to:
        assert _named(addr, author)
