// kansci NetworkView front end: the KAN drawn as plain SVG (no libraries).
//
// The Python side sends one `view` dict (nodes, edges with their sampled
// curves) and a `selected` edge id.  The whole drawing is rebuilt as one SVG
// string when `view` changes; a change of `selected` only moves CSS classes.

const NS = "kansci-network";
// JupyterLab's theme variables (light and dark), with the light theme's values outside it
const ACCENT = "var(--jp-brand-color1, #1769c2)";
const SYMBOLIC = "#e0562d";
const INK = "var(--jp-content-font-color1, #262626)";
const PAPER = "var(--jp-layout-color0, #fff)";
const MUTED = "var(--jp-content-font-color2, #888)";
const ALPHA_FLOOR = 0.08;
const FADED_SCALE = 0.3;

const CSS = `
.${NS}-wrap { display: inline-block; max-width: 100%; background: ${PAPER}; }
svg.${NS} { display: block; max-width: 100%; height: auto; background: ${PAPER};
  font-family: "Helvetica Neue", Helvetica, Arial, "DejaVu Sans", sans-serif; user-select: none; }
svg.${NS} .kansci-edge { cursor: pointer; }
svg.${NS} .kansci-edge line.kansci-link { stroke: ${INK}; stroke-width: 0.75; }
svg.${NS} .kansci-edge line.kansci-hit { stroke: transparent; stroke-width: 7; }
svg.${NS} .kansci-edge rect.kansci-box { fill: ${PAPER}; stroke: ${INK}; stroke-width: 0.6; }
svg.${NS} .kansci-edge path.kansci-curve { fill: none; stroke: ${INK}; stroke-width: 1;
  stroke-linejoin: round; stroke-linecap: round; pointer-events: none; }
svg.${NS} .kansci-edge text.kansci-fn { fill: ${SYMBOLIC}; font-size: 9px; text-anchor: middle;
  pointer-events: none; paint-order: stroke; stroke: ${PAPER}; stroke-width: 3px; stroke-linejoin: round; }
svg.${NS} .kansci-edge text.kansci-fn-hidden { display: none; }
svg.${NS} .kansci-symbolic line.kansci-link { stroke: ${SYMBOLIC}; }
svg.${NS} .kansci-symbolic rect.kansci-box { stroke: ${SYMBOLIC}; fill: color-mix(in srgb, ${SYMBOLIC} 10%, ${PAPER}); }
svg.${NS} .kansci-symbolic path.kansci-curve { stroke: ${SYMBOLIC}; }
svg.${NS} .kansci-faded line.kansci-link, svg.${NS} .kansci-faded rect.kansci-box,
svg.${NS} .kansci-faded path.kansci-curve { stroke-dasharray: 3 2; }
svg.${NS} .kansci-edge:hover rect.kansci-box { stroke: ${ACCENT}; stroke-width: 1.2; }
svg.${NS} .kansci-edge:hover line.kansci-link { stroke: ${ACCENT}; }
svg.${NS} .kansci-selected { opacity: 1; }
svg.${NS} .kansci-selected line.kansci-link { stroke: ${ACCENT}; stroke-width: 2; }
svg.${NS} .kansci-selected rect.kansci-box { stroke: ${ACCENT}; stroke-width: 2; fill: color-mix(in srgb, ${ACCENT} 12%, ${PAPER}); }
svg.${NS} .kansci-selected path.kansci-curve { stroke: ${ACCENT}; stroke-width: 1.6; }
svg.${NS} .kansci-selected text.kansci-fn { fill: ${ACCENT}; font-weight: 600; }
svg.${NS} .kansci-selected text.kansci-fn-hidden { display: inline; }
svg.${NS} .kansci-node circle, svg.${NS} .kansci-node rect { stroke: ${INK}; stroke-width: 1; }
svg.${NS} .kansci-node.kansci-sum circle { fill: ${INK}; }
svg.${NS} .kansci-node.kansci-mult rect { fill: ${PAPER}; }
svg.${NS} .kansci-node.kansci-input circle, svg.${NS} .kansci-node.kansci-output circle { fill: ${PAPER}; }
svg.${NS} .kansci-node text { fill: ${INK}; font-size: 11px; text-anchor: middle; }
svg.${NS} .kansci-node text.kansci-times { font-size: 10px; dominant-baseline: central; }
svg.${NS} .kansci-node.kansci-faded { opacity: 0.25; }
svg.${NS} text.kansci-empty { fill: ${MUTED}; font-size: 12px; text-anchor: middle; }
`;

