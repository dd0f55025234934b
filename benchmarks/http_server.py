"""The HTTP load benchmark's server: the API over one database, under uvicorn, in its own process.

    python -m benchmarks.http_server URL

Serves ``create_app(Velocity.from_url(URL))`` on 127.0.0.1 at a free port
with uvicorn's default settings (one worker, one process), prints the port
on a line of its own once it accepts connections, and stops on SIGTERM. The
cursor key is ``$VELOCITY_CURSOR_KEY`` (``http_load`` sets it). This module
imports only what the server needs, so the process starts quickly.
"""

from __future__ import annotations

import sys
import threading
import time

import uvicorn

from velocity_domain import Velocity
from velocity_domain.asgi import create_app


def main(argv: list[str] | None = None) -> int:
    """Serve the database at the URL given until SIGTERM."""
    (url,) = sys.argv[1:] if argv is None else argv
    with Velocity.from_url(url) as velocity:
        config = uvicorn.Config(
            create_app(velocity), host="127.0.0.1", port=0, log_level="warning", access_log=False
        )
        server = uvicorn.Server(config)

        def announce() -> None:
            while not server.started:
                if server.should_exit:
                    return
                time.sleep(0.01)
            print(server.servers[0].sockets[0].getsockname()[1], flush=True)

        threading.Thread(target=announce, name="announce-port", daemon=True).start()
        server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
