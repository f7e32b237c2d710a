/**
 * A long list that stays fast: only the rows in view (and a few around
 * them) are in the page, rows have one fixed height, and the next page is
 * asked for when the end comes into view. Rows are a table for screen
 * readers (role table/row/cell) laid out as a grid.
 */
import { useEffect, useRef, useState, type ReactNode } from 'react';

export interface Column<T> {
  readonly label: string;
  /** A CSS grid track, e.g. '2fr' or '8rem'. */
  readonly width: string;
  readonly cell: (row: T) => ReactNode;
}

const ROW_HEIGHT = 40;
const OVERSCAN = 8;

export function VirtualRows<T>(props: {
  readonly label: string;
  readonly rows: readonly T[];
  readonly columns: readonly Column<T>[];
  readonly rowKey: (row: T) => string;
  /** Asked for when the last rows come into view; absent: no more rows. */
  readonly more?: () => void;
  readonly height?: string;
}) {
  const { rows, columns, more } = props;
  const box = useRef<HTMLDivElement>(null);
  const [top, setTop] = useState(0);
  const [viewHeight, setViewHeight] = useState(600);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => setViewHeight(el.clientHeight || 600);
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((top + viewHeight) / ROW_HEIGHT) + OVERSCAN);
  useEffect(() => {
    if (more && last >= rows.length - OVERSCAN) more();
  }, [more, last, rows.length]);
  const grid = { gridTemplateColumns: columns.map((c) => c.width).join(' ') };
  return (
    <div className="vrows" role="table" aria-label={props.label} aria-rowcount={rows.length + 1}>
      <div className="vrow vhead" role="row" style={grid}>
        {columns.map((c) => (
          <div key={c.label} role="columnheader">
            {c.label}
          </div>
        ))}
      </div>
      <div className="vbody" ref={box} style={{ height: props.height ?? '65vh' }} onScroll={(e) => setTop(e.currentTarget.scrollTop)} tabIndex={0}>
        <div style={{ height: rows.length * ROW_HEIGHT, position: 'relative' }}>
          {rows.slice(first, last).map((r, i) => (
            <div
              key={props.rowKey(r)}
              className="vrow"
              role="row"
              aria-rowindex={first + i + 2}
              data-row={props.rowKey(r)}
              style={{ ...grid, position: 'absolute', top: (first + i) * ROW_HEIGHT, height: ROW_HEIGHT, left: 0, right: 0 }}
            >
              {columns.map((c) => (
                <div key={c.label} role="cell">
                  {c.cell(r)}
                </div>
              ))}
            </div>
          ))}
        </div>
      </div>
    </div>
  );
}
