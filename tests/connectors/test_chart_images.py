"""Chart PNGs through kaleido and Debian's Chromium; None (the report draws tables) when there is none."""

from __future__ import annotations

import logging
import os
import stat
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import plotly.graph_objects as go
import pytest

from connectors import chart_images
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


def _size(png: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def _figure(height: int | None = None) -> go.Figure:
    figure = go.Figure(go.Bar(x=["a", "b", "c"], y=[3, 1, 2]))
    if height is not None:
        figure.update_layout(height=height)
    return figure


@pytest.fixture(scope="module")
def chromium() -> Iterator[None]:
    if not chart_images.chromium_available():
        reason = "Debian chromium is not installed (apt-get install -y chromium)"
        if IN_CI:
            pytest.fail(f"{reason} — chart export is mandatory when CI=true")
        pytest.skip(reason)
    yield
    chart_images.stop()


@pytest.fixture
def no_browser(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No running browser, no BROWSER_PATH, and a PATH with no chromium on it."""
    chart_images.stop()
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    yield
    chart_images.stop()


def test_renders_each_figure_as_a_png_of_the_asked_size(chromium: None) -> None:
    images = chart_images.render_pngs({"bars": _figure(), "short": _figure(height=200)}, width=400, height=300, scale=2)

    assert images is not None
    assert set(images) == {"bars", "short"}
    assert all(png.startswith(PNG) for png in images.values())
    assert _size(images["bars"]) == (800, 600)
    assert _size(images["short"]) == (800, 400)  # the figure's own height wins


def test_the_browser_is_kept_between_calls(chromium: None) -> None:
    chart_images.render_pngs({"warm": _figure()}, width=200, height=100, scale=1)
    started = time.perf_counter()
    images = chart_images.render_pngs({"again": _figure()}, width=200, height=100, scale=1)
    assert images is not None and _size(images["again"]) == (200, 100)
    assert time.perf_counter() - started < 5  # a fresh browser would be launched again otherwise


def test_concurrent_callers_each_get_their_own_images(chromium: None) -> None:
    results: dict[int, dict[str, bytes] | None] = {}

    def render(width: int) -> None:
        results[width] = chart_images.render_pngs({"chart": _figure()}, width=width, height=120, scale=1)

    threads = [threading.Thread(target=render, args=(width,)) for width in (300, 350, 400, 450)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert {width: _size(images["chart"]) for width, images in results.items() if images} == {
        width: (width, 120) for width in (300, 350, 400, 450)
    }


def test_stop_is_safe_twice_and_the_next_render_starts_a_new_browser(chromium: None) -> None:
    chart_images.stop()
    chart_images.stop()
    images = chart_images.render_pngs({"after": _figure()}, width=300, height=200, scale=1)
    assert images is not None and _size(images["after"]) == (300, 200)


def test_without_chromium_there_are_no_images_and_one_warning(
    no_browser: None, caplog: pytest.LogCaptureFixture
) -> None:
    assert not chart_images.chromium_available()
    with caplog.at_level(logging.WARNING, logger="connectors.chart_images"):
        assert chart_images.render_pngs({"chart": _figure()}) is None
    assert [r.levelname for r in caplog.records if r.name == "connectors.chart_images"] == ["WARNING"]
    assert "no chromium on PATH" in caplog.text


def test_a_browser_path_that_is_not_a_program_means_no_images(
    no_browser: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "missing-chromium"))
    with caplog.at_level(logging.WARNING, logger="connectors.chart_images"):
        assert chart_images.render_pngs({"chart": _figure()}) is None
    assert "BROWSER_PATH=" in caplog.text


def test_a_browser_that_will_not_start_falls_back_then_is_not_retried_at_once(
    no_browser: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "chromium"
    broken.write_text("#!/bin/sh\nexit 1\n")
    broken.chmod(broken.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("BROWSER_PATH", str(broken))
    monkeypatch.setattr(chart_images, "START_TIMEOUT_S", 20.0)

    with caplog.at_level(logging.WARNING, logger="connectors.chart_images"):
        assert chart_images.render_pngs({"chart": _figure()}) is None
        started = time.perf_counter()
        assert chart_images.render_pngs({"chart": _figure()}) is None
    assert time.perf_counter() - started < 0.5  # no second launch within RETRY_AFTER_S
    messages = [r.getMessage() for r in caplog.records if r.name == "connectors.chart_images"]
    assert len(messages) == 2
    assert "did not start" in messages[0] and "next try" in messages[1]


def test_a_fresh_process_without_chromium_returns_none(tmp_path: Path) -> None:
    """Nothing cached at import: a process whose PATH has no chromium gets None, and downloads nothing."""
    env = {key: value for key, value in os.environ.items() if key != "BROWSER_PATH"}
    env["PATH"] = str(tmp_path)
    script = (
        "import plotly.graph_objects as go\n"
        "from connectors import chart_images\n"
        "print(chart_images.chromium_available(), chart_images.render_pngs({'c': go.Figure(go.Bar(y=[1]))}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False None"
