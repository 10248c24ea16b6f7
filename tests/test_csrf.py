"""The CSRF token's way out of stored pages and back in (pagecache.core.csrf), on its own."""

from __future__ import annotations

import pytest
from django.middleware.csrf import (  # type: ignore[attr-defined]
    _mask_cipher_secret,
    _unmask_cipher_token,
)
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from pagecache.core import csrf, entry

SECRET = "s" * 16 + "S" * 16
OTHER = "o" * 32


MINTED = [_mask_cipher_secret(SECRET), _mask_cipher_secret(SECRET)]  # two get_token calls


def take(body: bytes, **overrides: object) -> csrf.TakenOut | str:
    args: dict[str, object] = {
        "secret": SECRET,
        "sent_secret": SECRET,
        "content_encoding": None,
        "minted": MINTED,
    }
    args.update(overrides)
    return csrf.take_out(body, [("Content-Type", "text/html")], **args)  # type: ignore[arg-type]


def test_the_tokens_handed_out_are_replaced_and_nothing_else():
    first, second = MINTED
    planted = _mask_cipher_secret(SECRET)  # the renderer's secret, but not handed out: theirs
    theirs = _mask_cipher_secret(OTHER)
    body = f'<input value="{first}"><i>{theirs}</i><q>{planted}</q><p>{second}{first}'.encode()
    taken = take(body)
    assert isinstance(taken, csrf.TakenOut)
    assert taken.count == 3
    assert taken.body.count(taken.placeholder.encode()) == 3
    assert theirs.encode() in taken.body and planted.encode() in taken.body
    assert len(taken.body) == len(body)  # same length: a stored Content-Length stays true


def test_a_token_handed_out_is_replaced_wherever_it_is():
    """Escaped JSON puts letters right next to it (\\u0022TOKEN\\u0022)."""
    token = MINTED[0]
    body = f'JSON.parse("{{\\u0022csrf\\u0022: \\u0022{token}\\u0022}}")'.encode()
    taken = take(body)
    assert isinstance(taken, csrf.TakenOut) and taken.count == 1
    assert token.encode() not in taken.body


def test_half_a_token_left_over_is_refused():
    token = MINTED[0]
    assert "cannot be taken out" in str(take(f"{token[:32]}-{token[32:]}".encode()))


def test_placeholders_are_unguessable_and_never_a_token():
    one, two = csrf.new_placeholder(), csrf.new_placeholder()
    assert one != two and len(one) == 64 and not one.isalnum()


@pytest.mark.parametrize(
    ("body", "headers", "overrides", "reason"),
    [
        (b"x", [], {"sent_secret": OTHER}, "rotated"),
        (SECRET.encode(), [], {}, "secret itself"),
        (b"x", [("X-Token", "{token}")], {}, "response header"),
        (b"x", [("X-Secret", SECRET)], {}, "response header"),
        (b"x", [], {"content_encoding": "gzip"}, "compressed"),
        (b"x", [], {"secret": None}, "without a secret"),
        (b"x", [], {"minted": None}, "not known"),
    ],
)
def test_what_cannot_be_taken_out_safely_is_refused(body, headers, overrides, reason):
    headers = [(n, v.replace("{token}", MINTED[0])) for n, v in headers]
    args = {
        "secret": SECRET,
        "sent_secret": SECRET,
        "content_encoding": None,
        "minted": MINTED,
        **overrides,
    }
    result = csrf.take_out(body, headers, **args)
    assert isinstance(result, str) and reason in result


@override_settings(CSRF_USE_SESSIONS=True)
def test_tokens_kept_in_the_session_are_refused():
    assert "CSRF_USE_SESSIONS" in str(take(b"x"))


def test_put_back_uses_the_visitors_cookie_plain_or_masked():
    placeholder = csrf.new_placeholder()
    body = f"<input value={placeholder}>".encode()
    for cookie in (SECRET, _mask_cipher_secret(SECRET)):  # Django < 4.0 stored it masked
        filled = csrf.put_back(body, placeholder, f"a=1; csrftoken={cookie}")
        assert filled.set_cookie is None
        token = filled.body.decode().split("=")[1].rstrip(">")
        assert _unmask_cipher_token(token) == SECRET


@pytest.mark.parametrize("cookie", [None, "", "a=1", "csrftoken=bad!", "csrftoken=" + "x" * 31])
@override_settings(
    CSRF_COOKIE_SECURE=True, CSRF_COOKIE_SAMESITE="Strict", CSRF_COOKIE_DOMAIN=".example.com"
)
def test_put_back_issues_a_cookie_as_csrf_middleware_would(cookie):
    placeholder = csrf.new_placeholder()
    filled = csrf.put_back(placeholder.encode(), placeholder, cookie)
    assert filled.set_cookie is not None
    secret = filled.set_cookie.split(";")[0].split("=", 1)[1]
    assert _unmask_cipher_token(filled.body.decode()) == secret
    attributes = filled.set_cookie.lower()
    for expected in ("secure", "samesite=strict", "domain=.example.com", "max-age=31449600"):
        assert expected in attributes


def test_entries_keep_their_placeholder():
    stored = entry.Entry(
        200, "OK", (("A", "b"),), b"body", ("t",), 5, 10, 0, csrf_placeholder="-" + "a" * 62 + "-"
    )
    loaded = entry.loads(entry.dumps(stored))
    assert loaded == stored
    assert entry.loads(entry.dumps(stored, compress_min=0)) == stored


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=200))
def test_take_out_never_changes_a_body_without_tokens_of_the_secret(text):
    body = text.encode()
    taken = take(body)
    if isinstance(taken, csrf.TakenOut):
        assert taken.count == 0 and taken.body == body
