// Draws the report's charts (inline SVG) and its trials table from the embedded view model.
// Plain DOM APIs only, so the file opens anywhere without network access.
"use strict";
const DATA = JSON.parse(document.getElementById("report-data").textContent);
const TRIALS = DATA.trials;
const W = 640, H = 320, M = {left: 62, right: 16, top: 12, bottom: 40};

function fmt(v) {
  if (v === null || v === undefined || v === "") return "";
  if (typeof v !== "number") return String(v);
  return Math.abs(v) >= 1000 ? String(Math.round(v)) : String(Number(v.toPrecision(4)));
}

function esc(s) {
  return String(s).replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]));
}

function ticks(lo, hi, n, integer) {
  const step0 = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(step0)));
  const step = Math.max([1, 2, 5, 10].map(f => f * mag).find(s => s >= step0), integer ? 1 : 0);
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

function extent(values) {
  let lo = Math.min(...values), hi = Math.max(...values);
  if (lo === hi) { lo -= Math.abs(lo) * 0.05 || 1; hi += Math.abs(hi) * 0.05 || 1; }
  const pad = (hi - lo) * 0.04;
  return [lo - pad, hi + pad];
}

// One chart: `series` of {kind: "dots" | "step" | "line", points: [[x, y, row?]], cls}, an optional
// vertical target line {x, label}; dots carrying a row show that trial on hover. `xInteger`: x is a
// trial index, so its ticks are whole numbers.
function chart(el, {xlabel, ylabel, series, vline, xInteger}) {
  const xs = series.flatMap(s => s.points.map(p => p[0])).concat(vline ? [vline.x] : []);
  const ys = series.flatMap(s => s.points.map(p => p[1]));
  const [x0, x1] = extent(xs), [y0, y1] = extent(ys);
  const sx = x => M.left + (x - x0) / (x1 - x0) * (W - M.left - M.right);
  const sy = y => H - M.bottom - (y - y0) / (y1 - y0) * (H - M.top - M.bottom);
  const parts = [];
  for (const t of ticks(x0, x1, 6, xInteger)) {
    parts.push(`<line class="grid" x1="${sx(t)}" x2="${sx(t)}" y1="${M.top}" y2="${H - M.bottom}"/>`,
               `<text x="${sx(t)}" y="${H - M.bottom + 14}" text-anchor="middle">${fmt(t)}</text>`);
  }
  for (const t of ticks(y0, y1, 5)) {
    parts.push(`<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${sy(t)}" y2="${sy(t)}"/>`,
               `<text x="${M.left - 6}" y="${sy(t) + 4}" text-anchor="end">${fmt(t)}</text>`);
  }
  parts.push(`<g class="axis"><line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}"/>`,
             `<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}"/></g>`,
             `<text x="${(W + M.left) / 2}" y="${H - 6}" text-anchor="middle">${esc(xlabel)}</text>`,
             `<text transform="translate(12 ${(H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(ylabel)}</text>`);
  if (vline) {
    parts.push(`<line class="target" x1="${sx(vline.x)}" x2="${sx(vline.x)}" y1="${M.top}" y2="${H - M.bottom}"/>`,
               `<text x="${sx(vline.x) + 4}" y="${M.top + 10}">${esc(vline.label)}</text>`);
  }
  for (const s of series) {
    if (s.kind === "dots") {
      for (const [x, y, row] of s.points) {
        parts.push(`<circle class="${s.cls}" cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3.5" data-row="${row}"/>`);
      }
    } else {
      let d = "";
      s.points.forEach(([x, y], i) => {
        if (i === 0) d += `M${sx(x).toFixed(1)},${sy(y).toFixed(1)}`;
        else d += (s.kind === "step" ? `H${sx(x).toFixed(1)}V` : `L${sx(x).toFixed(1)},`) + sy(y).toFixed(1);
      });
      parts.push(`<path class="${s.cls}" d="${d}"/>`);
    }
  }
  el.insertAdjacentHTML("beforeend", `<svg viewBox="0 0 ${W} ${H}" role="img">${parts.join("")}</svg>`);
}

function legend(items) {
  return `<div class="legend">${items.map(([color, label]) => `<span><i style="background:${color}"></i>${esc(label)}</span>`).join("")}</div>`;
}

function drawCurves() {
  const host = document.getElementById("curve-charts");
  for (const curve of DATA.curves) {
    const box = document.createElement("div");
    box.className = "chart curve";
    box.innerHTML = `<h3>${esc(curve.stage)}: ${curve.points.length} trials with a reward</h3>` +
      legend([["#1f6feb", "trial reward"], ["#c62828", "best so far"]]);
    host.appendChild(box);
    chart(box, {xlabel: "trial index", ylabel: "reward", xInteger: true, series: [
      {kind: "dots", cls: "trial", points: curve.points},
      {kind: "step", cls: "best", points: curve.best}]});
  }
}

