"""Stored files: ids, download paths, and the little image sniffing photos need."""

from __future__ import annotations

import mimetypes
import struct
from pathlib import PurePosixPath

from bot.emulator.model import StoredFile


def image_size(content: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF, JPEG or WebP image; None if not recognised."""
    if content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) >= 24:
        width, height = struct.unpack(">II", content[16:24])
        return width, height
    if content[:6] in (b"GIF87a", b"GIF89a") and len(content) >= 10:
        width, height = struct.unpack("<HH", content[6:10])
        return width, height
    if content.startswith(b"\xff\xd8"):
        return _jpeg_size(content)
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP" and len(content) >= 30:
        if content[12:16] == b"VP8X":
            width = int.from_bytes(content[24:27], "little") + 1
            height = int.from_bytes(content[27:30], "little") + 1
            return width, height
        if content[12:16] == b"VP8 ":
            width, height = struct.unpack("<HH", content[26:30])
            return width & 0x3FFF, height & 0x3FFF
        return 1, 1  # lossless WebP: size hidden in a bitstream; not worth decoding
    return None


def _jpeg_size(content: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(content):
        if content[i] != 0xFF:
            return None
        marker = content[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", content[i + 2 : i + 4])
        # Start-of-frame markers carry the dimensions (C4, C8 and CC are not frames).
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", content[i + 5 : i + 9])
            return width, height
        i += 2 + length
    return None


class FileStore:
    """Every file the emulator knows, by file_id and by download path."""

    def __init__(self) -> None:
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._next = 1

    def add(
        self,
        content: bytes,
        *,
        kind: str,
        file_name: str | None,
        mime_type: str | None,
        size: tuple[int, int] | None = None,
    ) -> StoredFile:
        """Stores a new file.

        Args:
            content: The bytes.
            kind: ``"document"`` or ``"photo"``; decides id prefix and path folder.
            file_name: Original file name (documents).
            mime_type: MIME type; guessed from the name when missing.
            size: Width and height, for photos.
        """
        number = self._next
        self._next += 1
        suffix = PurePosixPath(file_name).suffix if file_name else ""
        if kind == "photo":
            suffix = ".jpg"
        if mime_type is None and file_name:
            mime_type = mimetypes.guess_type(file_name)[0]
        width, height = size or (0, 0)
        stored = StoredFile(
            file_id=f"{'AgAC' if kind == 'photo' else 'BQAC'}-emu-{number}",
            file_unique_id=f"AQAD-emu-{number}",
            file_path=f"{kind}s/file_{number}{suffix}",
            content=content,
            file_name=file_name,
            mime_type=mime_type,
            kind=kind,
            width=width,
            height=height,
        )
        self._by_id[stored.file_id] = stored
        self._by_path[stored.file_path] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        """Finds a file by file_id."""
        return self._by_id.get(file_id)

    def by_path(self, file_path: str) -> StoredFile | None:
        """Finds a file by the path used in download URLs."""
        return self._by_path.get(file_path)

    def clear(self) -> None:
        """Forgets every file."""
        self._by_id.clear()
        self._by_path.clear()
