// Uploads: drag and drop or pick files, a progress bar per file (XMLHttpRequest upload
// progress), and the list of uploads with status, load report, errors and the original file.
import {useRef, useState} from 'preact/hooks';

import {api, csrfHeader, errorFrom, formatTime, query, type User} from '../api';
import {useLive} from '../live';
import {ErrorLine, useData} from '../ui';

interface Report {
  status: string;
  rows_read: number;
  rows_loaded: number;
  rows_unchanged: number;
  rows_rejected: number;
  rows_superseded: number;
  error_count: number;
  warning_count: number;
  errors: string[];
  warnings: string[];
  ignored_columns: string[];
  reject_reason?: string;
}

interface Upload {
  id: number;
  name: string;
  size: number;
  uploader: string;
  created_at: string;
  status: 'pending' | 'loaded' | 'rejected';
  report?: Report;
}

interface Transfer {
  key: number;
  name: string;
  loaded: number;
  total: number;
  state: 'sending' | 'done' | 'failed';
  message?: string;
  details?: string[];
}

// "file:line:column: reason" -> its parts, for the error table.
export function parseRowError(text: string): {line: string; column: string; reason: string} {
  const match = /^.*?:(\d+):(\d+): (.*)$/s.exec(text);
  return match ? {line: match[1], column: match[2], reason: match[3]} : {line: '', column: '', reason: text};
}

function sendFile(file: File, onProgress: (loaded: number, total: number) => void): Promise<Upload> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', `/api/v1/uploads/${encodeURIComponent(file.name)}`);
    for (const [name, value] of Object.entries(csrfHeader())) xhr.setRequestHeader(name, value);
    xhr.setRequestHeader('Content-Type', 'text/csv');
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onload = async () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(JSON.parse(xhr.responseText));
      } else {
        reject(await errorFrom(xhr.status, xhr.responseText, xhr.getResponseHeader('Retry-After')));
      }
    };
    xhr.onerror = () => reject(new Error('the upload failed: network error'));
    xhr.send(file);
  });
}

function ReportView({upload}: {upload: Upload}) {
  const report = upload.report;
  if (!report) return <span>waiting for the loader…</span>;
  return (
    <details>
      <summary>
        {report.rows_loaded} loaded, {report.rows_unchanged} unchanged, {report.rows_rejected} rejected
        {report.error_count > 0 && `, ${report.error_count} errors`}
      </summary>
      {report.reject_reason && <p class="error">{report.reject_reason}</p>}
      {report.ignored_columns?.length > 0 && <p>Ignored columns: {report.ignored_columns.join(', ')}</p>}
      {report.errors?.length > 0 && (
        <table class="data compact">
          <caption>Errors</caption>
          <thead><tr><th scope="col">Line</th><th scope="col">Column</th><th scope="col">Reason</th></tr></thead>
          <tbody>
            {report.errors.map((text, i) => {
              const e = parseRowError(text);
              return <tr key={i}><td class="num">{e.line}</td><td class="num">{e.column}</td><td>{e.reason}</td></tr>;
            })}
          </tbody>
        </table>
      )}
      {report.warnings?.length > 0 && (
        <ul class="warnings">{report.warnings.map((w, i) => <li key={i}>{w}</li>)}</ul>
      )}
    </details>
  );
}

export function UploadsPage({user}: {user: User}) {
  const canUpload = user.role !== 'viewer';
  const uploads = useData(() => api<{uploads: Upload[]}>('GET', `/uploads${query({limit: 50})}`), []);
  useLive(['upload', 'change'], uploads.reload);
  const [transfers, setTransfers] = useState<Transfer[]>([]);
  const [dragging, setDragging] = useState(false);
  const nextKey = useRef(1);
  const input = useRef<HTMLInputElement>(null);

  const update = (key: number, change: Partial<Transfer>) =>
      setTransfers((all) => all.map((t) => (t.key === key ? {...t, ...change} : t)));
  const start = (files: FileList | null) => {
    if (!files) return;
    for (const file of Array.from(files)) {
      const key = nextKey.current++;
      setTransfers((all) => [{key, name: file.name, loaded: 0, total: file.size, state: 'sending'}, ...all]);
      sendFile(file, (loaded, total) => update(key, {loaded, total}))
          .then(() => {
            update(key, {state: 'done', loaded: file.size});
            uploads.reload();
          })
          .catch((error) => update(key, {state: 'failed', message: error.message, details: error.details}));
    }
  };

  return (
    <section aria-labelledby="uploads-title">
      <h1 id="uploads-title">Uploads</h1>
      {canUpload && (
        <div class={`dropzone${dragging ? ' dragging' : ''}`}
             onDragOver={(e) => { e.preventDefault(); setDragging(true); }}
             onDragLeave={() => setDragging(false)}
             onDrop={(e) => { e.preventDefault(); setDragging(false); start(e.dataTransfer?.files ?? null); }}>
          <p>Drop inventory CSV files here, or</p>
          <label for="upload-files" class="button">Choose files</label>
          <input id="upload-files" ref={input} type="file" accept=".csv,text/csv" multiple class="visually-hidden"
                 onChange={(e) => {
                   start((e.target as HTMLInputElement).files);
                   (e.target as HTMLInputElement).value = '';
                 }} />
        </div>
      )}
      {transfers.length > 0 && (
        <ul class="transfers" aria-label="Files being uploaded">
          {transfers.map((t) => (
            <li key={t.key}>
              <label for={`transfer-${t.key}`}>{t.name}</label>{' '}
              <progress id={`transfer-${t.key}`} max={t.total || 1} value={t.loaded} />{' '}
              <span role="status">
                {t.state === 'sending' ? `${Math.round((100 * t.loaded) / (t.total || 1))}%` :
                 t.state === 'done' ? 'uploaded' : 'refused'}
              </span>
              {t.state === 'failed' && (
                <div class="error" role="alert">
                  {t.message}
                  {t.details && t.details.length > 1 && <ul>{t.details.map((d, i) => <li key={i}>{d}</li>)}</ul>}
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
      <h2>Recent uploads</h2>
      <ErrorLine error={uploads.error} />
      <div class="table-wrap" tabIndex={0} role="region" aria-label="Recent uploads">
        <table class="data">
          <thead>
            <tr>
              <th scope="col" class="num">ID</th><th scope="col">File</th><th scope="col">Status</th>
              <th scope="col">Load report</th><th scope="col">By</th><th scope="col">At</th>
              <th scope="col">Original</th>
            </tr>
          </thead>
          <tbody>
            {(uploads.data?.uploads ?? []).map((u) => (
              <tr key={u.id}>
                <td class="num">{u.id}</td>
                <td>{u.name}</td>
                <td><span class={`status status-${u.status}`}>{u.status}</span></td>
                <td><ReportView upload={u} /></td>
                <td>{u.uploader}</td>
                <td>{formatTime(u.created_at)}</td>
                <td><a href={`/api/v1/uploads/${u.id}/content`} download={u.name}>Download<span class="visually-hidden"> {u.name}</span></a></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
