/** Rows per run as a small inline SVG bar chart (no chart library: a handful of rects). */
import { s } from "./dom.js";

export interface RunPoint {
  label: string;
  synced: number;
  loaded: number;
}

export function rowsChart(points: RunPoint[], width = 480, height = 120): SVGElement {
  const pad = 18;
  const max = Math.max(1, ...points.flatMap((p) => [p.synced, p.loaded]));
  const slot = points.length ? (width - pad * 2) / points.length : 0;
  const bar = Math.max(2, Math.min(14, slot / 2 - 2));
  const y = (v: number) => height - pad - (v / max) * (height - pad * 2);
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", class: "chart", id: "rows-chart" });
  svg.append(
    s("title", {}, `Rows per run, oldest to newest: ${points.map((p) => `${p.label} ${p.synced} synced, ${p.loaded} loaded`).join("; ") || "no runs"}`),
    s("line", { x1: pad, x2: width - pad, y1: height - pad, y2: height - pad, class: "axis" }),
    s("text", { x: pad, y: 12, class: "tick" }, `max ${max}`),
  );
  points.forEach((p, i) => {
    const x = pad + i * slot + slot / 2;
    svg.append(
      s("rect", { x: x - bar - 1, y: y(p.synced), width: bar, height: height - pad - y(p.synced), class: "synced" }, s("title", {}, `${p.label}: ${p.synced} synced`)),
      s("rect", { x: x + 1, y: y(p.loaded), width: bar, height: height - pad - y(p.loaded), class: "loaded" }, s("title", {}, `${p.label}: ${p.loaded} loaded`)),
    );
  });
  return svg;
}
