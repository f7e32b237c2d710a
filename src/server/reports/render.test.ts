import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pdfText, hasPdftotext } from '../../../test/helpers/pdf-text.js';
import type { Report } from '../../protocol/rest/index.js';
import { csvField, reportCsv } from './report-csv.js';
import { escapeHtml, reportHtml } from './report-html.js';
import { reportPdf } from './report-pdf.js';
import { PdfPage, writePdf } from './pdf-writer.js';

const HOSTILE = '<script>alert(1)</script>';
const header = { title: 'Status report', from: '2026-03-02T00:00:00.000Z', to: '2026-03-04T00:00:00.000Z', generatedAt: '2026-03-04T00:00:00.000Z', notes: ['Jobs are counted on the day they ended.'] };
const status: Report = {
  report: 'status', ...header,
  totals: { succeeded: 7, failed: 2, cancelled: 0 },
  days: [{ day: '2026-03-02', succeeded: 4, failed: 2, cancelled: 0 }, { day: '2026-03-03', succeeded: 3, failed: 0, cancelled: 0 }],
  rows: [
    { group: HOSTILE, day: '2026-03-02', kind: 'sync', succeeded: 4, failed: 2, cancelled: 0 },
    { group: '=HYPERLINK("http://evil")', day: '2026-03-03', kind: 'sync', succeeded: 3, failed: 0, cancelled: 0 },
  ],
};

test('CSV: RFC 4180 quoting, CRLF, and formulas neutralised', () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  for (const start of ['=', '+', '-', '@']) assert.equal(csvField(`${start}1+1`), `'${start}1+1`);
  assert.equal(csvField('=SUM(A1,B1)'), `"'=SUM(A1,B1)"`);
  const csv = reportCsv(status);
  const lines = csv.split('\r\n');
  assert.equal(lines[0], 'Group,Day,Kind,Succeeded,Failed,Cancelled');
  assert.equal(lines[1], '<script>alert(1)</script>,2026-03-02,sync,4,2,0');
  assert.equal(lines[2], `"'=HYPERLINK(""http://evil"")",2026-03-03,sync,3,0,0`);
  assert.equal(lines.at(-1), '', 'ends with CRLF');
});

test('HTML: self-contained, a bar per day, and every catalog text escaped', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  const html = reportHtml(status, `${HOSTILE}.example`);
  assert.ok(!html.includes('<script'), 'no script element, however the names read');
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(!/(src|href)=/i.test(html), 'no outside resource');
  assert.equal((html.match(/<rect [^>]*fill="#2e7d32"><title>/g) ?? []).length, 2, 'a succeeded bar per day');
  assert.equal((html.match(/<rect [^>]*fill="#c62828"><title>/g) ?? []).length, 1, 'failed only on the first day');
  assert.match(html, /7 jobs succeeded, 2 failed, 0 cancelled/);
});

test('PDF: a valid xref whose offsets point at each object, and the text a reader extracts', () => {
  const pdf = reportPdf(status, 'backup.example');
  const text = pdf.toString('latin1');
  assert.ok(text.startsWith('%PDF-1.4\n'));
  assert.ok(text.endsWith('%%EOF\n'));
  const startxref = Number(/startxref\n(\d+)\n%%EOF\n$/.exec(text)![1]);
  assert.equal(text.slice(startxref, startxref + 5), 'xref\n');
  const [, first, count] = /^xref\n(\d+) (\d+)\n/.exec(text.slice(startxref))!.map(Number) as [number, number, number];
  assert.equal(first, 0);
  const entries = text.slice(startxref).split('\n').slice(2, 2 + count);
  assert.equal(entries[0], '0000000000 65535 f ');
  for (let i = 1; i < count; i++) {
    const offset = Number(entries[i]!.slice(0, 10));
    assert.equal(text.slice(offset, offset + `${i} 0 obj`.length), `${i} 0 obj`, `object ${i} is where the xref says`);
  }
  assert.match(text, new RegExp(`trailer\\n<< /Size ${count} /Root 1 0 R`));
  for (const m of text.matchAll(/<< \/Length (\d+) >>\nstream\n/g)) {
    const start = m.index! + m[0].length;
    assert.equal(text.slice(start + Number(m[1]), start + Number(m[1]) + 10), '\nendstream', 'stream lengths are exact');
  }
  const words = pdfText(pdf);
  assert.match(words, /Status report/);
  assert.match(words, /7 jobs succeeded, 2 failed, 0 cancelled/);
  assert.match(words, /<script>alert\(1\)<\/script>/, 'a PDF shows names as text');
  if (hasPdftotext()) assert.match(words, /Jobs by protection group, day and kind/);
});

test('PDF strings: parentheses and backslashes escaped, characters outside WinAnsi replaced', () => {
  const pdf = writePdf([new PdfPage().text(10, 10, 'a (b) \\ c — 日本')], { title: 't' }).toString('latin1');
  assert.ok(pdf.includes('(a \\(b\\) \\\\ c ? ??) Tj'));
});
