/**
 * The text of a PDF, as a reader extracts it: with pdftotext (poppler-utils,
 * which .ci/run installs) when it is there; else from the `(…) Tj` operators
 * of our own uncompressed content streams, so a test still checks words.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function hasPdftotext(): boolean {
  try {
    execFileSync('pdftotext', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function pdfText(pdf: Buffer): string {
  if (hasPdftotext()) {
    const dir = mkdtempSync(join(tmpdir(), 'custos-pdf-'));
    try {
      const file = join(dir, 'r.pdf');
      writeFileSync(file, pdf);
      return execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return [...pdf.toString('latin1').matchAll(/\(((?:\\.|[^\\)])*)\) Tj/g)].map((m) => m[1]!.replace(/\\(.)/g, '$1')).join('\n');
}
