// Small SVG charts drawn by the page itself: line charts and a colour grid. No library:
// a few axes, lines and labels are less code than a plotting library's configuration,
// and nothing has to be downloaded or served besides the page.

const SVG = "http://www.w3.org/2000/svg";
export const COLOURS = ["#2f6fdf", "#e0682b", "#1a7f4b", "#9b3fc4", "#c23a2b", "#0f9aa8",
                        "#8c6d1f", "#d1458f"];

function svg(tag, attributes = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== null) node.textContent = text;
  return node;
}

function ticks(low, high, count = 5) {
  if (!(high > low)) return [low];
  const raw = (high - low) / count, power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map(m => m * power).find(s => s >= raw);
  const values = [];
  for (let v = Math.ceil(low / step) * step; v <= high + step * 1e-9; v += step) values.push(+v.toFixed(10));
  return values;
}

function label(value) {
  const size = Math.abs(value);
  if (size !== 0 && (size < 0.01 || size >= 1e5)) return value.toExponential(1);
  return String(+value.toFixed(4));
}

// A fraction as a percentage tick: 0.94 -> "94%", 0.985 -> "98.5%" (accuracies read as
// percentages everywhere else in the studio and the command line).
export const percentTick = v => `${+(100 * v).toFixed(2)}%`;

// series: [{name, points: [[x, y]...], colour, dashed, right}] (right: on the right axis).
// options.yFormat: how the left axis writes its ticks (default: the number).
export function lineChart(container, series, options = {}) {
  const width = options.width || 460, height = options.height || 240;
  const margin = {left: 52, right: options.rightLabel ? 52 : 14, top: 26, bottom: 38};
  const root = svg("svg", {width, height, viewBox: `0 0 ${width} ${height}`, role: "img"});
  root.append(svg("text", {x: margin.left, y: 15, class: "title"}, options.title || ""));
  const plotted = series.filter(s => s.points.some(p => Number.isFinite(p[1])));
  const finite = s => s.points.filter(p => Number.isFinite(p[1]));
  const xs = plotted.flatMap(s => finite(s).map(p => p[0]));
  const xLow = options.xMin ?? Math.min(...xs, 0), xHigh = Math.max(...xs, xLow + 1);
  const range = side => {
    const ys = plotted.filter(s => !!s.right === side).flatMap(s => finite(s).map(p => p[1]));
    if (!ys.length) return [0, 1];
    let low = Math.min(...ys), high = Math.max(...ys);
    if (high === low) { low -= 0.5; high += 0.5; }
    const pad = (high - low) * 0.05;
    return [options.yMin ?? low - pad, high + pad];
  };
  const [yLow, yHigh] = options.yRange || range(false), [rLow, rHigh] = range(true);
  const X = x => margin.left + (x - xLow) / (xHigh - xLow) * (width - margin.left - margin.right);
  const Y = (y, right) => {
    const [low, high] = right ? [rLow, rHigh] : [yLow, yHigh];
    return height - margin.bottom - (y - low) / (high - low) * (height - margin.top - margin.bottom);
  };
  for (const t of ticks(yLow, yHigh)) {
    root.append(svg("line", {x1: margin.left, x2: width - margin.right, y1: Y(t), y2: Y(t), class: "grid"}));
    root.append(svg("text", {x: margin.left - 6, y: Y(t) + 4, "text-anchor": "end"}, (options.yFormat || label)(t)));
  }
  if (options.rightLabel) {
    for (const t of ticks(rLow, rHigh)) {
      root.append(svg("text", {x: width - margin.right + 6, y: Y(t, true) + 4}, label(t)));
    }
    root.append(svg("text", {x: width - 12, y: margin.top + 40, transform: `rotate(90 ${width - 12} ${margin.top + 40})`}, options.rightLabel));
  }
  for (const t of ticks(xLow, xHigh, 6)) {
    if (options.integerX && !Number.isInteger(t)) continue;
    root.append(svg("text", {x: X(t), y: height - margin.bottom + 15, "text-anchor": "middle"}, label(t)));
  }
  root.append(svg("line", {x1: margin.left, x2: margin.left, y1: margin.top, y2: height - margin.bottom, class: "axis"}));
  root.append(svg("line", {x1: margin.left, x2: width - margin.right, y1: height - margin.bottom, y2: height - margin.bottom, class: "axis"}));
  root.append(svg("text", {x: (margin.left + width - margin.right) / 2, y: height - margin.bottom + 30, "text-anchor": "middle"}, options.xLabel || ""));
  root.append(svg("text", {x: 12, y: margin.top + 60, transform: `rotate(-90 12 ${margin.top + 60})`, "text-anchor": "middle"}, options.yLabel || ""));
  series.forEach((s, i) => {
    const colour = s.colour || COLOURS[i % COLOURS.length];
    const points = finite(s);
    if (points.length === 1) {
      root.append(svg("circle", {cx: X(points[0][0]), cy: Y(points[0][1], s.right), r: 3, fill: colour}));
    } else if (points.length > 1) {
      const d = points.map((p, k) => `${k ? "L" : "M"}${X(p[0]).toFixed(1)},${Y(p[1], s.right).toFixed(1)}`).join("");
      root.append(svg("path", {d, fill: "none", stroke: colour, "stroke-width": 1.8,
                               "stroke-dasharray": s.dashed ? "5 3" : "none", "data-series": s.name}));
    }
  });
  // The legend is HTML below the chart: it wraps by itself, however long the names.
  const legend = document.createElement("div");
  legend.className = "legend";
  series.forEach((s, i) => {
    if (s.legend === false) return;
    const item = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.style.borderTop = `2px ${s.dashed ? "dashed" : "solid"} ${s.colour || COLOURS[i % COLOURS.length]}`;
    item.append(swatch, s.name);
    legend.append(item);
  });
  container.replaceChildren(root, legend);
  return root;
}

