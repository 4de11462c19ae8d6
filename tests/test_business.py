"""The business rules file: the shipped example, and a clear error for every kind of mistake."""

from __future__ import annotations

from datetime import date, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.support import EXAMPLE_RULES, make_app
from widget.booking.availability import Window
from widget.booking.business import BusinessConfigError, load_business, parse_business

# A small valid file; every bad case below changes one thing in it.
VALID = """\
[studio]
name = "Test Studio"
address = "1 Main St, Salt Lake City, UT 84101"
phone = "801-471-0877"
timezone = "America/Denver"

[booking]
slot_step_minutes = 15
daily_limit = 6

[opening_hours]
monday = ["09:00-12:00", "13:00-18:00"]
saturday = ["10:00-14:00"]

[[services]]
id = "massage-60"
name = "60-minute massage"
duration_minutes = 60
price = "95.00"
"""

SECOND_SERVICE = """
[[services]]
id = "massage-60"
name = "Another 60-minute massage"
duration_minutes = 60
price = "90.00"
"""


def _variant(old: str, new: str) -> str:
    """Return VALID with ``old`` (which must occur once) replaced by ``new``."""
    assert VALID.count(old) == 1, f"{old!r} is not in VALID exactly once"
    return VALID.replace(old, new)


def test_example_file_says_what_the_studio_asked_for():
    """The shipped example: services, hours, buffers, notice, horizon, step, limit, phone and zone."""
    business = load_business(EXAMPLE_RULES)

    assert list(business.services) == ["massage-30", "massage-60", "massage-90"]
    assert {s.id: (s.duration, s.price) for s in business.services.values()} == {
        "massage-30": (timedelta(minutes=30), Decimal("55.00")),
        "massage-60": (timedelta(minutes=60), Decimal("95.00")),
        "massage-90": (timedelta(minutes=90), Decimal("135.00")),
    }
    for service in business.services.values():
        assert service.buffer_after == timedelta(minutes=15), service.id
        assert service.buffer_before == timedelta(0), service.id
        assert service.name and service.description, service.id

    weekday = (Window(time(9), time(12)), Window(time(13), time(18)))
    assert business.rules.opening_hours == {
        0: weekday,
        1: weekday,
        2: weekday,
        3: weekday,
        4: weekday,
        5: (Window(time(10), time(14)),),
        6: (),
    }
    assert business.rules.date_overrides == {
        date(2026, 12, 24): (Window(time(9), time(13)),),
        date(2026, 12, 25): (),
        date(2027, 1, 1): (),
    }
    assert business.rules.minimum_notice == timedelta(hours=12)
    assert business.rules.horizon_days == 60
    assert business.rules.slot_step == timedelta(minutes=15)
    assert business.rules.daily_limit == 6
    assert business.rules.timezone == ZoneInfo("America/Denver")

    assert business.studio.phone == "801-471-0877"
    assert business.studio.timezone == "America/Denver"
    assert business.studio.name == "Juniper Massage Studio"
    assert "24 hours" in business.studio.cancellation_policy


def test_small_valid_file_parses():
    """The base of the bad cases is itself valid, so each bad case fails for its one change."""
    business = parse_business(VALID, "rules.toml")
    assert list(business.services) == ["massage-60"]
    assert business.services["massage-60"].price == Decimal("95.00")
    assert business.rules.opening_hours[6] == ()