function drawScatter() {
  const sc = DATA.scatter, host = document.getElementById("scatter-chart");
  if (!sc || !host) return;
  const box = document.createElement("div");
  box.className = "chart scatter";
  box.innerHTML = `<h3>${esc(sc.y)} vs ${esc(sc.x)}: ${sc.points.length} succeeded search trials</h3>` +
    legend([["#1f6feb", "trial"], ["#e36209", `Pareto front (${sc.front.length})`], ["#000", `target ${fmt(sc.target)}`]]);
  host.appendChild(box);
  chart(box, {xlabel: sc.x, ylabel: sc.y, vline: {x: sc.target, label: "target"}, series: [
    {kind: "dots", cls: "trial", points: sc.points},
    {kind: "line", cls: "front", points: sc.front},
    {kind: "dots", cls: "front", points: sc.front}]});
}

function hover() {
  const tip = document.getElementById("tooltip");
  document.addEventListener("mouseover", e => {
    const row = e.target.getAttribute && e.target.getAttribute("data-row");
    if (row === null || row === undefined) { tip.style.display = "none"; return; }
    const t = TRIALS[Number(row)];
    tip.innerHTML = `<b>${esc(t.id)}</b> · ${esc(t.status)} · reward ${fmt(t.reward)}<br>` +
      Object.entries(t.metrics).map(([k, v]) => `${esc(k)} ${fmt(v)}`).join(" · ") + `<br><code>${esc(t.arch)}</code>`;
    tip.style.display = "block";
  });
  document.addEventListener("mousemove", e => { tip.style.left = (e.clientX + 14) + "px"; tip.style.top = (e.clientY + 14) + "px"; });
}

// A failure's cell shows its message's last line (a traceback's error); the whole message is its tooltip.
const lastLine = text => (text || "").trim().split("\n").pop();
const COLUMNS = [
  ["id", t => t.id], ["stage", t => t.stage], ["status", t => t.reason ? `${t.status} (${t.reason})` : t.status],
  ["reward", t => t.reward],
  ["metrics", t => Object.entries(t.metrics).map(([k, v]) => `${k}=${fmt(v)}`).join(" ")],
  ["architecture", t => t.arch], ["seconds", t => t.seconds],
  ["failure", t => lastLine(t.message)],
];

function drawTable() {
  const table = document.getElementById("trials-table"), body = table.tBodies[0];
  const filter = document.getElementById("trial-filter"), status = document.getElementById("trial-status");
  const count = document.getElementById("trial-count");
  let sortKey = null, sortDir = 1;
  table.tHead.rows[0].innerHTML = COLUMNS.map(([name]) => `<th data-key="${name}">${name}</th>`).join("");
  for (const s of [...new Set(TRIALS.map(t => t.status))].sort()) status.insertAdjacentHTML("beforeend", `<option>${esc(s)}</option>`);
  function render() {
    const text = filter.value.toLowerCase(), wanted = status.value;
    let rows = TRIALS.filter(t => (!wanted || t.status === wanted) &&
      (!text || COLUMNS.some(([, get]) => String(get(t) ?? "").toLowerCase().includes(text))));
    if (sortKey !== null) {
      const get = COLUMNS.find(([name]) => name === sortKey)[1];
      rows = rows.slice().sort((a, b) => {
        const va = get(a), vb = get(b);
        if (va === null || va === "") return 1;
        if (vb === null || vb === "") return -1;
        return (typeof va === "number" ? va - vb : String(va).localeCompare(String(vb))) * sortDir;
      });
    }
    body.innerHTML = rows.map(t => `<tr class="status-${esc(t.status)}">` + COLUMNS.map(([name, get]) => {
      const title = name === "failure" && t.message ? ` title="${esc(t.message)}"` : "";
      return `<td class="${name === "architecture" ? "arch" : name}"${title}>${esc(fmt(get(t)))}</td>`;
    }).join("") + "</tr>").join("");
    count.textContent = `${rows.length} of ${TRIALS.length} trials`;
  }
  table.tHead.addEventListener("click", e => {
    const key = e.target.getAttribute("data-key");
    if (!key) return;
    sortDir = key === sortKey ? -sortDir : (key === "reward" ? -1 : 1);
    sortKey = key;
    for (const th of table.tHead.rows[0].cells) th.className = th.dataset.key === key ? (sortDir > 0 ? "asc" : "desc") : "";
    render();
  });
  filter.addEventListener("input", render);
  status.addEventListener("change", render);
  for (const link of document.querySelectorAll("header a[data-status]")) {  // "5 failed" shows those 5
    link.addEventListener("click", () => { status.value = link.dataset.status; render(); });
  }
  render();
}

drawCurves();
drawScatter();
drawTable();
hover();
document.body.setAttribute("data-rendered", "true");
