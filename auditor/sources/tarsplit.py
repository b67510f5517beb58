# SPDX-License-Identifier: Apache-2.0
"""Discovery stage: rebuild a layer's original tar from its tar-split record and its files.

Docker (`layerdb/sha256/<chain>/tar-split.json.gz`) and containers-storage
(`<driver>-layers/<id>.tar-split.gz`) keep, for every layer, the raw bytes of the tar's
headers and padding but not the file bodies, which sit unpacked in the layer's directory.
The record is gzip'd JSON, one object per line, in tar order (vbatts/tar-split "storage"
entries):

    {"type":2,"payload":"<base64 raw bytes>","position":0}             segment
    {"type":1,"name":"etc/motd","size":1,"payload":"<crc64>","position":1}  file body

A file entry names its body by `name` (or base64 `name_raw` when the name is not UTF-8);
only entries with size > 0 have a body. Interleaving segments and bodies gives back the
byte-exact tar, which hashes to the layer's diff_id: no daemon and no `docker save`.
The stream reads one line and one file at a time, so memory stays bounded by the longest
line, whatever the layer's size. Bodies are opened below the layer directory with
`safefs` (no `..`, no absolute names, no symlink anywhere), and each must be a regular file
of exactly the recorded size.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import io
import json
import logging
import os
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..errors import InputError
from .safefs import Tree, components, open_regular

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

log = logging.getLogger(__name__)

FILE_ENTRY = 1
SEGMENT_ENTRY = 2
# A segment is a header block or padding; even long PAX headers (xattrs, long names) are
# kilobytes. Anything beyond this is a damaged or hostile record, not a tar header.
LINE_LIMIT = 16 * 1024 * 1024
READ_BUFFER = 1024 * 1024


class TarSplitStream(io.RawIOBase):
    """The original layer tar, assembled on the fly. Owns (and closes) both descriptors.

    `tar_split` is an open descriptor of the gzip'd record, `content` the layer directory;
    `record` and the content tree's display path name them in error messages.
    """

    def __init__(self, tar_split: int, content: Tree, *, record: str) -> None:
        super().__init__()
        self._record_name = record
        self._content = content
        self._raw_record: BinaryIO | None = os.fdopen(tar_split, "rb")
        self._lines: gzip.GzipFile | None = gzip.GzipFile(fileobj=self._raw_record, mode="rb")
        self._line_no = 0
        self._pending = memoryview(b"")  # rest of the current segment
        self._member: io.FileIO | None = None  # current file body
        self._member_name = ""
        self._member_left = 0
        self._dir_key: list[bytes] | None = None  # parent dir of the last body, kept open:
        self._dir_fd = -1  # tar order visits a directory's files together
        self._offset = 0
        self._done = False

    # -- io.RawIOBase -----------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._offset

    def readinto(self, buffer: WriteableBuffer) -> int:
        """Fill `buffer` completely unless the tar ends first (short reads only at EOF)."""
        if self.closed:
            raise ValueError("read from a closed layer stream")
        view = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(view):
            if self._pending:
                n = min(len(self._pending), len(view) - filled)
                view[filled : filled + n] = self._pending[:n]
                self._pending = self._pending[n:]
                filled += n
            elif self._member is not None:
                want = min(self._member_left, len(view) - filled)
                n = self._member.readinto(view[filled : filled + want]) or 0
                if n == 0:
                    raise InputError(
                        f"{self._member_name}: ended {self._member_left} bytes early while "
                        "being read (store modified?)"
                    )
                filled += n
                self._member_left -= n
                if self._member_left == 0:
                    self._close_member()
            elif not self._next_entry():
                break
        self._offset += filled
        return filled

    def close(self) -> None:
        if not self.closed:
            self._close_member()
            if self._dir_fd >= 0:
                os.close(self._dir_fd)
                self._dir_fd = -1
            if self._lines is not None:
                self._lines.close()
                self._lines = None
            if self._raw_record is not None:
                self._raw_record.close()
                self._raw_record = None
            self._content.close()
        super().close()

    # -- assembling -------------------------------------------------------------------

    def _fail(self, problem: str) -> InputError:
        return InputError(f"{self._record_name}: line {self._line_no} {problem}")

    def _read_line(self) -> bytes:
        assert self._lines is not None
        try:
            line = self._lines.readline(LINE_LIMIT + 1)
        except (OSError, EOFError, zlib.error) as exc:
            # BadGzipFile is an OSError; a truncated file ends in EOFError.
            raise InputError(f"{self._record_name}: not a readable gzip file ({exc})") from None
        self._line_no += 1
        if len(line) > LINE_LIMIT:
            raise self._fail(f"is longer than {LINE_LIMIT} bytes")
        return line

    def _next_entry(self) -> bool:
        """Load the next segment or open the next file body; False at the end of the record."""
        while not self._done:
            line = self._read_line()
            if not line:
                self._done = True
                break
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise self._fail("is not valid JSON") from None
            if not isinstance(entry, dict):
                raise self._fail("is not a JSON object")
            kind = entry.get("type")
            if kind == SEGMENT_ENTRY:
                self._pending = memoryview(self._b64(entry.get("payload"), "payload"))
                if self._pending:
                    return True
            elif kind == FILE_ENTRY:
                size = entry.get("size", 0)
                if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                    raise self._fail(f"has an invalid size {size!r}")
                if size > 0:
                    self._open_member(self._name(entry), size)
                    return True
            else:
                raise self._fail(f"has unknown entry type {kind!r}")
        return False

    def _b64(self, value: Any, field: str) -> bytes:
        if value is None:
            return b""
        if not isinstance(value, str):
            raise self._fail(f"has a non-string {field}")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise self._fail(f"has a {field} that is not valid base64") from None

    def _name(self, entry: dict[str, Any]) -> bytes:
        raw = self._b64(entry.get("name_raw"), "name_raw")
        if raw:
            return raw
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise self._fail("is a file entry without a name")
        return name.encode("utf-8", "surrogateescape")

    def _open_member(self, name: bytes, size: int) -> None:
        display = self._content.name(name)
        parts = components(name, f"{self._record_name}: line {self._line_no}")
        parent = parts[:-1]
        if parent != self._dir_key:
            if self._dir_fd >= 0:
                os.close(self._dir_fd)
                self._dir_fd, self._dir_key = -1, None
            self._dir_fd = self._content.walk(parent)
            self._dir_key = parent
        fd, st = open_regular(self._dir_fd, parts[-1], display)
        if st.st_size != size:
            os.close(fd)
            raise InputError(
                f"{display}: is {st.st_size} bytes but {self._record_name} records {size} "
                "(store modified?)"
            )
        self._member = io.FileIO(fd, "rb", closefd=True)
        self._member_name = display
        self._member_left = size

    def _close_member(self) -> None:
        if self._member is not None:
            self._member.close()
            self._member = None


def open_layer_tar(store: Path, display: str, record: str, content: str) -> TarSplitStream:
    """Open the tar of one layer of the store at `store` (shown to users as `display`).

    `record` (the tar-split file) and `content` (the layer directory) are relative to the
    store and resolved below it without following symlinks.
    """
    with Tree.open(store, display) as tree:
        fd, _ = tree.open_file(record)
        try:
            layer_dir = tree.subtree(content)
        except BaseException:
            os.close(fd)
            raise
        record_name = tree.name(record)
    log.debug("assembling %s from %s", record_name, layer_dir.display)
    return TarSplitStream(fd, layer_dir, record=record_name)


def layer_opener(store: Path, display: str, record: str, content: str) -> io.BufferedReader:
    """`LayerSource.open` for store layers: the assembled tar, buffered for small reads."""
    return io.BufferedReader(open_layer_tar(store, display, record, content), READ_BUFFER)
