/**
 * BenchResults as a Markdown summary table, a list of findings (who wins what, said plainly,
 * including where a container beats the unikernel), and a self-contained HTML report with inline
 * SVG charts: start-to-ready distribution, latency against request weight, memory against N.
 * No external assets: the file opens offline.
 */
import type { ComparatorName } from './comparators.js';
import { type BenchResults, WRK_STAGGER_MS } from './suite.js';

const COLORS: Record<ComparatorName, string> = {
  unikernel: '#1f77b4',
  'unikernel-fast': '#17becf',
  'linux-microvm': '#9467bd',
  'container-runc': '#ff7f0e',
  'container-crun': '#bcbd22',
  'container-podman': '#e377c2',
  native: '#2ca02c',
  'container-runc-qemu-user': '#d62728',
  'native-qemu-user': '#8c564b',
};

const mib = (b: number | undefined): string => (b === undefined ? '-' : `${(b / 1048576).toFixed(1)} MiB`);
const ms = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '-' : x < 10 ? `${x.toFixed(2)} ms` : `${x.toFixed(1)} ms`);
const rps = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(0));
const size = (b: number): string => (b >= 1048576 ? `${(b / 1048576).toFixed(2)} MiB` : `${(b / 1024).toFixed(0)} KiB`);

/** Memory of one instance as the bench counts it: cgroup memory for containers, PSS otherwise. */
function instanceMemory(r: BenchResults, name: ComparatorName, n: number): number | undefined {
  const p = r.memory[name]?.find((m) => m.instances === n);
  return p?.cgroupPerInstanceBytes ?? p?.pssPerInstanceBytes;
}

export function markdownSummary(r: BenchResults, command?: string): string {
  const light = r.settings.weights[0];
  const heavy = r.settings.weights[r.settings.weights.length - 1];
  const lines: string[] = [];
  lines.push(`### unikit bench: apps/httpd, ${r.date.slice(0, 16).replace('T', ' ')} UTC`);
  lines.push('');
  lines.push(`Host: ${r.host.cpus} CPUs (${r.host.cpuModel}), Linux ${r.host.kernel}. VMs: accelerator **${r.accel}**, ${r.vmMemBytes >> 20} MiB guest RAM, QEMU user networking. ` +
    `Latency: wrk -c${r.settings.connections} (a thread per two connections, threads started ${WRK_STAGGER_MS} ms apart, no request before all are open), about ${r.settings.durationS} s per weight, sharing the CPUs with the server.${command ? ` Command: \`${command}\`.` : ''}`);
  lines.push('');
  const memCols = r.settings.instances.map((n) => `mem/inst N=${n}`);
  lines.push(`| comparator | accel | image | ready p50 | ready p90 | light n=${light} req/s | p50 | p99 | heavy n=${heavy} req/s | p50 | p99 | ${memCols.join(' | ')} |`);
  lines.push(`|---|---|---|---|---|---|---|---|---|---|---|${memCols.map(() => '---').join('|')}|`);
  for (const c of r.comparators) {
    const b = r.boot[c.name];
    const lat = r.latency[c.name];
    const l = lat?.find((p) => p.n === light);
    const h = lat?.find((p) => p.n === heavy);
    const mem = r.settings.instances.map((n) => mib(instanceMemory(r, c.name, n)));
    lines.push(`| ${c.name} | ${c.accel} | ${size(c.imageBytes)} | ${ms(b?.p50Ms)} | ${ms(b?.p90Ms)} | ${rps(l?.requestsPerS)} | ${ms(l?.p50Ms)} | ${ms(l?.p99Ms)} | ${rps(h?.requestsPerS)} | ${ms(h?.p50Ms)} | ${ms(h?.p99Ms)} | ${mem.join(' | ')} |`);
  }
  lines.push('');
  lines.push('Memory per instance: PSS of the QEMU process (VMs) or of the process (native); cgroup v1 memory.usage_in_bytes for containers.');
  const f = findings(r);
  if (f.length) {
    lines.push('');
    lines.push('Findings:');
    for (const x of f) lines.push(`- ${x}`);
  }
  if (r.skipped.length) {
    lines.push('');
    lines.push('Skipped:');
    for (const s of r.skipped) lines.push(`- ${s}`);
  }
  return lines.join('\n') + '\n';
}

/** Plain statements comparing the unikernel with the container (and native), each way. */
export function findings(r: BenchResults): string[] {
  const out: string[] = [];
  const uk: ComparatorName = r.comparators.some((c) => c.name === 'unikernel') ? 'unikernel' : 'unikernel-fast';
  const accelOf = (n: ComparatorName): string => r.comparators.find((c) => c.name === n)?.accel ?? '?';
  const the = (n: ComparatorName): string => ({ unikernel: 'the unikernel', 'unikernel-fast': 'the fast-mode unikernel', 'linux-microvm': 'the Linux microVM', 'container-runc': 'the runc container', 'container-crun': 'the crun container', 'container-podman': 'the podman container', native: 'the native process', 'container-runc-qemu-user': 'the runc container under qemu-user', 'native-qemu-user': 'the native process under qemu-user' })[n];
  const against = (other: ComparatorName): void => {
    if (!r.comparators.some((c) => c.name === other) || !r.comparators.some((c) => c.name === uk)) return;
    const tag = `(${uk}: ${accelOf(uk)}, ${other}: ${accelOf(other)})`;
    const b1 = r.boot[uk]?.p50Ms;
    const b2 = r.boot[other]?.p50Ms;
    if (b1 !== undefined && b2 !== undefined) {
      out.push(b2 < b1
        ? `${cap(the(other))} wins start-to-ready: ${ms(b2)} against ${the(uk)}'s ${ms(b1)} (${(b1 / b2).toFixed(1)}x) ${tag}.`
        : `${cap(the(uk))} wins start-to-ready: ${ms(b1)} against ${the(other)}'s ${ms(b2)} ${tag}.`);
    }
    for (const p of r.latency[uk] ?? []) {
      const q = r.latency[other]?.find((x) => x.n === p.n);
      if (!q) continue;
      const tie = Math.abs(q.requestsPerS - p.requestsPerS) / Math.max(q.requestsPerS, p.requestsPerS) < 0.05;
      // The winner's figures first, so each line reads "X wins: X's figures against Y's".
      const [first, second] = q.requestsPerS > p.requestsPerS ? [[other, q], [uk, p]] as const : [[uk, p], [other, q]] as const;
      const who = tie ? 'about equal (within 5%)' : `${the(first[0])} wins`;
      out.push(`/compute?n=${p.n}: ${who}: ${rps(first[1].requestsPerS)} req/s (p99 ${ms(first[1].p99Ms)}) for ${the(first[0])} against ${rps(second[1].requestsPerS)} req/s (p99 ${ms(second[1].p99Ms)}) for ${the(second[0])} ${tag}.`);
    }
    for (const n of r.settings.instances) {
      const a = instanceMemory(r, uk, n);
      const b = instanceMemory(r, other, n);
      if (a === undefined || b === undefined) continue;
      out.push(b < a
        ? `Memory with ${n} instance(s): ${the(other)} wins: ${mib(b)} per instance against ${the(uk)}'s ${mib(a)}.`
        : `Memory with ${n} instance(s): ${the(uk)} wins: ${mib(a)} per instance against ${the(other)}'s ${mib(b)}.`);
    }
  };
  against('linux-microvm');
  out.push(...targets(r));
  against('container-runc');
  against('container-crun');
  against('container-podman');
  against('native');
  against('container-runc-qemu-user');
  return out;
}

