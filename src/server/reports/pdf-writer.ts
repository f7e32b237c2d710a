/**
 * A small PDF writer of our own (PDF 1.4, ISO 32000-1 subset): A4 pages with
 * text in the standard Helvetica fonts (no embedding: every reader has
 * them), filled rectangles, lines (solid or dashed) and colours — enough
 * for a report's tables and bar and line charts. Content streams are
 * written uncompressed; the file ends with a cross-reference table whose
 * offsets point at each object, and a trailer naming the catalog and the
 * document information.
 *
 * Text is encoded as WinAnsi (Latin-1 for the printable range); a
 * character outside it is written as '?', so a file name in another
 * script still leaves a readable, valid file.
 */

/** A4 in points. */
export const PAGE_WIDTH = 595;
export const PAGE_HEIGHT = 842;

export type Rgb = readonly [number, number, number];
export type FontName = 'regular' | 'bold';

/** Helvetica's advance widths (per 1000 units of font size) for U+0020..U+007E. */
const HELVETICA_WIDTHS = [
  278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
  1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
  333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

/** The width of `text` in points at `size` (bold is about 5 % wider). */
export function textWidth(text: string, size: number, font: FontName = 'regular'): number {
  let units = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    units += c >= 32 && c <= 126 ? HELVETICA_WIDTHS[c - 32]! : 556;
  }
  return (units * size * (font === 'bold' ? 1.05 : 1)) / 1000;
}

/** `text` shortened with '...' to fit `width` points. */
export function fitText(text: string, width: number, size: number, font: FontName = 'regular'): string {
  if (textWidth(text, size, font) <= width) return text;
  let out = text;
  while (out.length > 0 && textWidth(`${out}...`, size, font) > width) out = out.slice(0, -1);
  return `${out}...`;
}

/** A PDF string literal of `text` in WinAnsi, with \, ( and ) escaped. */
export function pdfString(text: string): string {
  let out = '(';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\' || ch === '(' || ch === ')') out += `\\${ch}`;
    else if ((c >= 32 && c <= 126) || (c >= 0xa0 && c <= 0xff)) out += ch;
    else if (ch === '\u2026') out += '...';
    else out += '?';
  }
  return `${out})`;
}

const num = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(2));

/** One page's drawing operators; coordinates from the bottom left, in points. */
export class PdfPage {
  readonly ops: string[] = [];

  text(x: number, y: number, text: string, o: { size?: number; font?: FontName; color?: Rgb } = {}): this {
    const [r, g, b] = o.color ?? [0, 0, 0];
    this.ops.push(`BT ${num(r)} ${num(g)} ${num(b)} rg /${o.font === 'bold' ? 'F2' : 'F1'} ${num(o.size ?? 10)} Tf ${num(x)} ${num(y)} Td ${pdfString(text)} Tj ET`);
    return this;
  }

  rect(x: number, y: number, w: number, h: number, fill: Rgb): this {
    this.ops.push(`${num(fill[0])} ${num(fill[1])} ${num(fill[2])} rg ${num(x)} ${num(y)} ${num(w)} ${num(h)} re f`);
    return this;
  }

  /** A polyline through `points`. */
  line(points: ReadonlyArray<readonly [number, number]>, o: { color?: Rgb; width?: number; dashed?: boolean } = {}): this {
    if (points.length < 2) return this;
    const [r, g, b] = o.color ?? [0, 0, 0];
    const path = points.map(([x, y], i) => `${num(x)} ${num(y)} ${i === 0 ? 'm' : 'l'}`).join(' ');
    this.ops.push(`q ${num(r)} ${num(g)} ${num(b)} RG ${num(o.width ?? 1)} w ${o.dashed ? '[4 3] 0 d' : '[] 0 d'} ${path} S Q`);
    return this;
  }
}

export interface PdfInfo {
  readonly title: string;
  readonly producer?: string;
  readonly created?: Date;
}

/** The whole file: catalog, page tree, the two fonts, each page and its content, the information, xref and trailer. */
export function writePdf(pages: readonly PdfPage[], info: PdfInfo): Buffer {
  const objects: string[] = [];
  const add = (body: string) => objects.push(body) ; // object number = index + 1
  const pageCount = Math.max(1, pages.length);
  const all = pages.length > 0 ? pages : [new PdfPage()];
  // 1 catalog, 2 pages, 3 F1, 4 F2, 5 info, then page i at 6 + 2i and its content at 7 + 2i.
  const kids = all.map((_, i) => `${6 + 2 * i} 0 R`).join(' ');
  add('<< /Type /Catalog /Pages 2 0 R >>');
  add(`<< /Type /Pages /Kids [${kids}] /Count ${pageCount} >>`);
  add('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>');
  add('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>');
  const d = info.created ?? new Date(0);
  const p2 = (n: number) => String(n).padStart(2, '0');
  const date = `D:${d.getUTCFullYear()}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}Z`;
  add(`<< /Title ${pdfString(info.title)} /Producer ${pdfString(info.producer ?? 'Custos')} /CreationDate ${pdfString(date)} >>`);
  all.forEach((page, i) => {
    add(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${PAGE_WIDTH} ${PAGE_HEIGHT}] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents ${7 + 2 * i} 0 R >>`);
    const content = Buffer.from(page.ops.join('\n'), 'latin1');
    add(`<< /Length ${content.length} >>\nstream\n${content.toString('latin1')}\nendstream`);
  });
  // Binary comment line: tells transfer tools the file is not text.
  let out = '%PDF-1.4\n%\u00e2\u00e3\u00cf\u00d3\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(out, 'latin1'));
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R /Info 5 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}
