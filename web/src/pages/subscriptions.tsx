// Subscriptions: create (topic, endpoint, store filter, digest, quiet hours), confirmation
// state, filter by store, send a test message, delete. A server without the embedded
// notifier's options (the api Lambda function, whose subscriptions are SNS's) does not list
// the feature "subscription-options": no digest, quiet hours, creation time or test message.
import {useState} from 'preact/hooks';

import {api, errorText, formatTime, hasFeature, type User} from '../api';
import {ErrorLine, StoreSelect, useData, useStores} from '../ui';

interface Subscription {
  // A number (embedded), or an SNS subscription ARN ("PendingConfirmation" until confirmed).
  id: number | string;
  topic: string;
  protocol: string;
  endpoint: string;
  created_at?: string;
  status: 'pending_confirmation' | 'confirmed';
  filter_policy: Record<string, unknown> | null;
  // Only for a policy the dashboard did not write (SNS's FilterPolicyScope).
  filter_policy_scope?: string;
  digest?: string;
  quiet_hours?: string | null;
  timezone?: string;
}

interface Delivery {
  id: number;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  last_error: string;
}

// How often, and how many times, the page asks how a test message fared.
const kTestPollMillis = 1000;
const kTestPolls = 30;

function testOutcome(subscription: number | string, d: Delivery): string {
  const head = `Test message to subscription ${subscription} (delivery ${d.id})`;
  if (d.state === 'delivered') return `${head}: delivered.`;
  if (d.state === 'failed') return `${head}: failed: ${d.last_error}`;
  return `${head}: pending` + (d.last_error ? `, retrying after: ${d.last_error}` : '') + '.';
}

function policyStores(s: Subscription): string[] {
  const stores = s.filter_policy?.store;
  return Array.isArray(stores) ? stores.filter((x): x is string => typeof x === 'string') : [];
}

// The Stores cell: the store names of a plain {"store": [names]} policy, "all" without a
// policy, and any other policy (written outside the dashboard: a prefix, other attributes,
// the message body) as it is, since no list of stores says what it lets through.
export function policyLabel(s: Pick<Subscription, 'filter_policy' | 'filter_policy_scope'>): string {
  const policy = s.filter_policy;
  if (policy === null || policy === undefined) return 'all';
  const stores = (policy as Record<string, unknown>).store;
  const plain = typeof policy === 'object' && !Array.isArray(policy) && Object.keys(policy).length === 1 &&
    Array.isArray(stores) && stores.length > 0 && stores.every((x) => typeof x === 'string') &&
    (s.filter_policy_scope ?? 'MessageAttributes') === 'MessageAttributes';
  if (plain) return (stores as string[]).join(', ');
  return `filter: ${JSON.stringify(policy)}` + (s.filter_policy_scope ? ` on ${s.filter_policy_scope}` : '');
}