/** Issue 7's targets against the Linux microVM, same accelerator, one run. */
export function targets(r: BenchResults): string[] {
  const out: string[] = [];
  if (!r.comparators.some((c) => c.name === 'linux-microvm') || !r.comparators.some((c) => c.name === 'unikernel')) return out;
  const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  const bu = r.boot.unikernel?.p50Ms;
  const bl = r.boot['linux-microvm']?.p50Ms;
  if (bu !== undefined && bl !== undefined) out.push(`Target: unikernel start-to-ready at most 0.1x the Linux microVM's: ${(bu / bl).toFixed(3)}x, ${verdict(bu <= 0.1 * bl)}.`);
  const n1 = r.settings.instances[0];
  const mu = n1 === undefined ? undefined : instanceMemory(r, 'unikernel', n1);
  const ml = n1 === undefined ? undefined : instanceMemory(r, 'linux-microvm', n1);
  if (mu !== undefined && ml !== undefined) out.push(`Target: unikernel memory per instance at most half the Linux microVM's (N=${n1}): ${(mu / ml).toFixed(3)}x, ${verdict(mu <= 0.5 * ml)}.`);
  for (const p of r.latency.unikernel ?? []) {
    const q = r.latency['linux-microvm']?.find((x) => x.n === p.n);
    if (q) out.push(`Target: unikernel requests/s at least the Linux microVM's (/compute?n=${p.n}): ${rps(p.requestsPerS)} against ${rps(q.requestsPerS)}, ${verdict(p.requestsPerS >= q.requestsPerS)}.`);
  }
  return out;
}

const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

interface Series {
  name: ComparatorName;
  points: { x: number; y: number }[];
}

