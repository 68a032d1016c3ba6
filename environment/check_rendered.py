#!/usr/bin/env python3
"""Checks that every chart and picture of a notebook is visible as readers' clients render it.

    check_rendered.py NOTEBOOK.ipynb [...] [--out DIR] [--no-interactive]

For each notebook, three views:

1. Without scripts (GitHub's notebook view strips them): every output that shows a chart or picture must carry an
   <img> whose data decodes to a picture of at least 48x32 pixels that is not blank. An output whose HTML draws a
   chart only by script (e.g. Plotly.newPlot with no picture beside it) fails here.
2. In a browser with scripts (what JupyterLab, VS Code and nbconvert's HTML do): the notebook is converted with
   `jupyter nbconvert --to html` and opened in headless Chromium; in every such output a picture (loaded, visible,
   at least 48x32 CSS px) or a drawn Plotly chart must be on screen. Where the notebook carries the plotly.js loader
   (our interactive charts), every chart must have been drawn by Plotly (unless --no-interactive).
3. A screenshot of the same page: the region of each of those graphics must not be blank.

Exits 1 and names the cell and output of every failure. Needs jupyter-nbconvert, chromium and python3-pil
(environment/check-rendered.sh installs them with apt).
"""
import base64
import io
import json
import os
import re
import subprocess
import sys
import tempfile

from PIL import Image, ImageStat

MIN_W, MIN_H = 48, 32
IMG_DATA = re.compile(r'<img\b[^>]*?\bsrc="data:image/(png|jpeg|gif|svg\+xml);base64,([A-Za-z0-9+/=\s]+)"', re.I)

REPORT_SCRIPT = """
<script>
window.addEventListener('load', function () {
  setTimeout(function () {
    var children = document.querySelectorAll('.jp-OutputArea-child');
    var outputs = [];
    children.forEach(function (child) {
      var graphics = [];
      child.querySelectorAll('img').forEach(function (img) {
        var r = img.getBoundingClientRect();
        var style = window.getComputedStyle(img);
        graphics.push({kind: 'img', loaded: img.complete && img.naturalWidth > 0,
                       visible: style.display !== 'none' && style.visibility !== 'hidden' && r.width > 0,
                       x: r.left + window.scrollX, y: r.top + window.scrollY, w: r.width, h: r.height});
      });
      child.querySelectorAll('.js-plotly-plot').forEach(function (plot) {
        var svg = plot.querySelector('svg.main-svg');
        var r = plot.getBoundingClientRect();
        graphics.push({kind: 'plotly', loaded: !!svg, visible: r.width > 0 && r.height > 0,
                       x: r.left + window.scrollX, y: r.top + window.scrollY, w: r.width, h: r.height});
      });
      outputs.push(graphics);
    });
    var pre = document.createElement('pre');
    pre.id = 'render-report';
    pre.textContent = JSON.stringify({outputs: outputs, height: document.documentElement.scrollHeight,
                                      width: document.documentElement.scrollWidth});
    document.body.appendChild(pre);
  }, 4000);
});
</script>
"""


def chromium(*args, timeout=240):
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--virtual-time-budget=30000", "--window-size=1200,1000"]
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(cmd + [f"--user-data-dir={profile}"] + list(args), capture_output=True, text=True,
                              timeout=timeout)


def outputs_of(nb):
    """(cell index, output index, output) for every output, in document order."""
    for ci, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        for oi, out in enumerate(cell.get("outputs", [])):
            yield ci, oi, out


def text(value):
    return "".join(value) if isinstance(value, list) else (value or "")


def classify(out):
    """'chart', 'picture', 'script-only' (draws only by script: nothing without scripts) or None."""
    data = out.get("data", {})
    html = text(data.get("text/html"))
    if html:
        if 'class="maskrcnn-chart"' in html:
            return "chart"
        if IMG_DATA.search(html):
            return "picture"
        if "<script" in html and re.search(r"Plotly\.(newPlot|react|plot)|<canvas|<svg", html):
            return "script-only"
        return None
    if any(k in data for k in ("image/png", "image/jpeg", "image/svg+xml")):
        return "picture"
    return None


def blank(image):
    """True when a picture is (almost) one flat colour."""
    stat = ImageStat.Stat(image.convert("L"))
    return stat.stddev[0] < 2.0


def check_static(where, out, kind):
    if kind == "script-only":
        return [f"{where}: the chart is drawn only by script (no picture in its HTML): a client without scripts "
                "(GitHub) shows nothing"]
    data = out.get("data", {})
    html = text(data.get("text/html"))
    encoded = [m.group(2) for m in IMG_DATA.finditer(html)] if html else []
    if not html:
        encoded = [text(data[k]) for k in ("image/png", "image/jpeg") if k in data]
    if not encoded:
        return [f"{where}: no picture data"]
    problems = []
    for n, b64 in enumerate(encoded):
        try:
            image = Image.open(io.BytesIO(base64.b64decode("".join(b64.split()))))
            image.load()
        except Exception as e:  # noqa: BLE001 - any decoding failure is the finding
            problems.append(f"{where}: picture {n + 1} does not decode ({e})")
            continue
        if image.width < MIN_W or image.height < MIN_H:
            problems.append(f"{where}: picture {n + 1} is only {image.width}x{image.height} px")
        elif blank(image):
            problems.append(f"{where}: picture {n + 1} is blank")
    return problems


