"""A local picture server for tests that hand Apiframe (the sandbox) an image URL: references,
upscale and edit inputs. The sandbox fetches every one at submission, as Apiframe does, so a
made-up URL is a 400; `pictures` (tests/conftest.py) serves real files on 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.test_utils import TestServer
from PIL import Image


def picture(
    width: int, height: int, colour: tuple[int, int, int] = (220, 30, 30), fmt: str = "PNG"
) -> bytes:
    """A flat picture of one colour, encoded as `fmt`."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, fmt)
    return buffer.getvalue()


@dataclass
class Pictures:
    """A local web server for input images: `add(name, ...)` serves a file at `url(name)`."""

    base: str = ""
    files: dict[str, tuple[int, bytes, str, float, bool]] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)

    def add(
        self,
        name: str,
        data: bytes,
        content_type: str = "image/png",
        status: int = 200,
        delay: float = 0.0,
        chunked: bool = False,
    ) -> str:
        """Serve `data` at `name` (after `delay` s; `chunked`: without a Content-Length)."""
        self.files[name] = (status, data, content_type, delay, chunked)
        return self.url(name)

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.hits.append(name)
        if name not in self.files:
            return web.Response(status=404, text="not here")
        status, data, content_type, delay, chunked = self.files[name]
        await asyncio.sleep(delay)
        if not chunked:
            return web.Response(status=status, body=data, content_type=content_type)
        response = web.StreamResponse(status=status, headers={"Content-Type": content_type})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(data), 4096):
            await response.write(data[start : start + 4096])
        await response.write_eof()
        return response


async def serve_pictures() -> AsyncIterator[Pictures]:
    """Serves a 400x300 red PNG at `red.png` and whatever a test adds (the `pictures` fixture)."""
    served = Pictures()
    app = web.Application()
    app.router.add_get("/{name}", served.handle)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    served.base = str(server.make_url("")).rstrip("/")
    served.add("red.png", picture(400, 300))
    yield served
    await server.close()
