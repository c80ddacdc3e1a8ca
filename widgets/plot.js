// kansci LinePlot front end: a small x-y plot in plain SVG (no libraries).
//
// Traits: series [{name, x, y, mode: "lines"|"markers", color}], log_y, title,
// x_label, y_label, width, height.  Every change redraws the whole plot once
// per animation frame (changes arriving in the same frame are merged).

const NS = "kansci-plot";
const PALETTE = ["#1f5fa6", "#2a8c6a", "#8b5fb3", "#c28a12", "#d4461f", "#4d4d4d", "#17a2b8"];
const MAX_MARKERS = 2000;
const MAX_LINE_POINTS = 4000;

const CSS = `
svg.${NS} { display: block; max-width: 100%; height: auto; background: var(--jp-layout-color0, #fff);
  font-family: "Helvetica Neue", Helvetica, Arial, "DejaVu Sans", sans-serif; }
svg.${NS} .kansci-axis line, svg.${NS} .kansci-axis path { stroke: var(--jp-content-font-color1, #262626); stroke-width: 1; fill: none;
  shape-rendering: crispEdges; }
svg.${NS} .kansci-grid line { stroke: var(--jp-border-color2, #e6e6e6); stroke-width: 1; shape-rendering: crispEdges; }
svg.${NS} text { fill: var(--jp-content-font-color1, #262626); font-size: 10px; }
svg.${NS} text.kansci-title { font-size: 12px; font-weight: 600; text-anchor: middle; }
svg.${NS} text.kansci-label { font-size: 11px; text-anchor: middle; }
svg.${NS} .kansci-legend rect.kansci-legend-bg { fill: var(--jp-layout-color0, #fff); fill-opacity: 0.85; stroke: var(--jp-border-color1, #cfcfcf); stroke-width: 0.75; }
svg.${NS} text.kansci-empty { fill: var(--jp-content-font-color2, #888); font-size: 11px; text-anchor: middle; }
.kansci-readout { position: absolute; left: 4px; bottom: 2px; font-size: 10px; padding: 0 4px;
  color: var(--jp-content-font-color1, #262626); background: var(--jp-layout-color0, #fff);
  opacity: 0.9; pointer-events: none; white-space: nowrap; }
svg.${NS} line.kansci-guide { stroke: var(--jp-content-font-color2, #888); stroke-dasharray: 2 2; }
svg.${NS} path.kansci-line { fill: none; stroke-width: 1.5; stroke-linejoin: round; stroke-linecap: round; }
`;

// [lo, hi] widened by ``frac`` of its span on each side (a single value: by 10% of it, or 1)
function padRange(lo, hi, frac) {
  const d = hi === lo ? Math.abs(lo) * 0.1 || 1 : (hi - lo) * frac;
  return [lo - d, hi + d];
}

function esc(s) {
  return String(s)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

function r1(x) {
  return Math.round(x * 10) / 10;
}

// x / y arrive as binary float64 buffers (DataView) from Python, or as plain arrays
function vec(v) {
  if (Array.isArray(v)) return v;
  if (typeof DataView !== "undefined" && v instanceof DataView) {
    const n = Math.floor(v.byteLength / 8);
    if (v.byteOffset % 8 === 0) return new Float64Array(v.buffer, v.byteOffset, n);
    return new Float64Array(v.buffer.slice(v.byteOffset, v.byteOffset + 8 * n));
  }
  if (ArrayBuffer.isView(v)) return v;
  if (v instanceof ArrayBuffer) return new Float64Array(v, 0, Math.floor(v.byteLength / 8));
  return [];
}

function toNum(v) {
  return v === null || v === undefined || v === "" ? NaN : Number(v);
}

// "nice" step close to span / count: 1, 2, 2.5 or 5 times a power of ten
function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const m = raw / p;
  const f = m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10;
  return f * p;
}

