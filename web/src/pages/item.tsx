// Item: its count over time from the change stream, its alerts and its threshold (editable).
import {useState} from 'preact/hooks';

import {api, errorText, formatTime, type User} from '../api';
import {TimeChart} from '../chart';
import {useLive} from '../live';
import {href} from '../route';
import {ErrorLine, useData} from '../ui';
import {CountCell} from './inventory';

interface Change {
  sequence: number;
  event_name: string;
  old_count: number | null;
  new_count: number;
  upload_id: number | null;
  at: string;
}

export interface Alert {
  message_id: string;
  topic: string;
  subject: string;
  message: string;
  store: string;
  item: string;
  old_count: number | null;
  new_count: number;
  timestamp: string;
}

interface ItemDetail {
  store: string;
  item: string;
  count: number;
  updated_at: string;
  threshold?: number | null;
  history: Change[];
  alerts?: Alert[];
}

export function ItemPage({user, store, item}: {user: User; store: string; item: string}) {
  const path = `/inventory/${encodeURIComponent(store)}/${encodeURIComponent(item)}`;
  const detail = useData(() => api<ItemDetail>('GET', path), [path]);
  // Until the item carries its alerts, take them from the recent ones.
  const alerts = useData(async () => {
    const loaded = await api<ItemDetail>('GET', path).catch(() => null);
    if (loaded?.alerts) return loaded.alerts;
    const recent = await api<{alerts: Alert[]}>('GET', '/alerts?limit=500');
    return recent.alerts.filter((a) => a.store === store && a.item === item);
  }, [path]);
  useLive(['change', 'alert'], () => {
    detail.reload();
    alerts.reload();
  });
  const canEdit = user.role === 'admin' ||
                  (user.role === 'manager' && (user.stores ?? []).includes(store));
  const [threshold, setThreshold] = useState('');
  const [saved, setSaved] = useState<string | null>(null);
  const [saveError, setSaveError] = useState<unknown>(null);
  const save = async (event: Event) => {
    event.preventDefault();
    setSaved(null);
    setSaveError(null);
    try {
      const value = threshold.trim() === '' ? null : Number(threshold);
      if (value !== null && (!Number.isInteger(value) || value < 0)) {
        throw new Error('a threshold is a whole number of 0 or more (empty removes it)');
      }
      await api('PUT', '/thresholds', {store, item, value});
      setSaved(value === null ? 'Threshold removed.' : `Threshold set to ${value}.`);
      detail.reload();
    } catch (failure) {
      setSaveError(errorText(failure));
    }
  };
  const history = [...(detail.data?.history ?? [])].sort((a, b) => a.sequence - b.sequence);
  return (
    <section aria-labelledby="item-title">
      <p><a href={href('inventory')}>← Inventory</a></p>
      <h1 id="item-title">{item} <span class="muted">at {store}</span></h1>
      <ErrorLine error={detail.error} />
      {detail.data && (
        <table class="data compact">
          <tbody>
            <tr><th scope="row">Count</th><CountCell item={detail.data} /></tr>
            <tr><th scope="row">Threshold</th><td>{detail.data.threshold ?? 'none'}</td></tr>
            <tr><th scope="row">Updated</th><td>{formatTime(detail.data.updated_at)}</td></tr>
          </tbody>
        </table>
      )}
      {canEdit && (
        <form class="inline" onSubmit={save}>
          <label for="item-threshold">Low-stock threshold for this item</label>
          <input id="item-threshold" inputMode="numeric" value={threshold} placeholder="e.g. 5"
                 onInput={(e) => setThreshold((e.target as HTMLInputElement).value)} />
          <button type="submit">Save threshold</button>
          {saved && <span role="status">{saved}</span>}
          {saveError ? <span class="error" role="alert">{String(saveError)}</span> : null}
        </form>
      )}
      <h2>Count over time</h2>
      <TimeChart title="Count over time" label="count"
                 times={history.map((c) => Date.parse(c.at) / 1000)} values={history.map((c) => c.new_count)} />
      <table class="data" aria-label="History">
        <thead><tr><th scope="col">When</th><th scope="col">Change</th><th scope="col" class="num">From</th>
          <th scope="col" class="num">To</th><th scope="col">Upload</th></tr></thead>
        <tbody>
          {[...history].reverse().map((c) => (
            <tr key={c.sequence}>
              <td>{formatTime(c.at)}</td><td>{c.event_name}</td>
              <td class="num">{c.old_count ?? ''}</td><td class="num">{c.new_count}</td>
              <td>{c.upload_id ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Alerts</h2>
      <ErrorLine error={alerts.error} />
      {(alerts.data ?? []).length === 0 ? <p>No alerts for this item.</p> : (
        <ul class="timeline">
          {(alerts.data ?? []).map((a) => (
            <li key={a.message_id}><time>{formatTime(a.timestamp)}</time> <strong>{a.topic}</strong> {a.message}</li>
          ))}
        </ul>
      )}
    </section>
  );
}
