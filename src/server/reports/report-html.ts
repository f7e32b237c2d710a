/**
 * A report as one self-contained HTML page: styles inline, charts as inline
 * SVG, no script and no outside resource, so a mail client or a browser
 * shows it offline. Every text from the catalog (group names, paths, host
 * names, versions) goes through escapeHtml.
 */
import { chartMax, formatBytes, reportChart, reportHighlights, reportPeriod, reportTables, type Report, type ReportChart } from '../../protocol/rest/index.js';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;color:#222;margin:24px}h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.period{color:#555}table{border-collapse:collapse;margin:4px 0 12px}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f2f2f2}td.n{text-align:right}.notes{color:#555;font-size:12px}svg text{font:11px system-ui,sans-serif;fill:#333}`;

export function reportHtml(r: Report, server: string): string {
  const tables = reportTables(r);
  const chart = reportChart(r);
  const parts = [
    '<!DOCTYPE html>',
    `<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(r.title)}</title><style>${STYLE}</style></head><body>`,
    `<h1>${escapeHtml(r.title)}</h1>`,
    `<p class="period">${escapeHtml(reportPeriod(r))} · ${escapeHtml(server)} · made ${escapeHtml(r.generatedAt)}</p>`,
    ...reportHighlights(r).map((h) => `<p><strong>${escapeHtml(h)}</strong></p>`),
    chart ? `<h2>${escapeHtml(chart.title)}</h2>${chartSvg(chart)}` : '',
    ...tables.map((t) => [
      `<h2>${escapeHtml(t.title)}</h2><table><thead><tr>${t.headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>`,
      ...t.rows.map((row) => `<tr>${row.map((c) => `<td${/^[\d.,]+( [KMGTP]?i?B| s| min| h.*)?$/.test(c) ? ' class="n"' : ''}>${escapeHtml(c)}</td>`).join('')}</tr>`),
      t.rows.length === 0 ? `<tr><td colspan="${t.headers.length}">nothing in this period</td></tr>` : '',
      '</tbody></table>',
    ].join('\n')),
    `<div class="notes">${r.notes.map((n) => `<p>${escapeHtml(n)}</p>`).join('')}</div>`,
    '</body></html>',
  ];
  return `${parts.filter((p) => p !== '').join('\n')}\n`;
}

/** An SVG of a chart: stacked bars or lines, a y axis with its top value, x labels, a legend. */
export function chartSvg(c: ReportChart, width = 720, height = 240): string {
  const left = 70;
  const bottom = 40;
  const top = 24;
  const plotW = width - left - 10;
  const plotH = height - top - bottom;
  const max = chartMax(c);
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const step = plotW / Math.max(1, c.labels.length);
  const fmt = (v: number) => (c.unit === 'bytes' ? formatBytes(v) : String(Math.round(v)));
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(c.title)}">`];
  out.push(`<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#999"/>`);
  out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#999"/>`);
  out.push(`<text x="${left - 4}" y="${top + 4}" text-anchor="end">${escapeHtml(fmt(max))}</text><text x="${left - 4}" y="${top + plotH}" text-anchor="end">0</text>`);
  const every = Math.max(1, Math.ceil(c.labels.length / 14));
  c.labels.forEach((l, i) => {
    if (i % every === 0) out.push(`<text x="${(left + step * i + step / 2).toFixed(1)}" y="${top + plotH + 14}" text-anchor="middle">${escapeHtml(l)}</text>`);
  });
  if (c.kind === 'bars') {
    c.labels.forEach((_, i) => {
      let base = 0;
      for (const s of c.series) {
        const v = s.values[i] ?? 0;
        if (v <= 0) continue;
        out.push(`<rect x="${(left + step * i + step * 0.15).toFixed(1)}" y="${y(base + v).toFixed(1)}" width="${(step * 0.7).toFixed(1)}" height="${(y(base) - y(base + v)).toFixed(1)}" fill="${s.color}"><title>${escapeHtml(`${c.labels[i]}: ${v} ${s.name}`)}</title></rect>`);
        base += v;
      }
    });
  } else {
    for (const s of c.series) {
      const pts = s.values.map((v, i) => (v === null ? null : `${(left + step * i + step / 2).toFixed(1)},${y(v).toFixed(1)}`)).filter((p): p is string => p !== null);
      if (pts.length > 0) out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${pts.join(' ')}"/>`);
    }
    if (c.limit) out.push(`<line x1="${left}" y1="${y(c.limit.value).toFixed(1)}" x2="${left + plotW}" y2="${y(c.limit.value).toFixed(1)}" stroke="#616161" stroke-dasharray="2 3"/>`);
  }
  const legend = [...c.series.map((s) => [s.name, s.color] as const), ...(c.limit ? [[c.limit.name, '#616161'] as const] : [])];
  legend.forEach(([name, color], i) => {
    out.push(`<rect x="${left + i * 110}" y="${height - 14}" width="10" height="10" fill="${color}"/><text x="${left + i * 110 + 14}" y="${height - 5}">${escapeHtml(name)}</text>`);
  });
  out.push('</svg>');
  return out.join('');
}
