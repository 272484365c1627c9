"""The local preview: self-contained HTML rendered by headless Chromium without JS errors, non-blank PNGs."""

from __future__ import annotations

import html
import re
import struct
import zlib
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs

from grandprix_dashboards.panels import DashboardSpec, Kind
from grandprix_dashboards.preview import HEADER_PX, PAGE_WIDTH, ROW_PX, RenderedDashboard, dump_dom, preview

try:  # Pillow gives the stronger pixel checks; without it the PNG is checked from its raw data
    from PIL import Image, ImageStat
except ImportError:  # pragma: no cover
    Image = ImageStat = None  # type: ignore[assignment]

STATUS_RE = re.compile(r'<div id="render-status" data-rendered="(\d*)" data-errors="(\d*)" data-charts="(\d+)"')


def _status(dom: str) -> tuple[str, str, int]:
    match = STATUS_RE.search(dom)
    assert match, "render-status marker missing from the DOM"
    return match[1], match[2], int(match[3])


def _js_errors(dom: str) -> str:
    match = re.search(r'<pre id="js-errors">(.*?)</pre>', dom, re.S)
    assert match is not None
    return match[1].strip()


def test_pages_are_self_contained(rendered: list[RenderedDashboard]) -> None:
    for dash in rendered:
        assert dash.html_path is not None
        text = dash.html_path.read_text(encoding="utf-8")
        assert "Plotly" in text and len(text) > 1_000_000, "plotly.js is inlined"
        page_markup = text.replace(get_plotlyjs(), "")  # plotly.js itself mentions URLs in strings only
        assert not re.search(
            r'<(script|link|img|iframe)[^>]+(src|href)=["\']?(https?:)?//', page_markup
        ), "the page loads nothing from the network"
        for panel in dash.spec.panels:
            assert html.escape(panel.title) in text


def test_chromium_renders_every_chart_without_js_errors(rendered: list[RenderedDashboard]) -> None:
    for dash in rendered:
        assert dash.html_path is not None
        dom = dump_dom(dash.html_path)
        done, errors, charts = _status(dom)
        assert charts == dash.chart_count > 0
        assert done == str(charts), f"{dash.spec.title}: {done or 'no'} of {charts} charts rendered"
        assert errors == "0" and _js_errors(dom) == "", f"{dash.spec.title}: JS errors {_js_errors(dom)}"
        assert dom.count('class="main-svg"') >= charts
        tables = sum(1 for p in dash.panels if p.spec.kind is Kind.TABLE and p.result.rows)
        assert dom.count("<table>") == tables


def _png_header(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the decompressed image data of a PNG (no PIL needed)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        if kind == b"IDAT":
            chunks.append(data[offset + 8 : offset + 8 + length])
        offset += 12 + length
    return width, height, zlib.decompress(b"".join(chunks))


def test_screenshots_are_clear_images(rendered: list[RenderedDashboard]) -> None:
    for dash in rendered:
        assert dash.png_path is not None and dash.png_path.stat().st_size > 50_000
        width, height, raw = _png_header(dash.png_path)
        assert (width, height) == (PAGE_WIDTH, dash.height)
        assert len(raw) / dash.png_path.stat().st_size < 60, "a blank page compresses far better than this"
        if Image is None:
            continue
        with Image.open(dash.png_path) as img:
            rgb = img.convert("RGB")
            colours = rgb.getcolors(maxcolors=1 << 20)
            assert colours is not None and len(colours) > 500, "many distinct colours: lines, text, markers"
            spread = ImageStat.Stat(rgb.convert("L")).stddev[0]
            assert spread > 10, f"{dash.png_path.name}: nearly uniform image (stddev {spread:.1f})"
            for panel in dash.panels:  # every panel area has drawn pixels, not just its background
                pos = panel.spec.pos
                box = (
                    int(pos.x * PAGE_WIDTH / 24) + 20,
                    HEADER_PX + pos.y * ROW_PX + 40,
                    int((pos.x + pos.w) * PAGE_WIDTH / 24) - 20,
                    HEADER_PX + (pos.y + pos.h) * ROW_PX - 20,
                )
                distinct = rgb.crop(box).getcolors(maxcolors=1 << 16)
                assert distinct is None or len(distinct) > 3, f"{dash.spec.title} / {panel.spec.title} looks blank"


def test_index_links_every_dashboard(rendered: list[RenderedDashboard]) -> None:
    assert rendered[0].html_path is not None
    index = (rendered[0].html_path.parent / "index.html").read_text()
    for dash in rendered:
        assert dash.html_path is not None and dash.png_path is not None
        assert f'href="{dash.html_path.name}"' in index and f'href="{dash.png_path.name}"' in index


def test_a_broken_page_is_detected(chromium_available: str, tmp_path: Path) -> None:
    """The DOM check can fail: a page whose chart throws reports the error and no rendered chart."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<html><body><div id="render-status" data-rendered="" data-errors="" data-charts="1"></div>'
        '<pre id="js-errors"></pre><script>window.__errors=[];window.onerror=function(m){window.__errors.push(m);'
        'document.getElementById("js-errors").textContent=window.__errors.join("\\n");};'
        "</script><script>Plotly.newPlot('x', [], {});</script></body></html>"
    )
    dom = dump_dom(page)
    done, _, charts = _status(dom)
    assert done == "" and charts == 1
    assert "Plotly is not defined" in _js_errors(dom)


def test_preview_rejects_a_variable_no_dashboard_has(
    warehouse_path: Path, specs: list[DashboardSpec], tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=r"no dashboard has the variable\(s\) \['year'\]"):
        preview(warehouse_path, tmp_path, specs, png=False, chosen={"year": "2023"})
