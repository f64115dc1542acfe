"""An attachment's type from its bytes (R-EV-1): every HEVC-coded HEIF brand a phone writes is a HEIC
photo; any other ISO-BMFF file (a video, an AVIF) is refused like everything else."""

from __future__ import annotations

import io
import struct

import pytest
from fastapi import HTTPException, UploadFile

from shared.attachments import read_upload, sniff
from shared.testing import samples

HEVC_BRANDS = [b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"]


@pytest.mark.parametrize("brand", HEVC_BRANDS, ids=lambda b: b.decode())
def test_every_hevc_brand_is_a_heic_photo(brand: bytes) -> None:
    assert sniff(samples.heic(brand, (b"mif1", brand))) == "image/heic"
    assert sniff(samples.heic(brand, ())) == "image/heic"  # no compatible brands: the major one decides


@pytest.mark.parametrize("generic", [b"mif1", b"msf1"], ids=lambda b: b.decode())
@pytest.mark.parametrize("brand", HEVC_BRANDS, ids=lambda b: b.decode())
def test_a_generic_heif_file_is_heic_when_it_lists_an_hevc_brand(generic: bytes, brand: bytes) -> None:
    assert sniff(samples.heic(generic, (generic, b"miaf", brand))) == "image/heic"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(samples.mp4(), id="isom-mp4"),
        pytest.param(samples.heic(b"mif1", (b"mif1", b"miaf", b"avif")), id="mif1-avif"),
        pytest.param(samples.heic(b"avif", (b"mif1", b"avif")), id="avif"),
        pytest.param(samples.heic(b"mif1", (b"mif1", b"miaf")), id="mif1-no-codec"),
        pytest.param(samples.heic(b"isom", (b"isom", b"heic")), id="mp4-naming-heic"),
        pytest.param(samples.heic(b"qt  ", ()), id="quicktime"),
        pytest.param(struct.pack(">I", 4096) + b"ftypheix" + b"\x00" * 8, id="ftyp-longer-than-file"),
        pytest.param(b"\x00\x00\x00\x01ftypheic" + b"\x00" * 16, id="ftyp-64-bit-size"),
        pytest.param(b"\x00\x00\x00\x18moovheic" + b"\x00" * 16, id="no-ftyp-box"),
        pytest.param(b"ftypheic", id="too-short"),
    ],
)
def test_any_other_iso_bmff_file_is_refused(data: bytes) -> None:
    assert sniff(data) is None


def test_the_other_accepted_types_and_an_executable_are_unchanged() -> None:
    assert sniff(samples.png()) == "image/png"
    assert sniff(samples.jpeg(64)) == "image/jpeg"
    assert sniff(samples.pdf()) == "application/pdf"
    assert sniff(samples.windows_executable()) is None


async def test_an_upload_is_typed_from_its_bytes_whatever_its_name() -> None:
    photo = UploadFile(io.BytesIO(samples.heic(b"heix", (b"mif1", b"heix"))), filename="IMG_0001.jpg")
    assert (await read_upload(photo))[1] == "image/heic"
    video = UploadFile(io.BytesIO(samples.mp4()), filename="IMG_0002.heic")
    with pytest.raises(HTTPException) as refused:
        await read_upload(video)
    assert refused.value.status_code == 415
