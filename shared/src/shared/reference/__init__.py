"""Reference data every service reads the same way: regions and the product catalogue."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import yaml


@dataclass(frozen=True)
class Region:
    code: str
    name_zh: str
    name_en: str
    provinces: tuple[str, ...]
    regional_manager: str | None = None


@dataclass(frozen=True)
class Product:
    model: str
    kind: str
    name_zh: str
    name_en: str
    serial_prefix: str | None
    key_parts: tuple[str, ...]
    launched_on: date


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    )
    return data


@cache
def regions() -> tuple[Region, ...]:
    return tuple(
        Region(r["code"], r["name_zh"], r["name_en"], tuple(r["provinces"]), r.get("regional_manager"))
        for r in _load("regions.yaml")["regions"]
    )


def regional_manager_gaps(known: tuple[Region, ...] | None = None) -> list[Region]:
    """Regions without a regional manager: no one to source a part locally or repair on site there."""
    return [r for r in (known if known is not None else regions()) if not r.regional_manager]


@cache
def products() -> tuple[Product, ...]:
    return tuple(
        Product(
            p["model"],
            p["kind"],
            p["name_zh"],
            p["name_en"],
            p.get("serial_prefix"),
            tuple(p["key_parts"]),
            p["launched_on"],
        )
        for p in _load("products.yaml")["products"]
    )


def _squash(text: str) -> str:
    return re.sub(r"[\s\-_/.]", "", text).upper()


@cache
def _region_aliases() -> dict[str, str]:
    aliases: dict[str, str] = {}
    for r in regions():
        for alias in (r.code, r.name_zh, r.name_en, r.name_zh + "区", r.name_zh + "大区"):
            aliases[_squash(alias)] = r.code
    return aliases


def canonical_region(text: str | None) -> str | None:
    """The region code for a region's code/name, or for a province or address that names one."""
    if not text:
        return None
    hit = _region_aliases().get(_squash(text))
    if hit:
        return hit
    return region_of_address(text)


def region_of_address(address: str | None) -> str | None:
    """The region of the first province an address mentions (广东省深圳市… -> south_china)."""
    if not address:
        return None
    best: tuple[int, str] | None = None
    for r in regions():
        for province in r.provinces:
            pos = address.find(province)
            if pos >= 0 and (best is None or pos < best[0]):
                best = (pos, r.code)
    return best[1] if best else None


@cache
def _models_by_squash() -> dict[str, Product]:
    index: dict[str, Product] = {}
    for p in products():
        index[_squash(p.model)] = p
        index[_squash(p.model.removeprefix("YD-"))] = p
    return index


def canonical_product(model: str | None) -> Product | None:
    """The catalogue entry for a model as typed (yd xf250, YD-XF-250, xf250 -> YD-XF250)."""
    if not model:
        return None
    return _models_by_squash().get(_squash(model))


def product_of_serial(serial_no: str | None) -> Product | None:
    """The catalogue entry whose serial prefix starts this serial number."""
    if not serial_no:
        return None
    s = _squash(serial_no)
    matches = [p for p in products() if p.serial_prefix and s.startswith(p.serial_prefix.upper())]
    return max(matches, key=lambda p: len(p.serial_prefix or ""), default=None)


def production_batch(serial_no: str | None) -> str | None:
    """The production batch a serial number names: the model's serial prefix and the production year and
    month after it (XF250 2405 001234 → XF250-2405; see products.yaml). None when the serial does not
    follow the layout. Warranty's unit record and the quality department's figures both read it."""
    product = product_of_serial(serial_no)
    if product is None or not product.serial_prefix or not serial_no:
        return None
    match = re.match(r"(\d{2})(0[1-9]|1[0-2])", _squash(serial_no)[len(product.serial_prefix) :])
    return f"{product.serial_prefix}-{match.group(1)}{match.group(2)}" if match else None


def check_sale_date(day: date, model: str | None = None, serial_no: str | None = None) -> date:
    """`day` as a purchase or invoice date: not before the model was launched (the catalogue's first
    launch when the model is not known). Raises ValueError naming the bound."""
    product = canonical_product(model) or product_of_serial(serial_no)
    if product is not None and day < product.launched_on:
        raise ValueError(
            f"{product.model} went on sale on {product.launched_on.isoformat()}; "
            f"{day.isoformat()} is before it"
        )
    first = min(p.launched_on for p in products())
    if day < first:
        raise ValueError(
            f"no Yingde product was on sale before {first.isoformat()}; {day.isoformat()} is before it"
        )
    return day


# Phones and serials have one canonical form across the suite: intake writes it, dispatch searches by it.


def normalise_phone(raw: str) -> str:
    """A Chinese mobile, landline or 400/800 number in E.164 (+8613812345678, +862012345678).

    Accepts spaces, dashes, brackets, and a +86 / 0086 / 86 prefix. Raises ValueError otherwise.
    """
    digits = re.sub(r"[\s\-()（）]", "", raw)
    if digits.startswith("+"):
        digits = digits[1:]
        if not digits.startswith("86"):
            raise ValueError("only Chinese numbers (+86) are accepted")
        digits = digits[2:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not digits.isdigit():
        raise ValueError("a phone number contains only digits, spaces, dashes and an optional +86")
    if re.fullmatch(r"1[3-9]\d{9}", digits):
        return "+86" + digits
    if re.fullmatch(r"0[1-9]\d{1,2}\d{7,8}", digits) and 10 <= len(digits) <= 12:
        return "+86" + digits[1:]
    if re.fullmatch(r"[48]00\d{7}", digits):
        return "+86" + digits
    raise ValueError("not a Chinese mobile (11 digits, 1xx), landline with area code, or 400/800 number")


def normalise_serial(raw: str) -> str:
    serial = re.sub(r"\s", "", raw).upper()
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9\-]{3,39}", serial):
        raise ValueError("a serial number is 4-40 letters, digits or dashes")
    return serial
