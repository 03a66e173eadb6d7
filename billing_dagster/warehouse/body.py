"""Request bodies as ClickHouse clients send them: compressed, or as multipart forms."""

from __future__ import annotations

import gzip
import zlib
from email.parser import BytesParser
from email.policy import HTTP

import lz4.frame
import zstandard


def decode_body(raw: bytes, content_encoding: str) -> bytes:
    """Undo `Content-Encoding`. Clients compress each block as its own frame, so every
    decoder here reads all concatenated frames, not just the first."""
    encoding = content_encoding.strip().lower()
    if not raw or encoding in ("", "identity"):
        return raw
    if encoding == "gzip":
        return gzip.decompress(raw)
    if encoding == "deflate":
        return zlib.decompress(raw)
    if encoding == "zstd":
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        return reader.read()
    if encoding == "lz4":
        return _lz4_frames(raw)
    raise ValueError(f"unsupported Content-Encoding {content_encoding!r}")


def _lz4_frames(raw: bytes) -> bytes:
    parts = []
    while raw:
        decompressor = lz4.frame.LZ4FrameDecompressor()
        parts.append(decompressor.decompress(raw))
        raw = decompressor.unused_data
    return b"".join(parts)


def split_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], bytes]:
    """A multipart/form-data request: its named fields (query, param_*) and no body left."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[name] = part.get_payload(decode=True).decode()
    return fields, b""