def render(nb_path, work):
    """nbconvert HTML with the report script, the report from Chromium, and a screenshot of the whole page."""
    name = os.path.splitext(os.path.basename(nb_path))[0]
    conv = subprocess.run(["jupyter-nbconvert", "--to", "html", nb_path, "--output-dir", work, "--output", name],
                          capture_output=True, text=True, timeout=600)
    html_path = os.path.join(work, name + ".html")
    if conv.returncode != 0 or not os.path.exists(html_path):
        raise RuntimeError(f"nbconvert failed: {conv.stderr.strip()[-400:]}")
    with open(html_path, encoding="utf-8") as f:
        page = f.read()
    page = page.replace("</body>", REPORT_SCRIPT + "</body>") if "</body>" in page else page + REPORT_SCRIPT
    checked = os.path.join(work, name + ".checked.html")
    with open(checked, "w", encoding="utf-8") as f:
        f.write(page)
    dom = chromium("--dump-dom", "file://" + checked).stdout
    m = re.search(r'<pre id="render-report">(.*?)</pre>', dom, re.S)
    if not m:
        raise RuntimeError("Chromium produced no render report (page did not load?)")
    report = json.loads(m.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
                        .replace("&amp;", "&"))
    height = min(max(1000, int(report["height"]) + 50), 120000)
    shot = os.path.join(work, name + ".png")
    chromium(f"--window-size=1200,{height}", f"--screenshot={shot}", "file://" + checked)
    screenshot = Image.open(shot).convert("RGB") if os.path.exists(shot) else None
    return report, screenshot, html_path


def check_notebook(nb_path, out_dir, interactive):
    with open(nb_path, encoding="utf-8") as f:
        nb = json.load(f)
    entries = list(outputs_of(nb))
    loader = any('data-maskrcnn="plotly-loader"' in text(o.get("data", {}).get("text/html")) for _, _, o in entries)
    expected = [(ci, oi, out, classify(out)) for ci, oi, out in entries]
    graphic = [e for e in expected if e[3] is not None]
    problems = []
    for ci, oi, out, kind in graphic:
        problems += check_static(f"cell {ci} output {oi} (no scripts)", out, kind)

    counts = {"pictures": 0, "plotly": 0}
    if graphic:
        work = out_dir or tempfile.mkdtemp(prefix="check-rendered-")
        os.makedirs(work, exist_ok=True)
        try:
            report, screenshot, _ = render(nb_path, work)
        except Exception as e:  # noqa: BLE001
            return problems + [f"browser: {e}"], counts
        dom_outputs = report["outputs"]
        if len(dom_outputs) != len(entries):
            problems.append(f"browser: {len(dom_outputs)} output areas on the page for {len(entries)} outputs in the "
                            "notebook; cannot match them")
        else:
            for index, (ci, oi, out, kind) in enumerate(expected):
                if kind is None:
                    continue
                where = f"cell {ci} output {oi} (browser)"
                shown = [g for g in dom_outputs[index]
                         if g["loaded"] and g["visible"] and g["w"] >= MIN_W and g["h"] >= MIN_H]
                if not shown:
                    problems.append(f"{where}: nothing visible (a chart or picture was expected)")
                    continue
                if kind == "chart" and loader and interactive and not any(g["kind"] == "plotly" for g in shown):
                    problems.append(f"{where}: the interactive chart was not drawn (plotly.js did not load?)")
                counts["plotly"] += sum(1 for g in shown if g["kind"] == "plotly")
                counts["pictures"] += sum(1 for g in shown if g["kind"] == "img")
                if screenshot is None:
                    problems.append(f"{where}: no screenshot")
                    continue
                for g in shown:
                    # A graphic wider than the page scrolls sideways: check the part on screen.
                    box = (max(0, int(g["x"])), max(0, int(g["y"])), min(screenshot.width, int(g["x"] + g["w"])),
                           min(screenshot.height, int(g["y"] + g["h"])))
                    if box[2] - box[0] < MIN_W or box[3] - box[1] < MIN_H:
                        problems.append(f"{where}: outside the screenshot ({g}, page {screenshot.size})")
                    elif blank(screenshot.crop(box)):
                        problems.append(f"{where}: the {g['kind']} at y={box[1]} is blank on the screenshot")
    return problems, counts


def main(argv):
    out_dir = None
    interactive = True
    paths = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--out":
            out_dir = argv[i + 1]
            i += 1
        elif a == "--no-interactive":
            interactive = False
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            paths.append(a)
        i += 1
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    failed = 0
    for path in paths:
        problems, counts = check_notebook(path, out_dir, interactive)
        if problems:
            failed += 1
            print(f"FAIL {path}")
            for p in problems:
                print(f"  {p}")
        else:
            print(f"ok   {path}: {counts['pictures']} picture(s) and {counts['plotly']} interactive chart(s) "
                  "visible; every picture present without scripts")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