// A grid of coloured cells with labels: the search heat map.
export function heatGrid(container, rows, columns, value, options = {}) {
  const cell = options.cell || 54, left = options.left || 110, top = 40;
  const width = left + columns.length * cell + 10, height = top + rows.length * cell + 30;
  const root = svg("svg", {width, height, viewBox: `0 0 ${width} ${height}`});
  root.append(svg("text", {x: 4, y: 14, class: "title"}, options.title || ""));
  columns.forEach((c, j) => root.append(svg("text", {x: left + j * cell + cell / 2, y: top - 6, "text-anchor": "middle"}, c)));
  const values = rows.flatMap((_, i) => columns.map((_, j) => value(i, j))).filter(Number.isFinite);
  const low = Math.min(...values), high = Math.max(...values);
  rows.forEach((r, i) => {
    root.append(svg("text", {x: left - 6, y: top + i * cell + cell / 2 + 4, "text-anchor": "end"}, r));
    columns.forEach((_, j) => {
      const v = value(i, j);
      const t = Number.isFinite(v) && high > low ? (v - low) / (high - low) : 0.5;
      const fill = Number.isFinite(v) ? `rgb(${Math.round(240 - 200 * t)}, ${Math.round(245 - 120 * t)}, ${Math.round(255 - 60 * t)})` : "#f2f2f2";
      root.append(svg("rect", {x: left + j * cell, y: top + i * cell, width: cell - 2, height: cell - 2, fill}));
      root.append(svg("text", {x: left + j * cell + cell / 2 - 1, y: top + i * cell + cell / 2 + 4, "text-anchor": "middle",
                               class: t > 0.6 ? "cell-light" : "cell-dark"}, Number.isFinite(v) ? options.format(v) : "…"));
    });
  });
  if (options.xLabel) root.append(svg("text", {x: left + columns.length * cell / 2, y: height - 8, "text-anchor": "middle"}, options.xLabel));
  container.replaceChildren(root);
}