export function linearTicks(lo, hi, count) {
  if (!(hi > lo)) return [lo];
  const step = niceStep(hi - lo, count);
  const first = Math.ceil(lo / step - 1e-9);
  const last = Math.floor(hi / step + 1e-9);
  const ticks = [];
  for (let k = first; k <= last && ticks.length < 50; k++) ticks.push(k * step);
  return ticks.map((t) => (Math.abs(t) < step * 1e-9 ? 0 : t));
}

function formatLinear(v, step) {
  const a = Math.abs(v);
  if (a >= 1e5 || (a < 1e-3 && a > 0)) {
    let digits = 0;
    const mant = v / Math.pow(10, Math.floor(Math.log10(a)));
    while (digits < 3 && Math.abs(mant * Math.pow(10, digits) - Math.round(mant * Math.pow(10, digits))) > 1e-6)
      digits++;
    return v.toExponential(digits).replace("e+", "e").replace("-", "\u2212");
  }
  const dec = Math.max(0, Math.min(8, -Math.floor(Math.log10(step) + 1e-9)));
  const frac = step / Math.pow(10, Math.floor(Math.log10(step) + 1e-9));
  const extra = Math.abs(frac - Math.round(frac)) > 1e-9 ? 1 : 0; // 2.5 steps
  return v.toFixed(dec + extra).replace("-", "\u2212");
}

function formatLog(lv) {
  const k = Math.floor(lv + 1e-9);
  const m = Math.round(Math.pow(10, lv - k) * 1000) / 1000;
  if (k >= -3 && k <= 4) return String(Number((m * Math.pow(10, k)).toFixed(Math.max(0, 3 - k))));
  return (m === 1 ? "1" : String(m)) + "e" + k;
}

// ticks (as log10 values) for a log axis spanning log10 values lo..hi:
// decades; when fewer than two decades fall inside, 1-2-5, then 1..9 per decade
export function logTicks(lo, hi) {
  const a = Math.floor(lo + 1e-9);
  const b = Math.ceil(hi - 1e-9);
  const inside = (v) => v >= lo - 1e-9 && v <= hi + 1e-9;
  const every = Math.max(1, Math.ceil((b - a) / 7));
  let ticks = [];
  for (let k = Math.ceil(a / every) * every; k <= b; k += every) if (inside(k)) ticks.push(k);
  for (const mult of [[1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]]) {
    if (ticks.length >= 2) break;
    ticks = [];
    for (let k = a; k <= b; k++) for (const m of mult) if (inside(k + Math.log10(m))) ticks.push(k + Math.log10(m));
  }
  if (ticks.length >= 2) return ticks;
  // less than a factor 2 shown: linear ticks in value space
  return linearTicks(Math.pow(10, lo), Math.pow(10, hi), 4).filter((v) => v > 0).map((v) => Math.log10(v));
}