/** A line chart (log scales optional) as an <svg> element. */
function lineChart(title: string, xLabel: string, yLabel: string, series: Series[], o: { logX?: boolean; logY?: boolean; bars?: boolean } = {}): string {
  const W = 760;
  const H = 320;
  const L = 70;
  const R = 230;
  const T = 30;
  const B = 50;
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.y) && p.y > 0);
  if (all.length === 0) return `<svg class="chart" data-empty="1" width="${W}" height="60" role="img"><text x="10" y="30">${esc(title)}: no data</text></svg>`;
  const tx = (v: number): number => (o.logX ? Math.log10(v) : v);
  const ty = (v: number): number => (o.logY ? Math.log10(v) : v);
  const xs = all.map((p) => tx(p.x));
  const ys = all.map((p) => ty(p.y));
  let x0 = Math.min(...xs);
  let x1 = Math.max(...xs);
  if (x0 === x1) { x0 -= 1; x1 += 1; }
  const y0 = o.logY ? Math.floor(Math.min(...ys)) : 0;
  let y1 = o.logY ? Math.ceil(Math.max(...ys)) : Math.max(...ys) * 1.1;
  if (y1 === y0) y1 = y0 + 1;
  const xTicks = [...new Set(all.map((p) => p.x))].sort((a, b) => a - b);
  // bars: one evenly spaced group per x value (categories), so that no group leaves the plot
  const px = (v: number): number => o.bars
    ? L + ((xTicks.indexOf(v) + 0.5) / xTicks.length) * (W - L - R)
    : L + 20 + ((tx(v) - x0) / (x1 - x0)) * (W - L - R - 40);
  const py = (v: number): number => H - B - ((ty(v) - y0) / (y1 - y0)) * (H - T - B);
  const parts: string[] = [];
  parts.push(`<text x="${W / 2 - R / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(title)}</text>`);
  parts.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>`);
  for (let i = 0; i <= 4; i++) {
    const v = y0 + ((y1 - y0) * i) / 4;
    const label = o.logY ? Math.pow(10, v) : v;
    const y = H - B - ((H - T - B) * i) / 4;
    parts.push(`<line x1="${L - 4}" y1="${y}" x2="${W - R}" y2="${y}" stroke="#ddd"/><text x="${L - 6}" y="${y + 4}" text-anchor="end" font-size="11">${label >= 100 ? label.toFixed(0) : label.toPrecision(2)}</text>`);
  }
  for (const v of xTicks) parts.push(`<text x="${px(v)}" y="${H - B + 16}" text-anchor="middle" font-size="11">${v}</text>`);
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 10}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>`);
  parts.push(`<text x="14" y="${(T + H - B) / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${(T + H - B) / 2})">${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[s.name];
    const pts = s.points.filter((p) => Number.isFinite(p.y) && p.y > 0);
    if (o.bars) {
      const bw = 10;
      for (const p of pts) parts.push(`<rect class="mark" x="${px(p.x) - (series.length * bw) / 2 + i * bw}" y="${py(p.y)}" width="${bw - 1}" height="${H - B - py(p.y)}" fill="${color}"><title>${esc(s.name)}: ${p.y.toFixed(2)}</title></rect>`);
    } else {
      if (pts.length > 1) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ')}"/>`);
      for (const p of pts) parts.push(`<circle class="mark" cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3.5" fill="${color}"><title>${esc(s.name)}: ${p.y.toFixed(2)}</title></circle>`);
    }
    parts.push(`<rect x="${W - R + 12}" y="${T + i * 18}" width="12" height="12" fill="${color}"/><text x="${W - R + 30}" y="${T + i * 18 + 10}" font-size="12">${esc(s.name)}</text>`);
  });
  return `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}" font-family="sans-serif">${parts.join('')}</svg>`;
}

