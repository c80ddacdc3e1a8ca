"""The light SVG widgets (kansci.widgets NetworkView and LinePlot) without a
browser or kernel: Python traits and helpers, the wire format, and the ES
modules (syntax with `node --check`, and their pure SVG builders run in node)."""

import json
import math
import pathlib
import shutil
import subprocess

import pytest

anywidget = pytest.importorskip("anywidget")
torch = pytest.importorskip("torch")

from kansci.widgets._network import NetworkView  # noqa: E402
from kansci.widgets._plot import LinePlot, _series_from_json  # noqa: E402

WIDGETS = pathlib.Path(__file__).resolve().parents[1] / "widgets"
ESM_FILES = ["network.js", "plot.js"]  # the widgets' modules (export.js goes before each)


def sample_view(widths=(2, 3, 1), symbolic=("0,1,2",), faded=("1,0,0",), n_points=8):
    nodes, edges = [], []
    last = len(widths) - 1
    for r, w in enumerate(widths):
        for i in range(w):
            kind = "input" if r == 0 else "output" if r == last else ("mult" if i == w - 1 else "sum")
            label = f"x{i + 1}" if r == 0 else f"y{i + 1}" if r == last else ""
            nodes.append({"id": f"{r}:{i}", "row": r, "index": i, "kind": kind, "label": label,
                          "x": (i + 0.5) / w, "faded": False})
    for l in range(len(widths) - 1):
        for i in range(widths[l]):
            for j in range(widths[l + 1]):
                eid = f"{l},{i},{j}"
                curve = [[k / (n_points - 1), 0.5 + 0.5 * math.sin(3 * k / (n_points - 1))] for k in range(n_points)]
                edges.append({"id": eid, "layer": l, "source": f"{l}:{i}", "target": f"{l + 1}:{j}",
                              "curve": curve, "alpha": 0.1 * (i + j + 1) % 1.0,
                              "symbolic": "sin" if eid in symbolic else None, "faded": eid in faded})
    return {"width": 500, "height": 360, "nodes": nodes, "edges": edges}


# --- NetworkView -----------------------------------------------------------


def test_network_view_traits_and_select():
    w = NetworkView()
    assert w.view == {} and w.selected == ""
    v = sample_view()
    w.view = v
    assert w.view == v  # clean input is kept as is
    seen = []
    w.observe(lambda ch: seen.append(ch["new"]), names="selected")
    w.select("0,1,2")
    w.select((1, 2, 0))
    w.select(None)
    w.selected = "0,0,0"
    w.select("")
    assert seen == ["0,1,2", "1,2,0", "", "0,0,0", ""]
    state = w.get_state()
    assert state["view"] == v and state["selected"] == ""


def test_network_view_cleans_non_finite_curves():
    w = NetworkView()
    v = sample_view()
    v["edges"][0]["curve"] = [[0.0, float("nan")], [0.5, float("inf")], [1.0, 1.0]]
    v["edges"][1]["curve"] = torch.tensor([[0.0, 0.25], [1.0, 0.75]])
    w.view = v
    assert w.view["edges"][0]["curve"] == [[0.0, None], [0.5, None], [1.0, 1.0]]
    assert w.view["edges"][1]["curve"] == [[0.0, 0.25], [1.0, 0.75]]
    json.dumps(w.get_state()["view"], allow_nan=False)  # valid JSON on the wire


# --- LinePlot --------------------------------------------------------------


def test_lineplot_traits_round_trip():
    p = LinePlot(title="loss", x_label="step", y_label="RMSE", log_y=True, width=400, height=250)
    assert (p.title, p.x_label, p.y_label, p.log_y, p.width, p.height) == ("loss", "step", "RMSE", True, 400, 250)
    p.log_y = False
    p.width = 300
    state = p.get_state()
    assert state["log_y"] is False and state["width"] == 300 and state["title"] == "loss"
    assert p.series == []


def test_lineplot_append_creates_and_extends():
    p = LinePlot()
    changes = []
    p.observe(lambda ch: changes.append(len(ch["new"])), names="series")
    p.append("train", 0, 1.0)
    p.append("train", [1, 2], [0.5, 0.25])
    p.append("test", torch.tensor([0.0, 1.0]), torch.tensor([2.0, 1.0]), mode="markers", color="red")
    p.append("train", 3, 0.125)
    assert changes == [1, 1, 2, 2]  # every append syncs
    train, test = p.series
    assert train == {"name": "train", "x": [0, 1, 2, 3], "y": [1.0, 0.5, 0.25, 0.125],
                     "mode": "lines", "color": None}
    assert test == {"name": "test", "x": [0.0, 1.0], "y": [2.0, 1.0], "mode": "markers", "color": "red"}
    with pytest.raises(ValueError):
        p.append("train", [1, 2], [1.0])
    p.clear()
    assert p.series == []


