"""Request bodies within Datadog's size limits: Content-Encoding undone, compressed and decompressed sizes bounded."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from starlette.requests import Request

from autonomic_lib.errors import IntakeError

MAX_JSON_BODY = 8 * 1024 * 1024
"""The sandbox's own bound on a JSON API body (dashboards, monitors, workflows...): Datadog documents none."""


@dataclass(frozen=True)
class IntakeLimits:
    """Payload limits of one intake endpoint (bytes)."""

    max_compressed: int
    max_decompressed: int


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, read no further than `limit` bytes: a 413 as soon as the declared or received size passes it.

    `request.body()` would buffer whatever a client sends before any check could run.
    """
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> IntakeError:
    return IntakeError(413, f"Payload too large: {size} bytes exceeds the {limit} byte limit")


def decode_body(body: bytes, encoding: str | None, limits: IntakeLimits, *, allow_zstd: bool) -> bytes:
    """Undo Content-Encoding within the size limits; 413 past a limit, 400 on a corrupt or unknown encoding."""
    if len(body) > limits.max_compressed:
        raise _too_large(len(body), limits.max_compressed)
    enc = (encoding or "identity").strip().lower()
    if enc in ("identity", ""):
        raw = body
    elif enc in ("gzip", "deflate"):
        # gzip is a gzip stream; Datadog's "deflate" is zlib-wrapped (RFC 1950), as the client sends it
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if enc == "gzip" else zlib.MAX_WBITS)
        try:
            raw = inflater.decompress(body, limits.max_decompressed + 1)
        except zlib.error as exc:
            raise IntakeError(400, f"Request body is not valid {enc} data: {exc}") from None
        if not inflater.eof and len(raw) <= limits.max_decompressed:
            raise IntakeError(400, f"Request body is truncated {enc} data")
    elif enc == "zstd1" and allow_zstd:
        import zstandard

        try:
            reader = zstandard.ZstdDecompressor().stream_reader(body)
            raw = reader.read(limits.max_decompressed + 1)
        except zstandard.ZstdError as exc:
            raise IntakeError(400, f"Request body is not valid zstd data: {exc}") from None
    else:
        allowed = "gzip, deflate" + (", zstd1" if allow_zstd else "")
        raise IntakeError(400, f"Unsupported Content-Encoding {encoding!r}; use {allowed} or none")
    if len(raw) > limits.max_decompressed:
        raise IntakeError(413, f"Payload too large: decompressed body exceeds the {limits.max_decompressed} byte limit")
    return raw
