"""Logs never carry a customer's phone number (brief: never log a customer's phone)."""

from __future__ import annotations

import logging

from shared.logging import configure_logging, get_logger, mask_phone, redact


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