def test_lineplot_set_series_validates_and_cleans():
    p = LinePlot()
    p.set_series([{"name": "a", "x": (0, 1, 2), "y": [1.0, None, float("inf")]}])
    (s,) = p.series
    assert s["mode"] == "lines" and s["color"] is None and s["x"] == [0, 1, 2]
    assert s["y"][0] == 1.0 and math.isnan(s["y"][1]) and math.isinf(s["y"][2])
    with pytest.raises(Exception):
        p.set_series([{"name": "b", "x": [1], "y": [1], "mode": "bars"}])
    with pytest.raises(Exception):
        p.series = ["not a dict"]


def test_lineplot_wire_format_is_binary():
    p = LinePlot()
    p.append("loss", [0, 1, 2], [1.0, float("nan"), 0.25])
    wire = p.get_state()["series"]
    assert isinstance(wire[0]["x"], memoryview) and isinstance(wire[0]["y"], memoryview)
    assert wire[0]["x"].nbytes == 3 * 8
    back = _series_from_json([dict(wire[0], x=bytes(wire[0]["x"]), y=bytes(wire[0]["y"]))], p)
    assert back[0]["x"] == [0.0, 1.0, 2.0]
    assert back[0]["y"][0] == 1.0 and math.isnan(back[0]["y"][1]) and back[0]["y"][2] == 0.25


# --- ES modules ------------------------------------------------------------


@pytest.mark.parametrize("name", [*ESM_FILES, "export.js"])
def test_esm_files(name):
    path = WIDGETS / name
    text = path.read_text(encoding="utf-8")
    assert text.strip()
    assert ("export default" in text and "render" in text) == (name in ESM_FILES)
    for banned in ("http://", "https://", "import(", "require("):
        # self-contained: no fetches, no imports (the SVG namespace URI is the one allowed URL)
        assert banned not in text.replace("http://www.w3.org/2000/svg", "")
    assert not any(line.lstrip().startswith("import ") for line in text.splitlines())


def test_widgets_load_their_esm():
    # each widget's module: the shared figure tools (export.js), then its own file
    shared = (WIDGETS / "export.js").read_text(encoding="utf-8")
    for widget, name in ((NetworkView(), "network.js"), (LinePlot(), "plot.js")):
        own = (WIDGETS / name).read_text(encoding="utf-8")
        assert widget._esm.startswith(shared) and widget._esm.endswith(own)
        assert "kansciToolbar(" in own  # and it uses them


NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not on PATH")


def _esm_copies(tmp_path):
    for name in ESM_FILES:
        shutil.copy(WIDGETS / name, tmp_path / name.replace(".js", ".mjs"))


