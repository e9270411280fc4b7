"""A supervising parent for several worker processes (``server.workers``, ``run --workers``).

One process answers ~100 updates/s before Python's GIL holds it to one core; N forked workers
use N cores. The parent only supervises: it starts the workers, starts again one that dies (at
most ``MAX_RESTARTS`` deaths in ``RESTART_WINDOW`` seconds, then it stops them all and exits 1),
and turns SIGTERM or Ctrl+C into one SIGTERM to each worker, whose own graceful stop runs.

The parent blocks SIGCHLD, SIGTERM and SIGINT and takes them with ``sigwaitinfo``: one plain
loop, no handler racing with the bookkeeping. Workers start with the signals unblocked and
SIGINT ignored (Ctrl+C reaches the whole process group; the parent's SIGTERM is the one stop).
"""

from __future__ import annotations

import collections
import logging
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)

RESTART_WINDOW = 60.0  # seconds
MAX_RESTARTS = 5  # worker deaths within RESTART_WINDOW that are restarted; one more gives up
_SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}


def supervise(count: int, target: Callable[[int], object], on_stop: Callable[[], None] = lambda: None) -> int:
    """Run ``target(index)`` in ``count`` forked workers until a stop signal; the exit code:
    0 when every worker stopped cleanly, 1 when one did not or they kept dying. ``on_stop`` runs
    once when the stop begins (the server closes its copy of the listening socket there)."""
    signal.signal(signal.SIGCHLD, _no_op)  # a handled SIGCHLD stays pending while blocked
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    workers: dict[int, int] = {}  # pid -> worker index
    deaths: collections.deque[float] = collections.deque()
    stopping = failed = False

    def stop() -> None:
        nonlocal stopping
        stopping = True
        on_stop()
        for pid in workers:
            _kill(pid, signal.SIGTERM)

    try:
        for index in range(count):
            workers[_spawn(index, target)] = index
        log.info("supervisor %d: %d workers (pids %s)", os.getpid(), count, ", ".join(map(str, workers)))
        while workers:
            signo = signal.sigwaitinfo(_SIGNALS).si_signo
            if signo != signal.SIGCHLD:
                if stopping:  # a second Ctrl+C: do not wait for the graceful stop
                    log.warning("supervisor: stopping now (%s again)", signal.Signals(signo).name)
                    for pid in workers:
                        _kill(pid, signal.SIGKILL)
                else:
                    log.info("supervisor: %s, stopping %d workers", signal.Signals(signo).name, len(workers))
                    stop()
                continue
            for pid, code in _reaped():
                index = workers.pop(pid, None)
                if index is None:
                    continue
                if stopping:
                    failed |= code not in (0, -signal.SIGTERM)  # SIGTERM before serve() handles it
                    continue
                log.error("supervisor: worker %d (pid %d) exited with %d", index, pid, code)
                now = time.monotonic()
                deaths.append(now)
                while deaths[0] < now - RESTART_WINDOW:
                    deaths.popleft()
                if len(deaths) > MAX_RESTARTS:
                    log.error("supervisor: %d worker deaths in %.0f s: stopping", len(deaths), RESTART_WINDOW)
                    failed = True
                    stop()
                else:
                    workers[_spawn(index, target)] = index
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return 1 if failed else 0


def _no_op(signo: int, frame: object) -> None:
    """Never runs (SIGCHLD is blocked and waited for); its presence keeps SIGCHLD queued."""


def _spawn(index: int, target: Callable[[int], object]) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        target(index)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # never back into the parent's code (click, its finally blocks)


def _reaped() -> Iterator[tuple[int, int]]:
    """Every worker that has ended, with its exit code (-N: killed by signal N)."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        yield pid, os.waitstatus_to_exitcode(status)


def _kill(pid: int, signo: int) -> None:
    try:
        os.kill(pid, signo)
    except ProcessLookupError:  # already ended, not yet reaped
        pass
