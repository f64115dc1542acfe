"""Small files of every kind an attachment may be, and some it may not, made here (no fixtures on disk)."""

from __future__ import annotations

import struct
import zlib


def png(width: int = 2, height: int = 2) -> bytes:
    """A real PNG (grey pixels) a browser can show."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def jpeg(size: int = 0) -> bytes:
    """JPEG's markers (SOI, JFIF APP0) and padding up to `size` bytes."""
    head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    return head + b"\x00" * max(0, size - len(head) - 2) + b"\xff\xd9"


def heic(major: bytes = b"heic", compatible: tuple[bytes, ...] = (b"mif1", b"heic")) -> bytes:
    """An ISO-BMFF file whose brand is HEIC (what a phone camera writes), or another `ftyp` brand."""
    ftyp = b"ftyp" + major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", len(ftyp) + 4) + ftyp + b"\x00" * 64


def mp4() -> bytes:
    """An ISO-BMFF video (brand isom): the same box as a HEIC photo's, and still no photo."""
    return heic(b"isom", (b"isom", b"iso2", b"mp41"))


def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def windows_executable() -> bytes:
    """The start of a Windows executable (MZ header): what must be refused whatever it is named."""
    return (
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
        + b"\x00" * 48
        + b"This program cannot be run"
    )


def elf_executable() -> bytes:
    return b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56
