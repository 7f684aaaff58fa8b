"""Connections that never finish sending their headers are closed (uvicorn has no header-read timeout: thousands of
sockets that each send half a request line would stay open, each a file descriptor and a buffer).

``HeaderTimeout`` is uvicorn's own HTTP protocol (httptools or h11, as uvicorn would choose) with one timer: armed
when the connection opens and after each response, it closes the connection unless a new request's headers were
complete by then (both protocols start a new request cycle exactly then). Installed by ``install`` as uvicorn's
"auto" protocol before Gradio starts its server."""
from __future__ import annotations

from uvicorn.protocols.http.auto import AutoHTTPProtocol

from vtdemo import limits


class HeaderTimeout(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def _arm(self) -> None:
        self.loop.call_later(limits.header_timeout_seconds(), self._check, self.cycle)

    def _check(self, cycle_then) -> None:
        transport = self.transport
        if transport.is_closing() or self.cycle is not cycle_then:
            return  # closed, or a request's headers arrived meanwhile
        if cycle_then is not None and not cycle_then.response_complete:
            return  # still answering the previous request (a stream)
        transport.close()


def install() -> None:
    from uvicorn import config

    config.HTTP_PROTOCOLS["auto"] = f"{__name__}:HeaderTimeout"
