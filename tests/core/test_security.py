import datetime as dt

import pytest

from core import security


def test_hash_and_verify() -> None:
    hashed = security.hash_password("Sup3rSecret", rounds=4)
    assert hashed.startswith("$2b$04$") and "Sup3rSecret" not in hashed
    assert security.verify_password("Sup3rSecret", hashed)
    assert not security.verify_password("sup3rsecret", hashed)
    assert not security.verify_password("Sup3rSecret", None)
    assert not security.verify_password("Sup3rSecret", "not-a-hash")


@pytest.mark.parametrize(
    ("password", "needs"),
    [
        ("Short1", "at least 8 characters"),
        ("alllowercase1", "an upper-case letter"),
        ("ALLUPPERCASE1", "a lower-case letter"),
        ("NoDigitsHere", "a digit"),
        (" Spaced0ut ", "no spaces at the start or end"),
    ],
)
def test_password_policy_says_what_is_missing(password: str, needs: str) -> None:
    with pytest.raises(security.InvalidInput, match=needs):
        security.check_password(password)


def test_good_inputs_pass() -> None:
    assert security.check_password("Sup3rSecret") == "Sup3rSecret"
    assert security.check_username("  Ada.L ") == "ada.l"
    assert security.check_email(" ada@example.com ") == "ada@example.com"


@pytest.mark.parametrize("bad", ["a", "-ada", "ada lovelace", "x" * 65, "ada@home"])
def test_bad_usernames(bad: str) -> None:
    with pytest.raises(security.InvalidInput):
        security.check_username(bad)


def test_lockout_after_the_fifth_failure() -> None:
    now = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
    failed = 0
    for attempt in range(1, 5):
        failed, locked = security.after_failed_sign_in(failed, now, attempts=5, lock_seconds=60)
        assert (failed, locked) == (attempt, None)
    failed, locked = security.after_failed_sign_in(failed, now, attempts=5, lock_seconds=60)
    assert failed == 0 and locked == now + dt.timedelta(seconds=60)
    assert security.is_locked(locked, now + dt.timedelta(seconds=59))
    assert not security.is_locked(locked, now + dt.timedelta(seconds=60))


def test_unknown_users_cost_as_much_as_known_ones() -> None:
    import time

    hashed = security.hash_password("Sup3rSecret", rounds=10)
    security.equalise_timing("warm-up", rounds=10)  # the dummy hash is made once per cost, then reused
    started = time.perf_counter()
    security.verify_password("Wr0ngPassword", hashed)
    known = time.perf_counter() - started
    started = time.perf_counter()
    security.equalise_timing("Wr0ngPassword", rounds=10)
    unknown = time.perf_counter() - started
    assert unknown > known / 3  # same bcrypt cost; a cost-4 dummy would be ~64x faster
