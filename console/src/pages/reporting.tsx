/**
 * Reporting: DPM's reports drawn from the server's JSON (tables and SVG
 * charts, the same layout the HTML and PDF print: report-tables.ts),
 * downloaded as PDF or CSV, and — for those who configure — mailed every
 * day. Every text is rendered by React (escaped); nothing is inserted as
 * HTML.
 */
import { useState, type FormEvent } from 'react';
import { api, roleAllows } from '../../../src/protocol/rest/contract.js';
import type { Report, ReportSchedule, Session } from '../../../src/protocol/rest/objects.js';
import { MAILED_REPORT_FORMATS, REPORT_NAME_LIST, type MailedReportFormat, type ReportNameText } from '../../../src/protocol/rest/objects.js';
import { chartMax, formatBytes, reportChart, reportHighlights, reportPeriod, reportTables, type ReportChart } from '../../../src/protocol/rest/index.js';
import { call, saveBlob, stream } from '../api.js';
import { useLoad } from '../load.js';
import { messageOf } from './management-parts.js';
import '../reports.css';

const TITLES: Record<ReportNameText, string> = {
  status: 'Status',
  'recovery-points': 'Recovery point status',
  'disk-utilization': 'Disk utilization',
  'protected-computers': 'Protected computers',
  sla: 'SLA',
};

