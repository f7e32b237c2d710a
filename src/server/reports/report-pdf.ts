/**
 * A report as PDF (pdf-writer.ts): the title, period and highlights, the
 * chart drawn with PDF operators, the tables (columns sized to their
 * content, long cells shortened, the header row repeated on each page) and
 * the notes on method.
 */
import { chartMax, formatBytes, reportChart, reportHighlights, reportPeriod, reportTables, type Report, type ReportChart } from '../../protocol/rest/index.js';
import { fitText, PAGE_HEIGHT, PAGE_WIDTH, PdfPage, textWidth, writePdf, type Rgb } from './pdf-writer.js';

const MARGIN = 40;
const CONTENT_W = PAGE_WIDTH - 2 * MARGIN;
const GREY: Rgb = [0.35, 0.35, 0.35];

function rgb(hex: string): Rgb {
  const n = Number.parseInt(hex.slice(1), 16);
  return [((n >> 16) & 255) / 255, ((n >> 8) & 255) / 255, (n & 255) / 255];
}

/** Lays text out top to bottom, starting new pages as needed. */
class Flow {
  readonly pages: PdfPage[] = [new PdfPage()];
  y = PAGE_HEIGHT - MARGIN;

  get page(): PdfPage {
    return this.pages.at(-1)!;
  }

  /** Room for `h` points more, or a new page. */
  need(h: number): boolean {
    if (this.y - h >= MARGIN) return false;
    this.pages.push(new PdfPage());
    this.y = PAGE_HEIGHT - MARGIN;
    return true;
  }

  line(text: string, o: { size?: number; bold?: boolean; color?: Rgb; gap?: number } = {}): void {
    const size = o.size ?? 10;
    for (const part of wrap(text, CONTENT_W, size)) {
      this.need(size + 4);
      this.y -= size + 4;
      this.page.text(MARGIN, this.y, part, { size, font: o.bold ? 'bold' : 'regular', ...(o.color ? { color: o.color } : {}) });
    }
    this.y -= o.gap ?? 0;
  }
}

function wrap(text: string, width: number, size: number): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const word of text.split(/\s+/)) {
    const next = cur === '' ? word : `${cur} ${word}`;
    if (textWidth(next, size) > width && cur !== '') {
      lines.push(cur);
      cur = word;
    } else cur = next;
  }
  if (cur !== '') lines.push(cur);
  return lines.length > 0 ? lines : [''];
}

export function reportPdf(r: Report, server: string): Buffer {
  const f = new Flow();
  f.line(r.title, { size: 18, bold: true, gap: 2 });
  f.line(`${reportPeriod(r)} - ${server}`, { size: 10, color: GREY, gap: 6 });
  for (const h of reportHighlights(r)) f.line(h, { size: 11, bold: true });
  const chart = reportChart(r);
  if (chart) drawChart(f, chart);
  for (const t of reportTables(r)) {
    f.y -= 8;
    f.need(40);
    f.line(t.title, { size: 12, bold: true, gap: 2 });
    drawTable(f, t.headers, t.rows);
  }
  f.y -= 8;
  for (const n of r.notes) f.line(n, { size: 8, color: GREY, gap: 2 });
  return writePdf(f.pages, { title: r.title, created: new Date(r.generatedAt) });
}

function drawTable(f: Flow, headers: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const size = 8;
  const rowH = size + 5;
  const natural = headers.map((h, i) => Math.max(textWidth(h, size, 'bold'), ...rows.map((row) => textWidth(row[i] ?? '', size))) + 6);
  const total = natural.reduce((a, b) => a + b, 0);
  // Wider than the page: every column gets its share, the widest giving up most.
  const widths = total <= CONTENT_W ? natural : natural.map((w) => Math.max(30, (w / total) * CONTENT_W));
  const header = () => {
    f.need(rowH);
    f.y -= rowH;
    f.page.rect(MARGIN, f.y - 3, widths.reduce((a, b) => a + b, 0), rowH, [0.92, 0.92, 0.92]);
    let x = MARGIN;
    headers.forEach((h, i) => {
      f.page.text(x + 3, f.y, fitText(h, widths[i]! - 6, size, 'bold'), { size, font: 'bold' });
      x += widths[i]!;
    });
  };
  header();
  if (rows.length === 0) {
    f.y -= rowH;
    f.page.text(MARGIN + 3, f.y, 'nothing in this period', { size, color: GREY });
  }
  for (const row of rows) {
    if (f.need(rowH)) header();
    f.y -= rowH;
    let x = MARGIN;
    row.forEach((cell, i) => {
      f.page.text(x + 3, f.y, fitText(cell, widths[i]! - 6, size), { size });
      x += widths[i]!;
    });
  }
}

function drawChart(f: Flow, c: ReportChart): void {
  const h = 170;
  f.y -= 8;
  f.need(h + 30);
  f.line(c.title, { size: 12, bold: true, gap: 4 });
  const left = MARGIN + 50;
  const plotW = CONTENT_W - 50;
  const plotH = h - 40;
  const base = f.y - plotH;
  const p = f.page;
  const max = chartMax(c);
  const y = (v: number) => base + (v / max) * plotH;
  const step = plotW / Math.max(1, c.labels.length);
  const fmt = (v: number) => (c.unit === 'bytes' ? formatBytes(v) : String(Math.round(v)));
  p.line([[left, base], [left + plotW, base]], { color: [0.6, 0.6, 0.6] });
  p.line([[left, base], [left, base + plotH]], { color: [0.6, 0.6, 0.6] });
  p.text(left - 4 - textWidth(fmt(max), 7), base + plotH - 6, fmt(max), { size: 7 });
  p.text(left - 10, base, '0', { size: 7 });
  const every = Math.max(1, Math.ceil(c.labels.length / 12));
  c.labels.forEach((l, i) => {
    if (i % every === 0) p.text(left + step * i + step / 2 - textWidth(l, 7) / 2, base - 10, l, { size: 7 });
  });
  if (c.kind === 'bars') {
    c.labels.forEach((_, i) => {
      let sum = 0;
      for (const s of c.series) {
        const v = s.values[i] ?? 0;
        if (v <= 0) continue;
        p.rect(left + step * i + step * 0.15, y(sum), step * 0.7, y(sum + v) - y(sum), rgb(s.color));
        sum += v;
      }
    });
  } else {
    for (const s of c.series) {
      const pts = s.values.flatMap((v, i) => (v === null ? [] : [[left + step * i + step / 2, y(v)] as const]));
      p.line(pts, { color: rgb(s.color), width: 1.5, ...(s.dashed ? { dashed: true } : {}) });
    }
    if (c.limit) p.line([[left, y(c.limit.value)], [left + plotW, y(c.limit.value)]], { color: rgb('#616161'), dashed: true });
  }
  const legend = [...c.series.map((s) => [s.name, s.color] as const), ...(c.limit ? [[c.limit.name, '#616161'] as const] : [])];
  legend.forEach(([name, color], i) => {
    p.rect(left + i * 100, base - 26, 8, 8, rgb(color));
    p.text(left + i * 100 + 12, base - 25, name, { size: 8 });
  });
  f.y = base - 34;
}