function esc(s) {
  return String(s)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

function num(v, dflt) {
  const x = Number(v);
  return Number.isFinite(x) ? x : dflt;
}

function f1(x) {
  return Math.round(x * 10) / 10;
}

function clamp01(x) {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}

// Build the SVG path data for one curve inside the box (bx, by, s).  Non-finite
// or missing points break the line.
function curvePath(curve, bx, by, s) {
  let d = "";
  let pen = false;
  for (let k = 0; k < curve.length; k++) {
    const p = curve[k];
    const u = p ? Number(p[0]) : NaN;
    const v = p ? Number(p[1]) : NaN;
    if (!Number.isFinite(u) || !Number.isFinite(v)) {
      pen = false;
      continue;
    }
    d += (pen ? "L" : "M") + f1(bx + clamp01(u) * s) + " " + f1(by + s - clamp01(v) * s);
    pen = true;
  }
  return d;
}

function edgeTitle(e, src, dst) {
  let l = e.layer;
  let i = src ? src.index : "?";
  let j = dst ? dst.index : "?";
  const parts = String(e.id).split(",");
  if (parts.length === 3 && parts.every((q) => q.trim() !== "" && Number.isFinite(Number(q)))) {
    [l, i, j] = parts.map((q) => Number(q));
  }
  const name = e.symbolic ? String(e.symbolic) : "spline";
  let t = `edge (${l}, ${i}, ${j}): ${name}`;
  const a = Number(e.alpha);
  if (Number.isFinite(a)) t += `\nimportance ${a.toFixed(3)}`;
  if (e.faded) t += "\n(would be pruned)";
  return t;
}

// Render the whole view into an SVG string.
export function buildSVG(view, selected) {
  view = view || {};
  const W = Math.max(40, num(view.width, 640));
  const H = Math.max(40, num(view.height, 420));
  const nodes = Array.isArray(view.nodes) ? view.nodes : [];
  const edges = Array.isArray(view.edges) ? view.edges : [];
  const head =
    `<svg class="${NS}" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" ` +
    `viewBox="0 0 ${W} ${H}">`;
  if (nodes.length === 0 && edges.length === 0) {
    return head + `<text class="kansci-empty" x="${W / 2}" y="${H / 2}">no network</text></svg>`;
  }

  // rows
  let maxRow = 0;
  for (const n of nodes) maxRow = Math.max(maxRow, num(n.row, 0));
  for (const e of edges) maxRow = Math.max(maxRow, num(e.layer, 0) + 1);
  const nRows = maxRow + 1;
  const hasInLabels = nodes.some((n) => n.kind === "input" && n.label);
  const hasOutLabels = nodes.some((n) => n.kind === "output" && n.label);
  const padX = 12;
  const padTop = hasOutLabels ? 24 : 10;
  const padBottom = hasInLabels ? 24 : 10;
  const plotW = W - 2 * padX;
  const plotH = H - padTop - padBottom;
  const gap = nRows > 1 ? plotH / (nRows - 1) : plotH;
  const rowY = (r) => (nRows > 1 ? padTop + (nRows - 1 - r) * gap : padTop + plotH / 2);
  const nodeX = (n) => padX + clamp01(num(n.x, 0.5)) * plotW;

  const byId = new Map();
  const perRow = new Map();
  for (const n of nodes) {
    byId.set(String(n.id), n);
    const r = num(n.row, 0);
    perRow.set(r, (perRow.get(r) || 0) + 1);
  }
  let widest = 1;
  for (const c of perRow.values()) widest = Math.max(widest, c);
  const rNode = Math.max(2.5, Math.min(6, gap * 0.06, (plotW / widest) * 0.22));

  // edges grouped by layer, in list order
  const perLayer = new Map();
  for (const e of edges) {
    const l = num(e.layer, 0);
    if (!perLayer.has(l)) perLayer.set(l, []);
    perLayer.get(l).push(e);
  }

  const sel = selected == null ? "" : String(selected);
  const out = [head];
  let selPart = "";
  out.push('<g class="kansci-edges">');
  for (const [l, list] of perLayer) {
    const yB = rowY(l);
    const yT = rowY(l + 1);
    const mid = (yB + yT) / 2;
    const step = plotW / list.length;
    const s = Math.max(3, Math.min(Math.abs(yB - yT) * 0.6, step * 0.85));
    const by = mid - s / 2;
    const showFn = s >= 14;
    const fnSize = Math.max(7, Math.min(10, s * 0.3));
    for (let k = 0; k < list.length; k++) {
      const e = list[k];
      const id = esc(e.id);
      const src = byId.get(String(e.source));
      const dst = byId.get(String(e.target));
      const cx = padX + (k + 0.5) * step;
      const bx = cx - s / 2;
      let op = Math.max(ALPHA_FLOOR, Math.min(1, num(e.alpha, 1)));
      let cls = "kansci-edge";
      if (e.symbolic) cls += " kansci-symbolic";
      if (e.faded) {
        cls += " kansci-faded";
        op = Math.max(0.04, op * FADED_SCALE);
      }
      const isSel = sel !== "" && String(e.id) === sel;
      if (isSel) cls += " kansci-selected";
      let g = `<g class="${cls}" data-edge="${id}" opacity="${op.toFixed(3)}">`;
      g += `<title>${esc(edgeTitle(e, src, dst))}</title>`;
      const lines = [];
      if (src) lines.push([nodeX(src), yB, cx, by + s]);
      if (dst) lines.push([cx, by, nodeX(dst), yT]);
      for (const [x1, y1, x2, y2] of lines) {
        const c = `x1="${f1(x1)}" y1="${f1(y1)}" x2="${f1(x2)}" y2="${f1(y2)}"`;
        g += `<line class="kansci-hit" data-edge="${id}" ${c}/>`;
        g += `<line class="kansci-link" data-edge="${id}" ${c}/>`;
      }
      g += `<rect class="kansci-box" data-edge="${id}" x="${f1(bx)}" y="${f1(by)}" width="${f1(s)}" height="${f1(s)}"/>`;
      const curve = Array.isArray(e.curve) ? e.curve : [];
      const d = curve.length ? curvePath(curve, bx, by, s) : "";
      if (d) g += `<path class="kansci-curve" data-edge="${id}" d="${d}"/>`;
      if (e.symbolic) {
        g +=
          `<text class="kansci-fn${showFn ? "" : " kansci-fn-hidden"}" data-edge="${id}" ` +
          `x="${f1(cx)}" y="${f1(by - 2.5)}" style="font-size:${f1(fnSize)}px">${esc(e.symbolic)}</text>`;
      }
      g += "</g>";
      if (isSel) selPart = g; // drawn last, on top of its neighbours
      else out.push(g);
    }
  }
  if (selPart) out.push(selPart);
  out.push("</g>");

  // nodes on top of the edge lines
  out.push('<g class="kansci-nodes">');
  for (const n of nodes) {
    const x = f1(nodeX(n));
    const y = f1(rowY(num(n.row, 0)));
    const kind = ["input", "sum", "mult", "output"].includes(n.kind) ? n.kind : "sum";
    const label = n.label == null ? "" : String(n.label);
    let g = `<g class="kansci-node kansci-${kind}${n.faded ? " kansci-faded" : ""}" data-node="${esc(n.id)}">`;
    const tip = label ? `${kind} ${label}` : `${kind} node (${num(n.row, 0)}, ${num(n.index, 0)})`;
    g += `<title>${esc(tip)}</title>`;
    if (kind === "mult") {
      const h = f1(rNode * 1.15);
      g += `<rect x="${f1(x - h)}" y="${f1(y - h)}" width="${f1(2 * h)}" height="${f1(2 * h)}"/>`;
      g += `<text class="kansci-times" x="${x}" y="${y}" style="font-size:${f1(Math.max(7, h * 1.7))}px">×</text>`;
    } else if (kind === "sum") {
      g += `<circle cx="${x}" cy="${y}" r="${f1(rNode * 0.8)}"/>`;
    } else {
      g += `<circle cx="${x}" cy="${y}" r="${f1(Math.max(2, rNode * 0.6))}"/>`;
      if (label) {
        const ty = kind === "input" ? y + rNode + 12 : y - rNode - 5;
        g += `<text x="${x}" y="${f1(ty)}">${esc(label)}</text>`;
      }
    }
    g += "</g>";
    out.push(g);
  }
  out.push("</g></svg>");
  return out.join("");
}

const POLL_MS = 1000;
const ZOOM_STEP = 1.5;

function render({ model, el }) {
  const figure = document.createElement("div");
  figure.className = "kansci-figure";
  const wrap = document.createElement("div");
  wrap.className = `${NS}-wrap`;
  const style = document.createElement("style");
  style.textContent = CSS + KANSCI_BAR_CSS;
  let zoom = null; // [x, y, w, h] while zoomed, else null

  const svgEl = () => wrap.querySelector(`svg.${NS}`);
  const applyZoom = () => {
    const svg = svgEl();
    if (!svg) return;
    if (!svg.hasAttribute("data-full-viewbox")) {
      svg.setAttribute("data-full-viewbox", svg.getAttribute("viewBox"));
    }
    svg.setAttribute("viewBox", zoom ? zoom.join(" ") : svg.getAttribute("data-full-viewbox"));
  };
  // zoom by `factor` (> 1: in) about the point (u, v) in [0, 1]^2 of the visible area
  const zoomBy = (factor, u = 0.5, v = 0.5) => {
    const svg = svgEl();
    if (!svg) return;
    const full = svg.getAttribute("data-full-viewbox").split(/\s+/).map(Number);
    const [x, y, w, h] = zoom || full;
    const nw = Math.min(full[2], Math.max(full[2] / 40, w / factor));
    const nh = nw * (full[3] / full[2]);
    zoom = nw >= full[2] ? null : [x + u * (w - nw), y + v * (h - nh), nw, nh];
    applyZoom();
  };
  const tools = [["zoom-in", "+", "zoom in (or Ctrl + wheel; drag to pan)", () => zoomBy(ZOOM_STEP)],
    ["zoom-out", "\u2212", "zoom out", () => zoomBy(1 / ZOOM_STEP)],
    ["whole", "1:1", "the whole network (or double-click)", () => { zoom = null; applyZoom(); }]];
  figure.replaceChildren(wrap, kansciToolbar(svgEl, "kansci-network", tools));
  el.replaceChildren(style, figure);

  const draw = () => {
    wrap.innerHTML = buildSVG(model.get("view"), model.get("selected"));
    applyZoom();
  };

  // Move the highlight without rebuilding the drawing.
  const highlight = () => {
    const sel = String(model.get("selected") || "");
    const svg = wrap.firstElementChild;
    if (!svg) return;
    for (const g of svg.querySelectorAll("g.kansci-edge.kansci-selected")) {
      if (g.getAttribute("data-edge") !== sel) g.classList.remove("kansci-selected");
    }
    if (!sel) return;
    for (const g of svg.querySelectorAll("g.kansci-edge")) {
      if (g.getAttribute("data-edge") === sel) {
        g.classList.add("kansci-selected");
        g.parentNode.appendChild(g); // on top
        break;
      }
    }
  };

  let drag = null; // {x, y, box, moved} while the pointer is down on a zoomed drawing
  const onClick = (ev) => {
    if (drag && drag.moved) return; // the end of a pan, not a click
    const t = ev.target && ev.target.closest ? ev.target.closest("[data-edge]") : null;
    if (!t || !wrap.contains(t)) return;
    const id = t.getAttribute("data-edge");
    model.set("selected", id);
    model.save_changes();
    highlight();
  };
  const onWheel = (ev) => {
    if (!(ev.ctrlKey || ev.metaKey)) return; // plain wheel scrolls the notebook
    ev.preventDefault();
    const r = svgEl().getBoundingClientRect();
    zoomBy(ev.deltaY < 0 ? 1.2 : 1 / 1.2, (ev.clientX - r.left) / r.width, (ev.clientY - r.top) / r.height);
  };
  const onDown = (ev) => {
    drag = zoom ? { x: ev.clientX, y: ev.clientY, box: zoom.slice(), moved: false } : null;
  };
  const onMove = (ev) => {
    if (!drag || !(ev.buttons & 1)) return;
    const dx = ev.clientX - drag.x;
    const dy = ev.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
    if (!drag.moved) return;
    const r = svgEl().getBoundingClientRect();
    const [x, y, w, h] = drag.box;
    zoom = [x - (dx * w) / r.width, y - (dy * h) / r.height, w, h];
    applyZoom();
  };
  const onUp = () => setTimeout(() => { drag = null; }, 0);
  const onDouble = () => { zoom = null; applyZoom(); };

  wrap.addEventListener("click", onClick);
  wrap.addEventListener("wheel", onWheel, { passive: false });
  wrap.addEventListener("pointerdown", onDown);
  wrap.addEventListener("pointermove", onMove);
  wrap.addEventListener("pointerup", onUp);
  wrap.addEventListener("dblclick", onDouble);
  model.on("change:view", draw);
  model.on("change:selected", highlight);
  draw();
  // Ask the kernel every second whether the model changed from code (answered when the
  // kernel is idle: the explorer redraws itself if so).
  const poll = setInterval(() => {
    if (!document.hidden) model.send({ poll: 1 });
  }, POLL_MS);

  return () => {
    clearInterval(poll);
    wrap.removeEventListener("click", onClick);
    wrap.removeEventListener("wheel", onWheel);
    wrap.removeEventListener("pointerdown", onDown);
    wrap.removeEventListener("pointermove", onMove);
    wrap.removeEventListener("pointerup", onUp);
    wrap.removeEventListener("dblclick", onDouble);
    model.off("change:view", draw);
    model.off("change:selected", highlight);
  };
}

export default { render };
