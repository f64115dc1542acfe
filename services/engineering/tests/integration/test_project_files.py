"""Files on a project over HTTP on the real store (R-EV-1): engineering adds a signed form from a phone,
every role that reads projects lists and downloads it, the project's history names it, and what is not a
photo or a PDF is refused whatever it is called."""

from __future__ import annotations

import hashlib

import pytest

from shared.testing.samples import pdf, png, windows_executable

pytestmark = pytest.mark.integration


async def test_engineering_attaches_a_signed_form_and_every_reader_gets_it(engineering, drive, keys) -> None:
    pid = await drive.open()
    signed = pdf()
    res = await engineering.post(
        f"/v1/projects/{pid}/attachments",
        headers=keys["engineering"] | {"Idempotency-Key": "form-1"},
        files={"file": ("验收单.pdf", signed, "application/octet-stream")},
        data={"kind": "signed_form", "note": "监理签字"},
    )
    assert res.status_code == 201, res.text
    stored = res.json()
    assert stored["content_type"] == "application/pdf"  # from the bytes, not the header sent
    assert stored["sha256"] == hashlib.sha256(signed).hexdigest()
    assert (stored["owner_kind"], stored["owner_id"], stored["kind"]) == ("project", pid, "signed_form")
    assert (stored["uploaded_by"], stored["role"]) == ("eng-wu", "engineering")

    # A double submit of the form stores one file.
    again = await engineering.post(
        f"/v1/projects/{pid}/attachments",
        headers=keys["engineering"] | {"Idempotency-Key": "form-1"},
        files={"file": ("验收单.pdf", signed, "application/octet-stream")},
        data={"kind": "signed_form", "note": "监理签字"},
    )
    assert again.status_code == 201 and again.json()["attachment_id"] == stored["attachment_id"]
    photo = await engineering.post(
        f"/v1/projects/{pid}/attachments",
        headers=keys["management"],
        files={"file": ("site.png", png(), "image/png")},
    )
    assert photo.status_code == 201 and photo.json()["kind"] == "other"

    # The after-sales manager reads projects without prices; it lists and downloads the files all the same.
    listed = await engineering.get(f"/v1/projects/{pid}/attachments", headers=keys["manager"])
    assert listed.status_code == 200
    assert [a["attachment_id"] for a in listed.json()["items"]] == [
        stored["attachment_id"],
        photo.json()["attachment_id"],
    ]
    got = await engineering.get(stored["href"], headers=keys["manager"])
    assert got.status_code == 200 and got.content == signed
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["x-content-type-options"] == "nosniff"

    history = (await engineering.get(f"/v1/projects/{pid}", headers=keys["engineering"])).json()["history"]
    attached = [h for h in history if h["action"] == "file_attached"]
    assert len(attached) == 2, history  # the retried upload wrote no second line
    assert stored["attachment_id"] in attached[0]["detail"] and attached[0]["by"] == "eng-wu"


async def test_what_is_not_a_photo_or_pdf_is_refused_and_roles_are_held(engineering, drive, keys) -> None:
    pid = await drive.open()
    exe = await engineering.post(
        f"/v1/projects/{pid}/attachments",
        headers=keys["engineering"],
        files={"file": ("photo.jpg", windows_executable(), "image/jpeg")},
    )
    assert exe.status_code == 415 and "content" in exe.text
    big = await engineering.post(
        f"/v1/projects/{pid}/attachments",
        headers=keys["engineering"],
        files={"file": ("big.png", png() + b"\x00" * (10 * 1024 * 1024), "image/png")},
    )
    assert big.status_code == 413
    # A reader that is not engineering or management adds nothing; a channel reads nothing.
    by_manager = await engineering.post(
        f"/v1/projects/{pid}/attachments",
        headers=keys["manager"],
        files={"file": ("a.png", png(), "image/png")},
    )
    assert by_manager.status_code == 403
    assert (
        await engineering.get(f"/v1/projects/{pid}/attachments", headers=keys["dealer"])
    ).status_code == 403
    assert (await engineering.get(f"/v1/projects/{pid}/attachments", headers=keys["engineering"])).json() == {
        "items": []
    }
    # No such project: refused before anything is stored.
    missing = await engineering.post(
        "/v1/projects/P-2020-999/attachments",
        headers=keys["engineering"],
        files={"file": ("a.png", png(), "image/png")},
    )
    assert missing.status_code == 404


async def test_a_file_is_fetched_only_through_its_own_project(engineering, drive, keys) -> None:
    first = await drive.open(serials=("XF1K2501000101",))
    second = await drive.open(serials=("XF1K2501000102",))
    res = await engineering.post(
        f"/v1/projects/{first}/attachments",
        headers=keys["engineering"],
        files={"file": ("a.png", png(), "image/png")},
    )
    attachment_id = res.json()["attachment_id"]
    wrong = await engineering.get(
        f"/v1/projects/{second}/attachments/{attachment_id}", headers=keys["engineering"]
    )
    assert wrong.status_code == 404
