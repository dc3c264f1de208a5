// Alerts: a timeline filtered by topic and store; deliveries with their status; redrive.
import {useState} from 'preact/hooks';

import {api, errorText, formatTime, query, type User} from '../api';
import {useLive} from '../live';
import {ErrorLine, StoreSelect, useData, useStores} from '../ui';
import type {Alert} from './item';

interface Delivery {
  id: number;
  message_id: string;
  subscription_id: number;
  topic: string;
  protocol: string;
  endpoint: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  last_error: string | null;
  updated_at: string;
  store?: string | null;
  item?: string | null;
}

export function AlertsPage({user}: {user: User}) {
  const stores = useStores();
  const topics = useData(() => api<{topics: string[]}>('GET', '/topics').then((r) => r.topics), []);
  const [topic, setTopic] = useState('');
  const [store, setStore] = useState('');
  const [state, setState] = useState('');
  const alerts = useData(() => api<{alerts: Alert[]}>('GET', `/alerts${query({topic, limit: 200})}`), [topic]);
  const deliveries = useData(
      () => api<{deliveries: Delivery[]}>('GET', `/deliveries${query({state, limit: 200})}`), [state]);
  useLive(['alert'], () => {
    alerts.reload();
    deliveries.reload();
  });
  const [message, setMessage] = useState<string | null>(null);
  const isAdmin = user.role === 'admin';
  const redrive = async (id: number | null) => {
    setMessage(null);
    try {
      const result = await api<{redriven: number}>('POST', id === null ? '/deliveries/redrive' : `/deliveries/${id}/redrive`);
      setMessage(`Redriven: ${result.redriven}.`);
      deliveries.reload();
    } catch (failure) {
      setMessage(errorText(failure));
    }
  };
  const shown = (alerts.data?.alerts ?? []).filter((a) => !store || a.store === store);
  const shownDeliveries = (deliveries.data?.deliveries ?? []).filter((d) => !store || d.store === store);
  return (
    <section aria-labelledby="alerts-title">
      <h1 id="alerts-title">Alerts</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <div>
          <label for="al-topic">Topic</label>
          <select id="al-topic" value={topic} onChange={(e) => setTopic((e.target as HTMLSelectElement).value)}>
            <option value="">All topics</option>
            {(topics.data ?? []).map((t) => <option key={t} value={t}>{t}</option>)}
          </select>
        </div>
        <div>
          <label for="al-store">Store</label>
          <StoreSelect id="al-store" value={store} stores={stores.data} onChange={setStore} />
        </div>
      </form>
      <ErrorLine error={alerts.error} />
      {shown.length === 0 ? <p>No alerts.</p> : (
        <ol class="timeline" aria-label="Alert timeline">
          {shown.map((a) => (
            <li key={a.message_id}>
              <time>{formatTime(a.timestamp)}</time>{' '}
              <span class={`topic topic-${a.topic}`}>{a.topic}</span>{' '}
              {a.message}
            </li>
          ))}
        </ol>
      )}
      <h2>Deliveries</h2>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <div>
          <label for="al-state">State</label>
          <select id="al-state" value={state} onChange={(e) => setState((e.target as HTMLSelectElement).value)}>
            <option value="">All</option>
            <option value="pending">Pending</option>
            <option value="delivered">Delivered</option>
            <option value="failed">Failed (dead letters)</option>
          </select>
        </div>
        {isAdmin && (
          <div class="actions"><button type="button" onClick={() => redrive(null)}>Redrive all failed</button></div>
        )}
      </form>
      {message && <p role="status">{message}</p>}
      <ErrorLine error={deliveries.error} />
      <div class="table-wrap" tabIndex={0} role="region" aria-label="Deliveries">
        <table class="data">
          <thead>
            <tr><th scope="col" class="num">ID</th><th scope="col">Topic</th><th scope="col">Subscription</th>
              <th scope="col">State</th><th scope="col" class="num">Attempts</th><th scope="col">Last error</th>
              <th scope="col">Updated</th>{isAdmin && <th scope="col">Action</th>}</tr>
          </thead>
          <tbody>
            {shownDeliveries.map((d) => (
              <tr key={d.id}>
                <td class="num">{d.id}</td>
                <td>{d.topic}</td>
                <td>{d.protocol}: {d.endpoint}</td>
                <td><span class={`status status-${d.state}`}>{d.state}</span></td>
                <td class="num">{d.attempts}</td>
                <td>{d.last_error ?? ''}</td>
                <td>{formatTime(d.updated_at)}</td>
                {isAdmin && <td>{d.state === 'failed' && <button type="button" onClick={() => redrive(d.id)}>Redrive</button>}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
