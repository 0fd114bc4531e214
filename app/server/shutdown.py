"""A shutdown that starts at once and always ends.

On SIGTERM/SIGINT uvicorn first waits for open requests, then runs the app's shutdown. Here the
app hears of the signal at once (waiting requests and progress streams answer, the dispatcher
stops claiming, so calls in flight use the grace while requests drain), and a watchdog thread
ends the process if the whole shutdown overruns its bound, whatever is stuck. The handler is
installed while the app runs and chains to uvicorn's own, in every worker process alike.

A worker of `serve --workers N` also stops when its supervisor is gone: a supervisor killed
with SIGKILL cannot pass the signal on, and its workers would go on serving and dispatching.
"""

import asyncio
import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

log = logging.getLogger(__name__)

# Past the grace for calls in flight: writing their answers, releasing the rest, closing
# adapters and the database (the embedded server takes a second or two to stop).
SHUTDOWN_MARGIN_S = 10.0
_SIGNALS = (signal.SIGTERM, signal.SIGINT)

Handler = Callable[[int, FrameType | None], object] | int | None


def stop_on_signal(begin_shutdown: Callable[[], None], grace_s: float) -> Callable[[], None]:
    """Make SIGTERM and SIGINT call `begin_shutdown` (on this event loop) and arm the
    watchdog, before whatever handled them so far; returns the function that undoes it.
    Does nothing outside the main thread, where signals cannot be handled."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous: dict[int, Handler] = {}
    armed = threading.Event()

    def handle(sig: int, frame: FrameType | None) -> None:
        if not armed.is_set():
            armed.set()
            threading.Thread(
                target=_watchdog, args=(grace_s + SHUTDOWN_MARGIN_S,), daemon=True
            ).start()
            loop.call_soon_threadsafe(begin_shutdown)
        before = previous[sig]
        if callable(before):
            before(sig, frame)

    for sig in _SIGNALS:
        previous[sig] = signal.signal(sig, handle)

    def undo() -> None:
        for sig, before in previous.items():
            if signal.getsignal(sig) is handle:
                signal.signal(sig, before)

    return undo


def _watchdog(limit_s: float) -> None:
    threading.Event().wait(limit_s)
    log.error("shutdown took more than %.0f s; exiting now", limit_s)
    logging.shutdown()
    os._exit(1)


def stop_when_orphaned(period_s: float = 1.0) -> Callable[[], None]:
    """SIGTERM to this process, the clean way out above, once its parent process is gone
    (checked every `period_s` from a thread, which a busy event loop cannot hold up); for a
    worker process of a supervisor. Returns the function that stops watching."""
    parent = os.getppid()
    done = threading.Event()

    def watch() -> None:
        while not done.wait(period_s):
            if os.getppid() != parent:  # adopted by another process: the parent died
                log.warning("the supervising process %d is gone; stopping", parent)
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, name="orphan-watch", daemon=True).start()
    return done.set