BAD_FILES = [
    pytest.param(_variant("[booking]", "[booking"), "(file)", "TOML", id="invalid-toml"),
    pytest.param(VALID[VALID.index("[booking]") :], "studio", "required", id="missing-studio"),
    pytest.param('colour = "blue"\n' + VALID, "colour", "unknown", id="unknown-top-level-key"),
    pytest.param(
        _variant("slot_step_minutes = 15", "slot_stepp_minutes = 15"),
        "booking.slot_stepp_minutes",
        "unknown",
        id="typo-in-booking",
    ),
    pytest.param(
        _variant('timezone = "America/Denver"', 'timezone = "Mars/Olympus_Mons"'),
        "studio.timezone",
        "time zone",
        id="bad-time-zone",
    ),
    pytest.param(_variant('"13:00-18:00"', '"13:00-25:00"'), "opening_hours.monday[1]", "time of day", id="hour-25"),
    pytest.param(_variant('"13:00-18:00"', '"13:00-18:60"'), "opening_hours.monday[1]", "time of day", id="minute-60"),
    pytest.param(_variant('"09:00-12:00"', '"9-12"'), "opening_hours.monday[0]", "time range", id="not-hh-mm"),
    pytest.param(
        _variant('saturday = ["10:00-14:00"]', 'saturday = ["14:00-10:00"]'),
        "opening_hours.saturday[0]",
        "ends before it starts",
        id="ends-before-start",
    ),
    pytest.param(
        _variant('saturday = ["10:00-14:00"]', 'saturday = ["10:00-10:00"]'),
        "opening_hours.saturday[0]",
        "ends before it starts",
        id="empty-window",
    ),
    pytest.param(
        _variant('"13:00-18:00"', '"11:30-18:00"'), "opening_hours.monday", "overlap", id="overlapping-windows"
    ),
    pytest.param(
        _variant('saturday = ["10:00-14:00"]', 'saturday = "10:00-14:00"'),
        "opening_hours.saturday",
        "list",
        id="hours-not-a-list",
    ),
    pytest.param(_variant('monday = ["09', 'mondy = ["09'), "opening_hours.mondy", "unknown", id="misspelt-weekday"),
    pytest.param(
        VALID + '\n[date_overrides]\n"2026-02-30" = []\n', "date_overrides.2026-02-30", "date", id="override-feb-30"
    ),
    pytest.param(
        VALID + '\n[date_overrides]\n"2026-12-24" = ["09:00-13:00", "12:00-14:00"]\n',
        "date_overrides.2026-12-24",
        "overlap",
        id="override-overlap",
    ),
    pytest.param(_variant('price = "95.00"', 'price = "-5.00"'), "services[0].price", "price", id="negative-price"),
    pytest.param(_variant('price = "95.00"', "price = -5"), "services[0].price", "price", id="negative-number-price"),
    pytest.param(
        _variant('price = "95.00"', 'price = "ninety-five"'), "services[0].price", "price", id="non-numeric-price"
    ),
    pytest.param(_variant('price = "95.00"', 'price = "NaN"'), "services[0].price", "price", id="nan-price"),
    pytest.param(_variant('price = "95.00"', "price = true"), "services[0].price", "price", id="boolean-price"),
    pytest.param(_variant('price = "95.00"', 'price = "1e30"'), "services[0].price", "price", id="huge-price"),
    pytest.param(VALID + SECOND_SERVICE, "services[1].id", "twice", id="duplicate-service-id"),
    pytest.param(
        _variant('id = "massage-60"', 'id = "Massage 60"'), "services[0].id", "lower-case", id="id-with-space-upper"
    ),
    pytest.param(
        _variant('id = "massage-60"', 'id = "massage-60\\n"'), "services[0].id", "lower-case", id="id-newline"
    ),
    pytest.param(_variant('id = "massage-60"', "id = 60"), "services[0].id", "lower-case", id="id-not-a-string"),
    pytest.param(
        _variant("duration_minutes = 60", "duration_minutes = 0"),
        "services[0].duration_minutes",
        "between",
        id="duration-zero",
    ),
    pytest.param(
        _variant("duration_minutes = 60", 'duration_minutes = "60"'),
        "services[0].duration_minutes",
        "whole number",
        id="duration-string",
    ),
    pytest.param(
        _variant("duration_minutes = 60", "duration_minutes = 60.5"),
        "services[0].duration_minutes",
        "whole number",
        id="duration-float",
    ),
    pytest.param(
        _variant("slot_step_minutes = 15", "slot_step_minutes = true"),
        "booking.slot_step_minutes",
        "whole number",
        id="boolean-for-integer",
    ),
    pytest.param(
        _variant("daily_limit = 6", "daily_limit = 0"), "booking.daily_limit", "between", id="daily-limit-zero"
    ),
    pytest.param(
        _variant('price = "95.00"\n', 'price = "95.00"\ncolour = "blue"\n'),
        "services[0].colour",
        "unknown",
        id="unknown-service-key",
    ),
    pytest.param(
        _variant('name = "60-minute massage"\n', ""), "services[0].name", "required", id="service-without-name"
    ),
    pytest.param(
        "services = []\n" + VALID[: VALID.index("[[services]]")], "services", "non-empty", id="empty-services"
    ),
    pytest.param(_variant('phone = "801-471-0877"', 'phone = "   "'), "studio.phone", "non-empty", id="blank-phone"),
]


@pytest.mark.parametrize(("text", "key", "problem"), BAD_FILES)
def test_bad_file_names_file_key_and_problem(text, key, problem):
    """Each mistake raises BusinessConfigError "<file>: <key path>: <what is wrong>"."""
    with pytest.raises(BusinessConfigError) as raised:
        parse_business(text, "rules.toml")
    message = str(raised.value)
    assert message.startswith(f"rules.toml: {key}: "), message
    assert problem in message, message


@pytest.mark.parametrize(("text", "key", "problem"), BAD_FILES[:6])
def test_load_business_names_the_path_it_read(tmp_path, text, key, problem):
    """load_business reports the path of the file it was given."""
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(BusinessConfigError) as raised:
        load_business(str(path))
    message = str(raised.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert problem in message, message


def test_load_business_reads_a_valid_file(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(VALID, encoding="utf-8")
    assert list(load_business(str(path)).services) == ["massage-60"]


def test_missing_file_is_named(tmp_path):
    path = tmp_path / "nowhere" / "rules.toml"
    with pytest.raises(BusinessConfigError) as raised:
        load_business(str(path))
    message = str(raised.value)
    assert message.startswith(f"{path}: "), message
    assert "cannot be read" in message and "No such file" in message, message


def test_bad_file_stops_start_up(tmp_path):
    """create_app with BUSINESS_CONFIG pointing to a bad file raises, naming the file and the key."""
    path = tmp_path / "rules.toml"
    path.write_text(_variant("slot_step_minutes = 15", "slot_stepp_minutes = 15"), encoding="utf-8")
    with pytest.raises(BusinessConfigError) as raised:
        make_app(tmp_path, BUSINESS_CONFIG=str(path))
    message = str(raised.value)
    assert message.startswith(f"{path}: booking.slot_stepp_minutes: "), message
    assert "unknown key" in message, message


def test_missing_file_stops_start_up(tmp_path):
    path = tmp_path / "missing.toml"
    with pytest.raises(BusinessConfigError, match="cannot be read") as raised:
        make_app(tmp_path, BUSINESS_CONFIG=str(path))
    assert str(raised.value).startswith(f"{path}: ")
