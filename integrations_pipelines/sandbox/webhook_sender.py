"""The background thread that pushes a sandbox's webhook deliveries to the app's endpoint.

Vendors push webhooks from their own infrastructure, asynchronously, while the merchant or
the bookkeeper keeps working: the sandboxes do the same from one daemon thread per store,
started lazily by the first queued delivery, woken whenever work is queued or a knob changes,
and stopped by `close()` (which `SandboxServer.stop` calls through the store). Each delivery is
a real HTTP POST over loopback, with the vendor's timeout.
"""

from __future__ import annotations

import threading
import time

import httpx

__all__ = ["POLL_SECONDS", "WebhookSender"]

POLL_SECONDS = 0.05  # how often a paused or waiting sender looks at its knobs again


class WebhookSender:
    """Runs `step()` on a daemon thread until it has nothing due; subclasses own the queue.

    `step(client)` sends at most one request and returns how many seconds until more work is
    due (0 for "now", None for "nothing queued"); `pending()` tells `wait_idle` whether any
    delivery is still to be sent.
    """

    def __init__(self, name: str, timeout_seconds: float) -> None:
        self.name = name
        self.timeout_seconds = timeout_seconds
        self._wake = threading.Condition()
        self._dirty = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- for subclasses ----------------------------------------------------------------------
    def step(self, client: httpx.Client) -> float | None:
        raise NotImplementedError

    def pending(self) -> bool:
        raise NotImplementedError

    @staticmethod
    def post(client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> int | None:
        """POST one delivery; the HTTP status, or None when it timed out or never connected."""
        try:
            return client.post(url, content=body, headers=headers).status_code
        except httpx.HTTPError:
            return None

    # -- lifecycle -----------------------------------------------------------------------------
    def poke(self) -> None:
        """Work was queued or a knob changed: start the thread if needed and wake it."""
        with self._wake:
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            self._dirty = True
            self._wake.notify_all()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread (queued deliveries stay queued; the next `poke` restarts it)."""
        with self._wake:
            thread, self._stopping = self._thread, True
            self._wake.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        with self._wake:
            self._thread = None

    def wait_idle(self, timeout: float) -> bool:
        """For tests: True as soon as nothing is left to send, False if `timeout` passes first."""
        deadline = time.monotonic() + timeout
        while self.pending():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def _stop_requested(self) -> bool:
        """`close()` asked the thread to stop (read under `_wake`). A call, not the attribute
        in `_run`: mypy would keep the first check's narrowing across `step()`, though
        another thread sets the flag meanwhile."""
        return self._stopping

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout_seconds) as client:
            while True:
                with self._wake:
                    if self._stop_requested():
                        return
                    self._dirty = False
                wait = self.step(client)
                if wait is not None and wait <= 0:
                    continue
                with self._wake:
                    if self._stop_requested():
                        return
                    if not self._dirty:
                        self._wake.wait(POLL_SECONDS if wait is None else min(wait, POLL_SECONDS))
