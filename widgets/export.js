// Shared by the network and line-plot widgets (Python puts this file before each one's module):
// a figure's toolbar, and its export as an SVG or PNG file with the page's colours inlined
// (the theme's CSS variables resolved), whole even when the view is zoomed.

const KANSCI_PROPS = ["fill", "fill-opacity", "stroke", "stroke-width", "stroke-opacity",
  "stroke-dasharray", "stroke-linejoin", "stroke-linecap", "opacity", "display", "visibility",
  "font-family", "font-size", "font-weight", "text-anchor", "dominant-baseline", "paint-order"];

// The drawing as a standalone SVG document (text).
function kansciStandalone(svg) {
  const clone = svg.cloneNode(true);
  const live = [svg, ...svg.querySelectorAll("*")];
  const copies = [clone, ...clone.querySelectorAll("*")];
  live.forEach((node, k) => {
    const cs = getComputedStyle(node);
    copies[k].setAttribute("style", KANSCI_PROPS.map((p) => `${p}:${cs.getPropertyValue(p)}`).join(";"));
  });
  const full = svg.getAttribute("data-full-viewbox");
  if (full) clone.setAttribute("viewBox", full);
  const [x, y] = (clone.getAttribute("viewBox") || "0 0").split(/\s+/).map(Number);
  const paper = document.createElementNS("http://www.w3.org/2000/svg", "rect");
  for (const [k, v] of [["x", x], ["y", y], ["width", svg.getAttribute("width")],
    ["height", svg.getAttribute("height")], ["fill", getComputedStyle(svg).backgroundColor]]) {
    paper.setAttribute(k, v);
  }
  clone.insertBefore(paper, clone.firstChild);
  clone.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  return new XMLSerializer().serializeToString(clone);
}

function kansciDownload(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 5000);
}

function kansciSaveSVG(svg, name) {
  kansciDownload(new Blob([kansciStandalone(svg)], { type: "image/svg+xml" }), `${name}.svg`);
}

// PNG at twice the drawn size.
function kansciSavePNG(svg, name) {
  const w = Number(svg.getAttribute("width"));
  const h = Number(svg.getAttribute("height"));
  const url = URL.createObjectURL(new Blob([kansciStandalone(svg)], { type: "image/svg+xml" }));
  const img = new Image();
  img.onload = () => {
    const canvas = document.createElement("canvas");
    canvas.width = 2 * w;
    canvas.height = 2 * h;
    const ctx = canvas.getContext("2d");
    ctx.scale(2, 2);
    ctx.drawImage(img, 0, 0, w, h);
    URL.revokeObjectURL(url);
    canvas.toBlob((blob) => kansciDownload(blob, `${name}.png`), "image/png");
  };
  img.src = url;
}

const KANSCI_BAR_CSS = `
.kansci-figure { position: relative; }
.kansci-toolbar { position: absolute; top: 2px; right: 2px; display: flex; gap: 2px;
  opacity: 0.35; transition: opacity 0.15s; }
.kansci-figure:hover .kansci-toolbar { opacity: 1; }
.kansci-toolbar button { font-size: 10px; line-height: 16px; height: 18px; padding: 0 5px;
  cursor: pointer; border: 1px solid var(--jp-border-color1, #bbb); border-radius: 2px;
  color: var(--jp-ui-font-color1, #222); background: var(--jp-layout-color1, #f5f5f5); }
`;

// A toolbar: [key, label, tooltip, action] buttons (class kansci-tool-<key>), then SVG and
// PNG saving of getSvg()'s drawing as <name>.svg / <name>.png.
function kansciToolbar(getSvg, name, extra = []) {
  const bar = document.createElement("div");
  bar.className = "kansci-toolbar";
  const save = [["svg", "SVG", "save the figure as SVG", () => kansciSaveSVG(getSvg(), name)],
    ["png", "PNG", "save the figure as PNG", () => kansciSavePNG(getSvg(), name)]];
  for (const [key, label, tip, action] of [...extra, ...save]) {
    const b = document.createElement("button");
    b.textContent = label;
    b.title = tip;
    b.className = `kansci-tool-${key}`;
    b.addEventListener("click", (ev) => {
      ev.stopPropagation();
      if (getSvg()) action();
    });
    bar.appendChild(b);
  }
  return bar;
}
