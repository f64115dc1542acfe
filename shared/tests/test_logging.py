"""Logs never carry a customer's phone number (brief: never log a customer's phone)."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest
import structlog

from shared.logging import configure_logging, get_logger, mask_phone, redact


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """configure_logging changes process-wide state; later tests get the logging they started with."""
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**config)
    structlog.contextvars.clear_contextvars()


def test_phone_shapes_are_masked_anywhere() -> None:
    text = "王女士 13812345678 / +86 139 0000 1111 / 020-12345678 / 0086-13612345678 回电"
    out = redact(text)
    for digits in ("13812345678", "139 0000 1111", "12345678", "13612345678"):
        assert digits not in out
    assert "***5678" in out and "***1111" in out


def test_phone_fields_keep_only_the_last_four_digits() -> None:
    assert redact({"customer": {"phone": "+8613812345678", "name": "王"}}) == {
        "customer": {"phone": "***5678", "name": "王"}
    }
    assert mask_phone("12") == "***"


def test_configured_logs_are_redacted_from_structlog_and_stdlib(capsys) -> None:
    configure_logging("test", level="INFO", json=True)
    get_logger("t").info("caller", phone="13812345678", note="call back on 13900001111")
    logging.getLogger("somelib").warning("raw record mentions 13700002222")
    out = capsys.readouterr().out
    assert "13812345678" not in out and "13900001111" not in out and "13700002222" not in out
    assert "***5678" in out and "***2222" in out


def test_logging_survives_the_stdout_it_was_configured_with_being_closed(monkeypatch) -> None:
    """pytest closes each test's captured stdout; records after that go to the stdout of the moment."""
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", first)
    configure_logging("test", level="INFO", json=True)
    first.close()
    monkeypatch.setattr(sys, "stdout", second)
    failed: list[logging.LogRecord] = []
    monkeypatch.setattr(logging.Handler, "handleError", lambda _self, record: failed.append(record))
    get_logger("t").info("after the first stdout closed")
    logging.getLogger("somelib").warning("and a library record")
    assert failed == []
    assert (
        "after the first stdout closed" in second.getvalue() and "and a library record" in second.getvalue()
    )
