"""Route the native engine's stderr through Python logging.

llama.cpp writes its log lines straight to file descriptor 2. We point fd 2 at a pipe, read
it in a thread and re-emit each line through the `modelyard.engine` logger at a level taken
from llama.cpp's level letter. Python's own stderr writers are moved to a duplicate of the
original descriptor first, so a log line can never loop back into the pipe.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

_LEVELS = {"E": logging.ERROR, "W": logging.WARNING, "I": logging.DEBUG, "D": logging.DEBUG}
_installed = False
_lock = threading.Lock()
logger = logging.getLogger("modelyard.engine")


def _level_and_text(line: str) -> tuple[int, str]:
    # llama.cpp lines look like "0.00.951.280 I slot release: ..."; bare lines are details.
    parts = line.split(" ", 2)
    if len(parts) == 3 and parts[1] in _LEVELS and parts[0][:1].isdigit():
        return _LEVELS[parts[1]], parts[2]
    return logging.DEBUG, line


def _pump(read_fd: int) -> None:
    with os.fdopen(read_fd, "r", encoding="utf-8", errors="replace") as pipe:
        for raw in pipe:
            line = raw.rstrip()
            if line:
                level, text = _level_and_text(line)
                logger.log(level, "%s", text)


def install() -> None:
    """Capture fd 2 once per process; safe to call again."""
    global _installed
    with _lock:
        if _installed:
            return
        saved = os.dup(2)
        real_stderr = os.fdopen(saved, "w", buffering=1, encoding="utf-8", errors="replace")
        old = sys.stderr
        for candidate in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
            for handler in getattr(candidate, "handlers", []):
                if isinstance(handler, logging.StreamHandler) and handler.stream in (
                    old,
                    sys.__stderr__,
                ):
                    handler.setStream(real_stderr)
        sys.stderr = real_stderr
        read_fd, write_fd = os.pipe()
        os.dup2(write_fd, 2)
        os.close(write_fd)
        threading.Thread(target=_pump, args=(read_fd,), name="engine-log", daemon=True).start()
        _installed = True