/** YYYY-MM-DD of a local date. */
function day(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

export function Reporting({ session }: { route: string[]; session: Session }) {
  const [name, setName] = useState<ReportNameText>('status');
  const [from, setFrom] = useState(() => day(new Date(Date.now() - 6 * 86_400_000)));
  const [to, setTo] = useState(() => day(new Date()));
  const [downloadError, setDownloadError] = useState<string | null>(null);
  const query = { from, to };
  const report = useLoad(async () => {
    const res = await stream(api.getReport, { params: { name }, query: { ...query, format: 'json' } });
    return (await res.json()) as Report;
  }, [name, from, to]);

  const download = async (format: 'pdf' | 'csv') => {
    setDownloadError(null);
    try {
      const res = await stream(api.getReport, { params: { name }, query: { ...query, format } });
      saveBlob(await res.blob(), res, `custos-${name}.${format}`);
    } catch (e) {
      setDownloadError(messageOf(e));
    }
  };

  return (
    <section className="reporting">
      <div className="bar">
        <h1>Reporting</h1>
        <label>
          Report
          <select value={name} onChange={(e) => setName(e.target.value as ReportNameText)}>
            {REPORT_NAME_LIST.map((n) => <option key={n} value={n}>{TITLES[n]}</option>)}
          </select>
        </label>
        <label>
          From <input type="date" value={from} max={to} onChange={(e) => e.target.value && setFrom(e.target.value)} />
        </label>
        <label>
          To <input type="date" value={to} min={from} onChange={(e) => e.target.value && setTo(e.target.value)} />
        </label>
        <button type="button" className="secondary" onClick={() => void download('pdf')}>Download PDF</button>
        <button type="button" className="secondary" onClick={() => void download('csv')}>Download CSV</button>
      </div>
      {downloadError && <p className="error" role="alert">{downloadError}</p>}
      {report.error && <p className="error" role="alert">{report.error}</p>}
      {report.loading && !report.data && <p className="loading">Loading…</p>}
      {report.data && <ReportView report={report.data} />}
      {roleAllows(session.role, 'configure') && <Schedules />}
    </section>
  );
}

function ReportView({ report }: { report: Report }) {
  const chart = reportChart(report);
  return (
    <article className="report" aria-label={report.title}>
      <h2>{report.title}</h2>
      <p className="period">{reportPeriod(report)}</p>
      {reportHighlights(report).map((h) => <p key={h} className="highlight">{h}</p>)}
      {chart && <Chart chart={chart} />}
      {reportTables(report).map((t) => (
        <div key={t.title}>
          <h3>{t.title}</h3>
          <table aria-label={t.title}>
            <thead>
              <tr>{t.headers.map((h) => <th key={h}>{h}</th>)}</tr>
            </thead>
            <tbody>
              {t.rows.length === 0 && <tr><td colSpan={t.headers.length} className="empty">nothing in this period</td></tr>}
              {t.rows.map((row, i) => <tr key={i}>{row.map((c, j) => <td key={j}>{c}</td>)}</tr>)}
            </tbody>
          </table>
        </div>
      ))}
      <div className="notes">{report.notes.map((n) => <p key={n}>{n}</p>)}</div>
    </article>
  );
}

/** The chart as SVG: stacked bars per day, or lines with the forecast dashed and the capacity dotted. */
function Chart({ chart: c }: { chart: ReportChart }) {
  const width = 720;
  const height = 240;
  const left = 70;
  const top = 20;
  const plotW = width - left - 10;
  const plotH = height - top - 40;
  const max = chartMax(c);
  const y = (v: number) => top + plotH - (v / max) * plotH;
  const step = plotW / Math.max(1, c.labels.length);
  const every = Math.max(1, Math.ceil(c.labels.length / 14));
  const fmt = (v: number) => (c.unit === 'bytes' ? formatBytes(v) : String(Math.round(v)));
  return (
    <figure className="chart">
      <figcaption>{c.title}</figcaption>
      <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label={c.title}>
        <line x1={left} y1={top + plotH} x2={left + plotW} y2={top + plotH} className="axis" />
        <line x1={left} y1={top} x2={left} y2={top + plotH} className="axis" />
        <text x={left - 4} y={top + 4} textAnchor="end">{fmt(max)}</text>
        <text x={left - 4} y={top + plotH} textAnchor="end">0</text>
        {c.labels.map((l, i) => (i % every === 0 ? <text key={i} x={left + step * i + step / 2} y={top + plotH + 14} textAnchor="middle">{l}</text> : null))}
        {c.kind === 'bars' &&
          c.labels.map((label, i) => {
            let base = 0;
            return c.series.map((s) => {
              const v = s.values[i] ?? 0;
              if (v <= 0) return null;
              const r = <rect key={`${i}-${s.name}`} data-series={s.name} x={left + step * i + step * 0.15} y={y(base + v)} width={step * 0.7} height={y(base) - y(base + v)} fill={s.color}><title>{`${label}: ${v} ${s.name}`}</title></rect>;
              base += v;
              return r;
            });
          })}
        {c.kind === 'line' &&
          c.series.map((s) => {
            const pts = s.values.flatMap((v, i) => (v === null ? [] : [`${left + step * i + step / 2},${y(v)}`]));
            return <polyline key={s.name} data-series={s.name} fill="none" stroke={s.color} strokeWidth={2} strokeDasharray={s.dashed ? '6 4' : undefined} points={pts.join(' ')} />;
          })}
        {c.limit && <line x1={left} y1={y(c.limit.value)} x2={left + plotW} y2={y(c.limit.value)} className="limit" />}
      </svg>
      <ul className="legend">
        {c.series.map((s) => <li key={s.name}><span style={{ background: s.color }} />{s.name}</li>)}
        {c.limit && <li><span className="limit-key" />{c.limit.name}</li>}
      </ul>
    </figure>
  );
}

function Schedules() {
  const list = useLoad(() => call(api.listReportSchedules), []);
  const [report, setReport] = useState<ReportNameText>('status');
  const [daily, setDaily] = useState('07:00');
  const [to, setTo] = useState('');
  const [format, setFormat] = useState<MailedReportFormat>('pdf');
  const [error, setError] = useState<string | null>(null);
  const save = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await call(api.setReportSchedule, { body: { report, daily, to: to.split(/[\s,;]+/).filter(Boolean), format } });
      setTo('');
      list.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const remove = async (s: ReportSchedule) => {
    setError(null);
    try {
      await call(api.deleteReportSchedule, { params: { name: s.report } });
      list.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return (
    <section className="schedules" aria-label="Scheduled reports">
      <h2>Mailed every day</h2>
      {list.error && <p className="error" role="alert">{list.error}</p>}
      {error && <p className="error" role="alert">{error}</p>}
      <table>
        <thead>
          <tr><th>Report</th><th>Daily at</th><th>Format</th><th>To</th><th>Last sent</th><th /></tr>
        </thead>
        <tbody>
          {list.data?.length === 0 && <tr><td colSpan={6} className="empty">No report is mailed yet.</td></tr>}
          {list.data?.map((s) => (
            <tr key={s.report}>
              <td>{TITLES[s.report as ReportNameText] ?? s.report}</td><td>{s.daily}</td><td>{s.format.toUpperCase()}</td><td>{s.to.join(', ')}</td><td>{s.lastSentDay ?? '-'}</td>
              <td className="actions"><button type="button" className="secondary" onClick={() => void remove(s)}>Stop</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="bar" onSubmit={(e) => void save(e)}>
        <label>
          Report
          <select value={report} onChange={(e) => setReport(e.target.value as ReportNameText)}>
            {REPORT_NAME_LIST.map((n) => <option key={n} value={n}>{TITLES[n]}</option>)}
          </select>
        </label>
        <label>Daily at <input type="time" value={daily} required onChange={(e) => setDaily(e.target.value)} /></label>
        <label>To <input type="text" value={to} required placeholder="ops@example.com, …" onChange={(e) => setTo(e.target.value)} /></label>
        <label>
          Format
          <select value={format} onChange={(e) => setFormat(e.target.value as MailedReportFormat)}>
            {MAILED_REPORT_FORMATS.map((f) => <option key={f} value={f}>{f.toUpperCase()}</option>)}
          </select>
        </label>
        <button type="submit">Schedule</button>
      </form>
    </section>
  );
}