@needs_node
@pytest.mark.parametrize("name", ESM_FILES)
def test_esm_syntax_node_check(tmp_path, name):
    _esm_copies(tmp_path)
    r = subprocess.run([NODE, "--check", str(tmp_path / name.replace(".js", ".mjs"))],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


NODE_SCRIPT = r"""
import net, { buildSVG as netSVG } from "./network.mjs";
import plot, { buildSVG as plotSVG, valuesAt } from "./plot.mjs";
const args = JSON.parse(process.argv[2]);
const count = (s, re) => (s.match(re) || []).length;
const out = {};
out.defaults = [typeof net.render, typeof plot.render];
const svg = netSVG(args.view, "0,0,1");
out.net = {
  root: svg.startsWith('<svg class="kansci-network"'),
  edges: count(svg, /<g class="kansci-edge[^"]*" data-edge="/g),
  symbolic: count(svg, /<g class="kansci-edge[^"]*kansci-symbolic[^"]*"/g),
  selected: count(svg, /<g class="kansci-edge[^"]*kansci-selected[^"]*" data-edge="0,0,1"/g),
  faded: count(svg, /<g class="kansci-edge[^"]*kansci-faded[^"]*"/g),
  boxes: count(svg, /<rect class="kansci-box" data-edge="/g),
  titles: count(svg, /<title>edge \(\d+, \d+, \d+\): /g),
  sinTitle: svg.includes("<title>edge (0, 1, 2): sin"),
  curves: count(svg, /<path class="kansci-curve"/g),
  nodes: count(svg, /<g class="kansci-node /g),
  mult: count(svg, /kansci-mult/g),
  nan: svg.includes("NaN") || svg.includes("undefined"),
};
out.netEmpty = netSVG({}, "").includes("kansci-network");
out.netBadCurve = netSVG({edges: [{id: "0,0,0", layer: 0, source: "a", target: "b",
  curve: [[0, null], [0.5, 0.5], [1, 1]]}], nodes: []}, "").includes("NaN");
const st = {series: args.series, log_y: false, title: "t", x_label: "x", y_label: "y", width: 300, height: 200};
const p = plotSVG(st);
out.plot = {
  root: p.startsWith('<svg class="kansci-plot"'),
  groups: [...p.matchAll(/<g data-series="([^"]*)"/g)].map((m) => m[1]),
  legend: p.includes("kansci-legend"),
  nan: p.includes("NaN") || p.includes("undefined") || p.includes("Infinity"),
};
const logp = plotSVG({...st, log_y: true});
out.logTicks = [...logp.matchAll(/text-anchor="end" dominant-baseline="central">([^<]*)<\/text>/g)].map((m) => m[1]);
out.logNan = logp.includes("NaN") || logp.includes("Infinity");
out.empty = plotSVG({series: []}).includes("no data");
out.single = plotSVG({series: [{name: "one", x: [3], y: [2], mode: "lines"}], log_y: true});
out.single = {ok: !out.single.includes("NaN"), dot: out.single.includes("<circle")};
const many = {name: "m", x: [], y: [], mode: "markers"};
for (let k = 0; k < 10000; k++) { many.x.push(k); many.y.push(Math.sin(k)); }
out.markers = count(plotSVG({series: [many]}), /<circle cx="[^"]*" cy="[^"]*" r="2.2"/g);
const f64 = new Float64Array([0, 1, 2, 3]);
const dv = new DataView(f64.buffer);
out.binary = plotSVG({series: [{name: "b", x: dv, y: dv, mode: "lines"}]}).includes('<path class="kansci-line" data-series="b"');
out.hover = valuesAt(st, 2.8);  // the line series' points nearest x = 2.8 (NaN skipped)
out.frame = p.match(/data-frame="([^"]*)"/)[1].split(" ").map(Number);
console.log(JSON.stringify(out));
"""


@needs_node
def test_esm_builders_in_node(tmp_path):
    _esm_copies(tmp_path)
    (tmp_path / "check.mjs").write_text(NODE_SCRIPT, encoding="utf-8")
    view = sample_view()
    series = [
        {"name": "train", "x": [0, 1, 2, 3, 4], "y": [1.0, 0.1, None, 0.01, 0.001], "mode": "lines", "color": None},
        {"name": "test", "x": [0, 1, 2], "y": [2.0, -1.0, 0.5], "mode": "markers", "color": "#f00"},
    ]
    r = subprocess.run([NODE, str(tmp_path / "check.mjs"), json.dumps({"view": view, "series": series})],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["defaults"] == ["function", "function"]
    n_edges = len(view["edges"])  # 2*3 + 3*1
    assert out["net"] == {"root": True, "edges": n_edges, "symbolic": 1, "selected": 1, "faded": 1,
                          "boxes": n_edges, "titles": n_edges, "sinTitle": True, "curves": n_edges,
                          "nodes": len(view["nodes"]), "mult": 1, "nan": False}
    assert out["netEmpty"] is True and out["netBadCurve"] is False
    assert out["plot"] == {"root": True, "groups": ["train", "test"], "legend": True, "nan": False}
    assert out["logTicks"] == ["0.001", "0.01", "0.1", "1"] and out["logNan"] is False
    assert out["empty"] is True
    assert out["single"] == {"ok": True, "dot": True}
    assert 0 < out["markers"] <= 2000
    assert out["binary"] is True
    assert out["hover"] == [{"name": "train", "x": 3, "y": 0.01}]  # markers have no read-out
    m_left, m_top, width, height, x0, x1 = out["frame"]
    assert 0 < m_left < 300 and 0 < width < 300 and x0 < 0 < 4 < x1