/** Start-to-ready samples as a strip chart: one row per comparator, log time axis. */
function bootChart(r: BenchResults): string {
  const rows = r.comparators.filter((c) => r.boot[c.name]);
  const W = 760;
  const L = 230;
  const R = 30;
  const rowH = 36;
  const H = 60 + rows.length * rowH;
  const samples = rows.flatMap((c) => r.boot[c.name]?.samplesMs ?? []).filter((x) => x > 0);
  if (samples.length === 0) return `<svg class="chart" data-empty="1" width="${W}" height="60" role="img"><text x="10" y="30">start-to-ready: no data</text></svg>`;
  const lo = Math.floor(Math.log10(Math.min(...samples)));
  const hi = Math.ceil(Math.log10(Math.max(...samples)));
  const span = Math.max(1, hi - lo);
  const px = (v: number): number => L + ((Math.log10(v) - lo) / span) * (W - L - R);
  const parts: string[] = [`<text x="${W / 2}" y="18" text-anchor="middle" font-weight="bold">Start-to-ready time (ms, log scale; bar = median)</text>`];
  for (let e = lo; e <= hi; e++) {
    const x = px(Math.pow(10, e));
    parts.push(`<line x1="${x}" y1="28" x2="${x}" y2="${H - 24}" stroke="#ddd"/><text x="${x}" y="${H - 8}" text-anchor="middle" font-size="11">${Math.pow(10, e)}</text>`);
  }
  rows.forEach((c, i) => {
    const y = 40 + i * rowH + rowH / 2;
    const b = r.boot[c.name];
    parts.push(`<text x="${L - 8}" y="${y + 4}" text-anchor="end" font-size="12">${esc(c.name)} [${esc(c.accel)}]</text>`);
    for (const s of b?.samplesMs ?? []) parts.push(`<circle class="mark" cx="${px(s).toFixed(1)}" cy="${y}" r="3" fill="${COLORS[c.name]}" fill-opacity="0.6"><title>${s.toFixed(2)} ms</title></circle>`);
    if (b) parts.push(`<line x1="${px(b.p50Ms)}" y1="${y - 10}" x2="${px(b.p50Ms)}" y2="${y + 10}" stroke="#000" stroke-width="2"/>`);
  });
  return `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="start-to-ready" font-family="sans-serif">${parts.join('')}</svg>`;
}

/** mini-markdown to HTML for the summary: tables, list items, bold, code. */
function mdToHtml(md: string): string {
  const inline = (s: string): string => esc(s).replace(/\*\*(.+?)\*\*/g, '<b>$1</b>').replace(/`(.+?)`/g, '<code>$1</code>');
  const out: string[] = [];
  let inTable = false;
  let inList = false;
  for (const line of md.split('\n')) {
    if (line.startsWith('|')) {
      if (/^\|[-|]+\|$/.test(line)) continue;
      const cells = line.slice(1, -1).split('|').map((c) => c.trim());
      if (!inTable) {
        out.push('<table><tr>' + cells.map((c) => `<th>${inline(c)}</th>`).join('') + '</tr>');
        inTable = true;
      } else out.push('<tr>' + cells.map((c) => `<td>${inline(c)}</td>`).join('') + '</tr>');
      continue;
    }
    if (inTable) { out.push('</table>'); inTable = false; }
    if (line.startsWith('- ')) {
      if (!inList) { out.push('<ul>'); inList = true; }
      out.push(`<li>${inline(line.slice(2))}</li>`);
      continue;
    }
    if (inList) { out.push('</ul>'); inList = false; }
    if (line.startsWith('### ')) out.push(`<h1>${inline(line.slice(4))}</h1>`);
    else if (line.trim()) out.push(`<p>${inline(line)}</p>`);
  }
  if (inTable) out.push('</table>');
  if (inList) out.push('</ul>');
  return out.join('\n');
}

export function htmlReport(r: BenchResults, command?: string): string {
  const latency: Series[] = r.comparators.filter((c) => r.latency[c.name]).map((c) => ({ name: c.name, points: (r.latency[c.name] ?? []).map((p) => ({ x: p.n, y: p.p50Ms })) }));
  const throughput: Series[] = r.comparators.filter((c) => r.latency[c.name]).map((c) => ({ name: c.name, points: (r.latency[c.name] ?? []).map((p) => ({ x: p.n, y: p.requestsPerS })) }));
  const memory: Series[] = r.comparators.filter((c) => r.memory[c.name]).map((c) => ({ name: c.name, points: r.settings.instances.map((n) => ({ x: n, y: (instanceMemory(r, c.name, n) ?? NaN) / 1048576 })) }));
  const charts = [
    r.comparators.some((c) => r.boot[c.name]) ? bootChart(r) : '',
    latency.length ? lineChart(`Latency p50 vs request weight [VMs: ${r.accel}]`, '/compute?n= (log)', 'p50 latency, ms (log)', latency, { logX: true, logY: true }) : '',
    throughput.length ? lineChart(`Requests/s vs request weight [VMs: ${r.accel}]`, '/compute?n= (log)', 'requests/s (log)', throughput, { logX: true, logY: true }) : '',
    memory.length ? lineChart(`Memory per instance vs N [VMs: ${r.accel}]`, 'simultaneous instances N', 'MiB per instance (log)', memory, { bars: true, logY: true }) : '',
  ].filter((s) => s !== '');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>unikit bench</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 1em}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}td:first-child,th:first-child{text-align:left}svg.chart{display:block;margin:1.5em 0;border:1px solid #eee}</style>
</head><body>
${mdToHtml(markdownSummary(r, command))}
<h2>Charts</h2>
<div id="charts">
${charts.join('\n')}
</div>
<h2>Raw results</h2>
<pre id="results">${esc(JSON.stringify(r, null, 1))}</pre>
</body></html>
`;
}