// largest/smallest finite values; for log scale only positive y
function extent(values, positiveOnly) {
  let lo = Infinity;
  let hi = -Infinity;
  for (let k = 0; k < values.length; k++) {
    const v = toNum(values[k]);
    if (!Number.isFinite(v) || (positiveOnly && v <= 0)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

// keep a line's shape with fewer points: per chunk, its min and max (in order)
function decimate(pts) {
  if (pts.length <= MAX_LINE_POINTS) return pts;
  const chunk = Math.ceil(pts.length / (MAX_LINE_POINTS / 2));
  const out = [];
  for (let s = 0; s < pts.length; s += chunk) {
    let iMin = -1;
    let iMax = -1;
    for (let k = s; k < Math.min(pts.length, s + chunk); k++) {
      const p = pts[k];
      if (p === null) {
        if (iMin >= 0) break;
        continue;
      }
      if (iMin < 0 || p[1] < pts[iMin][1]) iMin = k;
      if (iMax < 0 || p[1] > pts[iMax][1]) iMax = k;
    }
    if (iMin < 0) {
      out.push(null);
      continue;
    }
    if (iMin === iMax) out.push(pts[iMin]);
    else if (iMin < iMax) out.push(pts[iMin], pts[iMax]);
    else out.push(pts[iMax], pts[iMin]);
  }
  return out;
}

function seriesOf(state) {
  return (Array.isArray(state.series) ? state.series : [])
    .filter((s) => s && typeof s === "object")
    .map((s) => ({ name: s.name, mode: s.mode, color: s.color, x: vec(s.x), y: vec(s.y) }));
}

// The value of each line series at x (its point nearest in x), for the hover read-out:
// [{name, x, y}] with the nearest point's own x and y.
export function valuesAt(state, x) {
  const out = [];
  for (const s of seriesOf(state)) {
    if (s.mode === "markers") continue;
    let best = -1;
    let gap = Infinity;
    const n = Math.min(s.x.length, s.y.length);
    for (let k = 0; k < n; k++) {
      const d = Math.abs(toNum(s.x[k]) - x);
      if (d < gap && Number.isFinite(toNum(s.y[k]))) {
        gap = d;
        best = k;
      }
    }
    if (best >= 0) out.push({ name: String(s.name ?? ""), x: toNum(s.x[best]), y: toNum(s.y[best]) });
  }
  return out;
}

export function buildSVG(state) {
  const W = Math.max(80, toNum(state.width) || 360);
  const H = Math.max(60, toNum(state.height) || 240);
  const logY = !!state.log_y;
  const series = seriesOf(state);
  const title = state.title ? String(state.title) : "";
  const xl = state.x_label ? String(state.x_label) : "";
  const yl = state.y_label ? String(state.y_label) : "";

  // data ranges
  let x0 = Infinity,
    x1 = -Infinity,
    y0 = Infinity,
    y1 = -Infinity;
  for (const s of series) {
    const xs = s.x;
    const ys = s.y;
    const n = Math.min(xs.length, ys.length);
    for (let k = 0; k < n; k++) {
      const x = toNum(xs[k]);
      const y = toNum(ys[k]);
      if (!Number.isFinite(x) || !Number.isFinite(y) || (logY && y <= 0)) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  const hasData = x0 <= x1;
  if (!hasData) {
    x0 = 0;
    x1 = 1;
    y0 = logY ? 0.1 : 0;
    y1 = 1;
  }
  [x0, x1] = padRange(x0, x1, 0.02);
  let ly0, ly1; // y range in plot units (log10 if log_y)
  if (logY) {
    ly0 = Math.log10(y0);
    ly1 = Math.log10(y1);
    if (ly1 - ly0 < 1e-9) {
      ly0 -= 0.5;
      ly1 += 0.5;
    } else {
      const d = (ly1 - ly0) * 0.04;
      ly0 -= d;
      ly1 += d;
    }
  } else {
    [ly0, ly1] = padRange(y0, y1, 0.05);
  }

  // ticks and their labels (labels decide the left margin)
  const yTicks = logY ? logTicks(ly0, ly1) : linearTicks(ly0, ly1, Math.max(2, Math.round(H / 55)));
  const yStep = yTicks.length > 1 ? yTicks[1] - yTicks[0] : Math.abs(ly1 - ly0) || 1;
  const yLabels = yTicks.map((t) => (logY ? formatLog(t) : formatLinear(t, yStep)));
  const maxLen = yLabels.reduce((m, s) => Math.max(m, s.length), 1);
  const mL = Math.ceil(10 + maxLen * 5.8 + (yl ? 16 : 0));
  const mR = 12;
  const mT = title ? 24 : 10;
  const mB = 22 + (xl ? 16 : 0);
  const pw = Math.max(10, W - mL - mR);
  const ph = Math.max(10, H - mT - mB);
  const xTicks = linearTicks(x0, x1, Math.max(2, Math.round(pw / 70)));
  const xStep = xTicks.length > 1 ? xTicks[1] - xTicks[0] : Math.abs(x1 - x0) || 1;

  const X = (x) => mL + ((x - x0) / (x1 - x0)) * pw;
  const Y = (y) => mT + ph - ((y - ly0) / (ly1 - ly0)) * ph;

  const out = [];
  // the plot frame and its x range, for the hover read-out
  const frame = [mL, mT, pw, ph, x0, x1].map((v) => +v.toPrecision(12)).join(" ");
  out.push(
    `<svg class="${NS}" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" data-frame="${frame}">`
  );
  const clipId = "kc" + Math.random().toString(36).slice(2, 10);
  out.push(`<defs><clipPath id="${clipId}"><rect x="${mL}" y="${mT}" width="${pw}" height="${ph}"/></clipPath></defs>`);

  // grid and ticks
  const grid = ['<g class="kansci-grid">'];
  const axis = ['<g class="kansci-axis">'];
  const labels = [];
  for (let k = 0; k < yTicks.length; k++) {
    const y = r1(Y(yTicks[k]));
    if (y < mT - 0.5 || y > mT + ph + 0.5) continue;
    grid.push(`<line x1="${mL}" x2="${mL + pw}" y1="${y}" y2="${y}"/>`);
    axis.push(`<line x1="${mL - 4}" x2="${mL}" y1="${y}" y2="${y}"/>`);
    labels.push(`<text x="${mL - 6}" y="${y}" text-anchor="end" dominant-baseline="central">${esc(yLabels[k])}</text>`);
  }
  if (logY && yTicks.length) {
    // minor ticks 2..9 x 10^k when few decades are shown
    const dec = Math.ceil(ly1) - Math.floor(ly0);
    if (dec <= 6) {
      for (let k = Math.floor(ly0); k < Math.ceil(ly1); k++) {
        for (let m = 2; m <= 9; m++) {
          const lv = k + Math.log10(m);
          if (lv < ly0 || lv > ly1) continue;
          const y = r1(Y(lv));
          axis.push(`<line x1="${mL - 2}" x2="${mL}" y1="${y}" y2="${y}"/>`);
        }
      }
    }
  }
  for (const t of xTicks) {
    const x = r1(X(t));
    if (x < mL - 0.5 || x > mL + pw + 0.5) continue;
    grid.push(`<line x1="${x}" x2="${x}" y1="${mT}" y2="${mT + ph}"/>`);
    axis.push(`<line x1="${x}" x2="${x}" y1="${mT + ph}" y2="${mT + ph + 4}"/>`);
    labels.push(`<text x="${x}" y="${mT + ph + 14}" text-anchor="middle">${esc(formatLinear(t, xStep))}</text>`);
  }
  axis.push(`<path d="M${mL} ${mT}V${mT + ph}H${mL + pw}"/>`);
  grid.push("</g>");
  axis.push("</g>");
  out.push(grid.join(""));

  // data
  out.push(`<g class="kansci-data" clip-path="url(#${clipId})">`);
  const legend = [];
  let auto = 0; // series without a colour take the palette in turn
  series.forEach((s) => {
    const name = s.name == null ? "" : String(s.name);
    const color = s.color ? String(s.color) : PALETTE[auto++ % PALETTE.length];
    const mode = s.mode === "markers" ? "markers" : "lines";
    const xs = s.x;
    const ys = s.y;
    const n = Math.min(xs.length, ys.length);
    legend.push({ name, color, mode });
    if (mode === "lines") {
      let pts = new Array(n);
      for (let k = 0; k < n; k++) {
        const x = toNum(xs[k]);
        const y = toNum(ys[k]);
        pts[k] = Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0) ? [x, logY ? Math.log10(y) : y] : null;
      }
      pts = decimate(pts);
      let d = "";
      let run = 0; // points in the current unbroken piece
      let last = null;
      const dots = []; // pieces of one point would be invisible: draw a dot
      const endRun = () => {
        if (run === 1) dots.push(`<circle cx="${r1(X(last[0]))}" cy="${r1(Y(last[1]))}" r="2" style="fill: ${esc(color)}"/>`);
        run = 0;
      };
      for (const p of pts) {
        if (p === null) {
          endRun();
          continue;
        }
        d += (run ? "L" : "M") + r1(X(p[0])) + " " + r1(Y(p[1]));
        run++;
        last = p;
      }
      endRun();
      out.push(`<g data-series="${esc(name)}">`);
      if (d) out.push(`<path class="kansci-line" data-series="${esc(name)}" style="stroke: ${esc(color)}" d="${d}"/>`);
      if (dots.length <= MAX_MARKERS) out.push(dots.join(""));
      out.push("</g>");
    } else {
      const stride = Math.max(1, Math.ceil(n / MAX_MARKERS));
      const c = [`<g data-series="${esc(name)}" style="fill: ${esc(color)}" fill-opacity="0.8">`];
      for (let k = 0; k < n; k += stride) {
        const x = toNum(xs[k]);
        const y = toNum(ys[k]);
        if (!Number.isFinite(x) || !Number.isFinite(y) || (logY && y <= 0)) continue;
        c.push(`<circle cx="${r1(X(x))}" cy="${r1(Y(logY ? Math.log10(y) : y))}" r="2.2"/>`);
      }
      c.push("</g>");
      out.push(c.join(""));
    }
  });
  out.push("</g>");
  out.push(axis.join(""));
  out.push(labels.join(""));

  if (!hasData) {
    out.push(`<text class="kansci-empty" x="${r1(mL + pw / 2)}" y="${r1(mT + ph / 2)}">no data</text>`);
  }
  if (title) out.push(`<text class="kansci-title" x="${r1(mL + pw / 2)}" y="15">${esc(title)}</text>`);
  if (xl) out.push(`<text class="kansci-label" x="${r1(mL + pw / 2)}" y="${H - 5}">${esc(xl)}</text>`);
  if (yl)
    out.push(
      `<text class="kansci-label" transform="translate(11 ${r1(mT + ph / 2)}) rotate(-90)" dominant-baseline="central">${esc(yl)}</text>`
    );

  // legend, top right inside the axes
  const named = legend.filter((e) => e.name !== "");
  if (named.length) {
    const lh = 14;
    const tw = named.reduce((m, e) => Math.max(m, e.name.length), 0) * 5.8;
    const bw = Math.ceil(tw + 30);
    const bh = named.length * lh + 6;
    // the corner of the axes that hides the fewest data points
    const corners = [
      [mL + pw - bw - 6, mT + 6],
      [mL + 6, mT + 6],
      [mL + pw - bw - 6, mT + ph - bh - 6],
      [mL + 6, mT + ph - bh - 6],
    ];
    const hits = [0, 0, 0, 0];
    for (const s of series) {
      const xs = s.x;
      const ys = s.y;
      const n = Math.min(xs.length, ys.length);
      const stride = Math.max(1, Math.ceil(n / 1000));
      for (let k = 0; k < n; k += stride) {
        const x = toNum(xs[k]);
        let y = toNum(ys[k]);
        if (!Number.isFinite(x) || !Number.isFinite(y) || (logY && y <= 0)) continue;
        const px = X(x);
        const py = Y(logY ? Math.log10(y) : y);
        for (let c = 0; c < 4; c++) {
          const [cx, cy] = corners[c];
          if (px >= cx - 4 && px <= cx + bw + 4 && py >= cy - 4 && py <= cy + bh + 4) hits[c] += stride;
        }
      }
    }
    let best = 0;
    for (let c = 1; c < 4; c++) if (hits[c] < hits[best]) best = c;
    const [lx, ly] = corners[best];
    const g = [`<g class="kansci-legend" transform="translate(${r1(lx)} ${r1(ly)})">`];
    g.push(`<rect class="kansci-legend-bg" x="0" y="0" width="${bw}" height="${bh}" rx="2"/>`);
    named.forEach((e, k) => {
      const cy = 3 + lh * k + lh / 2;
      if (e.mode === "markers") g.push(`<circle cx="13" cy="${cy}" r="2.5" style="fill: ${esc(e.color)}"/>`);
      else g.push(`<line x1="5" x2="21" y1="${cy}" y2="${cy}" style="stroke: ${esc(e.color)}" stroke-width="1.5"/>`);
      g.push(`<text x="25" y="${cy}" dominant-baseline="central">${esc(e.name)}</text>`);
    });
    g.push("</g>");
    out.push(g.join(""));
  }
  out.push("</svg>");
  return out.join("");
}

const KEYS = ["series", "log_y", "title", "x_label", "y_label", "width", "height"];

function render({ model, el }) {
  const figure = document.createElement("div");
  figure.className = "kansci-figure";
  figure.style.display = "inline-block";
  figure.style.maxWidth = "100%";
  const wrap = document.createElement("div");
  wrap.className = `${NS}-wrap`;
  const style = document.createElement("style");
  style.textContent = CSS + KANSCI_BAR_CSS;
  const readout = document.createElement("div");
  readout.className = "kansci-readout";
  figure.replaceChildren(wrap, readout, kansciToolbar(() => wrap.querySelector("svg"), "kansci-plot"));
  el.replaceChildren(style, figure);
  let state = {};

  const draw = () => {
    state = {};
    for (const k of KEYS) state[k] = model.get(k);
    wrap.innerHTML = buildSVG(state);
    readout.textContent = "";
  };

  // hover: a guide line at the pointer and each line series' value there
  const onMove = (ev) => {
    const svg = wrap.querySelector("svg");
    if (!svg || !svg.dataset.frame) return;
    const [mL, mT, pw, ph, x0, x1] = svg.dataset.frame.split(" ").map(Number);
    const r = svg.getBoundingClientRect();
    const px = ((ev.clientX - r.left) * Number(svg.getAttribute("width"))) / r.width;
    let guide = svg.querySelector("line.kansci-guide");
    if (px < mL || px > mL + pw) {
      readout.textContent = "";
      if (guide) guide.remove();
      return;
    }
    const x = x0 + ((px - mL) / pw) * (x1 - x0);
    const values = valuesAt(state, x);
    if (!values.length) return;
    const g = (v) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : +v.toPrecision(4));
    readout.textContent = [`x = ${g(values[0].x)}`, ...values.map((v) => `${v.name} = ${g(v.y)}`)].join("   ");
    if (!guide) {
      guide = document.createElementNS("http://www.w3.org/2000/svg", "line");
      guide.setAttribute("class", "kansci-guide");
      svg.appendChild(guide);
    }
    for (const [k, v] of [["x1", px], ["x2", px], ["y1", mT], ["y2", mT + ph]]) guide.setAttribute(k, v);
  };
  const onLeave = () => {
    readout.textContent = "";
    const guide = wrap.querySelector("line.kansci-guide");
    if (guide) guide.remove();
  };
  wrap.addEventListener("mousemove", onMove);
  wrap.addEventListener("mouseleave", onLeave);

  let pending = 0;
  const schedule = () => {
    if (pending) return;
    if (typeof requestAnimationFrame !== "function") return draw();
    pending = requestAnimationFrame(() => {
      pending = 0;
      draw();
    });
  };

  for (const k of KEYS) model.on(`change:${k}`, schedule);
  draw();

  return () => {
    if (pending && typeof cancelAnimationFrame === "function") cancelAnimationFrame(pending);
    for (const k of KEYS) model.off(`change:${k}`, schedule);
    wrap.removeEventListener("mousemove", onMove);
    wrap.removeEventListener("mouseleave", onLeave);
  };
}

export default { render };
