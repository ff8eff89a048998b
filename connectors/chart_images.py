"""Plotly figures to PNG bytes with kaleido, driving the system's Chromium (Debian's `chromium` package).

One headless browser per process, started on first use and kept: a render then costs about 0.16 s instead of
the 1.8 s of kaleido's launch-per-call mode. It lives in a thread of its own with its own event loop, so
Streamlit's script threads and async routes can all call `render_pngs`; a lock lets one render run at a time.

This is kaleido's persistent mode (`kaleido.start_sync_server`) built from the same `kaleido.Kaleido` browser,
because the ready-made server cannot time out: when the browser fails to start its thread dies and every later
call waits forever, and its one shared result queue hands concurrent callers each other's images.

Nothing is downloaded: the browser is the one named by BROWSER_PATH or `chromium` on PATH (never kaleido's
"get Chrome" download), plotly.js comes from the plotly package and MathJax is switched off (it would come
from a CDN). Without a browser, or when rendering fails, `render_pngs` returns None and the caller draws
tables instead.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
import shutil
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

logger = logging.getLogger(__name__)

DEFAULT_WIDTH = 1000  # px before scaling; charts are laid out for this width
DEFAULT_HEIGHT = 380
START_TIMEOUT_S = 30.0
RENDER_TIMEOUT_S = 20.0  # per image
RETRY_AFTER_S = 300.0  # after a browser failed to start, fall back at once for this long instead of retrying
# Debian's /usr/bin/chromium is a shell wrapper that complains about /dev/shm; the binary behind it is quiet.
_DEBIAN_WRAPPER, _DEBIAN_BINARY = Path("/usr/bin/chromium"), Path("/usr/lib/chromium/chromium")


class _Browser:
    """A kaleido browser running on an event loop in a daemon thread."""

    def __init__(self, path: str) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="meterr-kaleido", daemon=True)
        self.thread.start()
        self.kaleido: Any = None
        try:
            self.kaleido = self._run(self._open(path), timeout=START_TIMEOUT_S)
        except BaseException:
            self.close()
            raise

    async def _open(self, path: str) -> Any:
        import kaleido
        import plotly

        plotlyjs = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
        browser = kaleido.Kaleido(
            path=path, timeout=RENDER_TIMEOUT_S, mathjax=False, plotlyjs=str(plotlyjs) if plotlyjs.is_file() else None
        )
        await browser.open()
        return browser

    def _run(self, coroutine: Any, *, timeout: float) -> Any:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no answer from the browser within {timeout:.0f} s") from None

    def render(self, figure: go.Figure, *, width: int, height: int, scale: float) -> bytes:
        opts = {"format": "png", "width": width, "height": height, "scale": scale}
        image = self._run(self.kaleido.calc_fig(figure, opts=opts), timeout=RENDER_TIMEOUT_S + 5)
        return bytes(image)

    def close(self) -> None:
        if self.kaleido is not None:
            try:
                self._run(self.kaleido.close(), timeout=10)
            except Exception as problem:  # closing is best effort; the process may be gone already
                logger.debug("closing the chart browser: %s", problem)
            self.kaleido = None
        try:
            self._run(_cancel_others(), timeout=5)  # e.g. choreographer's watchdog after a failed start
        except Exception as problem:
            logger.debug("cancelling the chart browser's tasks: %s", problem)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()


async def _cancel_others() -> None:
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


_lock = threading.Lock()
_browser: _Browser | None = None
_failed_at: float | None = None  # monotonic time of the last failed start


def browser_path() -> str | None:
    """The Chromium to use: BROWSER_PATH when set, else `chromium` (or `chromium-browser`) on PATH."""
    configured = os.environ.get("BROWSER_PATH")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        return None
    if Path(found).resolve() == _DEBIAN_WRAPPER and os.access(_DEBIAN_BINARY, os.X_OK):
        return str(_DEBIAN_BINARY)
    return found


def chromium_available() -> bool:
    """Whether a Chromium is there to draw charts with (it is not started to find out)."""
    return browser_path() is not None


def _started(path: str) -> _Browser | None:
    """The running browser, started when there is none; None while a failed start is recent. Holds _lock."""
    global _browser, _failed_at
    if _browser is not None and _browser.pid != os.getpid():
        _browser = None  # inherited through fork: its thread and browser live in the parent
    if _browser is not None:
        return _browser
    if _failed_at is not None and time.monotonic() - _failed_at < RETRY_AFTER_S:
        wait = RETRY_AFTER_S - (time.monotonic() - _failed_at)
        logger.warning("Charts are drawn as tables: Chromium failed to start; the next try is in %.0f s.", wait)
        return None
    try:
        _browser = _Browser(path)
    except Exception as problem:
        _failed_at = time.monotonic()
        logger.warning("Charts are drawn as tables: Chromium at %s did not start (%s).", path, _describe(problem))
        return None
    _failed_at = None
    return _browser


def _describe(problem: BaseException) -> str:
    """The error's first line: choreographer's errors carry several messages as a tuple of arguments."""
    first = str(problem.args[0]) if problem.args else str(problem)
    lines = first.strip().splitlines()
    return f"{type(problem).__name__}: {lines[0][:200]}" if lines else type(problem).__name__


def render_pngs(
    figures: Mapping[str, go.Figure],
    *,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    scale: float = 2,
) -> dict[str, bytes] | None:
    """Each figure as PNG bytes, ``width`` × ``height`` px (a figure's own layout size wins) times ``scale``.

    None, with one warning logged, when there is no Chromium or any image fails: the caller falls back to
    tables, so a report is never held up by its charts.
    """
    if not figures:
        return {}
    path = browser_path()
    if path is None:
        configured = os.environ.get("BROWSER_PATH")
        where = f"BROWSER_PATH={configured!r} is not a program" if configured else "no chromium on PATH"
        logger.warning("Charts are drawn as tables: %s (install chromium, or set BROWSER_PATH).", where)
        return None
    global _browser
    with _lock:
        browser = _started(path)
        if browser is None:
            return None
        images: dict[str, bytes] = {}
        for name, figure in figures.items():
            size = figure.layout
            try:
                images[name] = browser.render(
                    figure, width=int(size.width or width), height=int(size.height or height), scale=scale
                )
            except Exception as problem:
                logger.warning("Charts are drawn as tables: the %r chart failed (%s).", name, _describe(problem))
                # A browser that timed out or crashed is not trusted with the next report: start afresh then.
                _browser = None
                browser.close()
                return None
        return images


def stop() -> None:
    """Close the browser (tests, shutdown); the next render starts a new one. Safe to call at any time."""
    global _browser, _failed_at
    with _lock:
        browser, _browser, _failed_at = _browser, None, None
    if browser is not None:
        browser.close()


atexit.register(stop)