export function SubscriptionsPage({user}: {user: User}) {
  const stores = useStores();
  const topics = useData(() => api<{topics: string[]}>('GET', '/topics').then((r) => r.topics), []);
  const list = useData(() => api<{subscriptions: Subscription[]}>('GET', '/subscriptions'), []);
  const canWrite = user.role !== 'viewer';
  const options = hasFeature('subscription-options');
  const [filterStore, setFilterStore] = useState('');
  const [topic, setTopic] = useState('NoStock');
  const [endpoint, setEndpoint] = useState('');
  const [store, setStore] = useState(user.role === 'manager' ? user.stores?.[0] ?? '' : '');
  const [digest, setDigest] = useState('immediate');
  const [quietHours, setQuietHours] = useState('');
  const [timezone, setTimezone] = useState('UTC');
  const [message, setMessage] = useState<string | null>(null);
  const [failure, setFailure] = useState<string | null>(null);

  const create = async (event: Event) => {
    event.preventDefault();
    setMessage(null);
    setFailure(null);
    try {
      const body: Record<string, unknown> = {topic, endpoint: endpoint.trim()};
      if (options) body.digest = digest;
      if (store) body.filter_policy = {store: [store]};
      if (options && quietHours.trim()) {
        body.quiet_hours = quietHours.trim();
        body.timezone = timezone.trim() || 'UTC';
      }
      const created = await api<Subscription & {signing_secret?: string}>('POST', '/subscriptions', body);
      setMessage(`Subscription ${created.id} is ${created.status.replace('_', ' ')}.` +
                 (created.signing_secret ? ` Its signing secret (shown once): ${created.signing_secret}` : ''));
      setEndpoint('');
      list.reload();
    } catch (error) {
      setFailure(errorText(error));
    }
  };
  const sendTest = async (id: number | string) => {
    setMessage(null);
    setFailure(null);
    try {
      let delivery = await api<Delivery>('POST', `/subscriptions/${encodeURIComponent(String(id))}/test`);
      setMessage(testOutcome(id, delivery));
      // It goes through the outbox: follow its delivery until it is delivered or failed.
      for (let i = 0; i < kTestPolls && delivery.state === 'pending'; i++) {
        await new Promise((resolve) => setTimeout(resolve, kTestPollMillis));
        delivery = await api<Delivery>('GET', `/deliveries/${delivery.id}`);
        setMessage(testOutcome(id, delivery));
      }
    } catch (error) {
      setFailure(errorText(error));
    }
  };
  const remove = async (id: number | string) => {
    setMessage(null);
    setFailure(null);
    try {
      await api('DELETE', `/subscriptions/${encodeURIComponent(String(id))}`);
      setMessage(`Subscription ${id} deleted.`);
      list.reload();
    } catch (error) {
      setFailure(errorText(error));
    }
  };
  const shown = (list.data?.subscriptions ?? []).filter((s) => !filterStore || policyStores(s).includes(filterStore));
  return (
    <section aria-labelledby="subs-title">
      <h1 id="subs-title">Subscriptions</h1>
      {canWrite && (
        <form class="card" onSubmit={create} aria-labelledby="subs-new">
          <h2 id="subs-new">New subscription</h2>
          <div class="grid">
            <label for="sub-topic">Topic</label>
            <select id="sub-topic" value={topic} onChange={(e) => setTopic((e.target as HTMLSelectElement).value)}>
              {(topics.data ?? ['NoStock', 'LowStock', 'BackInStock']).map((t) => <option key={t} value={t}>{t}</option>)}
            </select>
            <label for="sub-endpoint">Endpoint (mailto:, https://, +E.164)</label>
            <input id="sub-endpoint" required value={endpoint} placeholder="mailto:ops@example.com"
                   onInput={(e) => setEndpoint((e.target as HTMLInputElement).value)} />
            <label for="sub-store">Only alerts of store</label>
            <StoreSelect id="sub-store" value={store} stores={stores.data} onChange={setStore} allLabel="Any store" />
            {options && <>
              <label for="sub-digest">Digest</label>
              <input id="sub-digest" value={digest} onInput={(e) => setDigest((e.target as HTMLInputElement).value)} />
              <label for="sub-quiet">Quiet hours (e.g. 22:00-07:00)</label>
              <input id="sub-quiet" value={quietHours} onInput={(e) => setQuietHours((e.target as HTMLInputElement).value)} />
              <label for="sub-tz">Time zone of quiet hours</label>
              <input id="sub-tz" value={timezone} onInput={(e) => setTimezone((e.target as HTMLInputElement).value)} />
            </>}
          </div>
          <button type="submit">Subscribe</button>
        </form>
      )}
      {message && <p role="status">{message}</p>}
      {failure && <p class="error" role="alert">{failure}</p>}
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <div>
          <label for="subs-filter-store">Store</label>
          <StoreSelect id="subs-filter-store" value={filterStore} stores={stores.data} onChange={setFilterStore} />
        </div>
      </form>
      <ErrorLine error={list.error} />
      <div class="table-wrap" tabIndex={0} role="region" aria-label="Subscriptions">
        <table class="data">
          <thead>
            <tr><th scope="col" class="num">ID</th><th scope="col">Topic</th><th scope="col">Endpoint</th>
              <th scope="col">State</th><th scope="col">Stores</th>
              {options && <><th scope="col">Digest</th><th scope="col">Quiet hours</th><th scope="col">Created</th></>}
              {canWrite && <th scope="col">Action</th>}</tr>
          </thead>
          <tbody>
            {shown.map((s) => (
              <tr key={`${s.topic}|${s.id}|${s.endpoint}`}>
                <td class="num">{s.id}</td>
                <td>{s.topic}</td>
                <td>{s.protocol}: {s.endpoint}</td>
                <td><span class={`status status-${s.status}`}>{s.status === 'confirmed' ? 'confirmed' : 'pending confirmation'}</span></td>
                <td>{policyLabel(s)}</td>
                {options && <>
                  <td>{s.digest}</td>
                  <td>{s.quiet_hours ? `${s.quiet_hours} ${s.timezone}` : ''}</td>
                  <td>{formatTime(s.created_at)}</td>
                </>}
                {canWrite && <td class="actions">
                  {options && s.status === 'confirmed' &&
                    <button type="button" onClick={() => sendTest(s.id)}>Send test<span class="visually-hidden"> message to subscription {s.id}</span></button>}
                  {/* SNS cannot remove a subscription before it is confirmed. */}
                  {s.id !== 'PendingConfirmation' &&
                    <button type="button" onClick={() => remove(s.id)}>Delete<span class="visually-hidden"> subscription {s.id}</span></button>}
                </td>}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
