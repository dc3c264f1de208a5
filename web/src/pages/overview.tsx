// Overview: per store its items, out of stock, low and last upload; out of stock over time.
import {useState} from 'preact/hooks';

import {api, formatTime, query} from '../api';
import {TimeChart} from '../chart';
import {useLive} from '../live';
import {href} from '../route';
import {ErrorLine, StoreSelect, useData, useStores} from '../ui';

// The series of GET /api/v1/stats/out-of-stock, read leniently: an array of points, each
// with a time and a number, under `points`, `series` or `buckets`.
export function readSeries(body: any): {times: number[]; values: number[]} {
  const points: any[] = (body && (body.points ?? body.series ?? body.buckets)) ?? [];
  const times: number[] = [];
  const values: number[] = [];
  for (const p of Array.isArray(points) ? points : []) {
    const at = p.at ?? p.time ?? p.bucket ?? p.start ?? p.t;
    const value = p.out_of_stock ?? p.count ?? p.value ?? p.v;
    const t = typeof at === 'number' ? at : Date.parse(at);
    if (Number.isFinite(t) && typeof value === 'number') {
      times.push(typeof at === 'number' ? t : t / 1000);
      values.push(value);
    }
  }
  return {times, values};
}

export function OverviewPage() {
  const stores = useStores();
  const [store, setStore] = useState('');
  const [bucket, setBucket] = useState('hour');
  const stats = useData(
      () => api('GET', `/stats/out-of-stock${query({store, bucket})}`).then(readSeries),
      [store, bucket]);
  useLive(['change', 'upload'], () => {
    stores.reload();
    stats.reload();
  });
  return (
    <section aria-labelledby="overview-title">
      <h1 id="overview-title">Overview</h1>
      <ErrorLine error={stores.error} />
      <div class="table-wrap" tabIndex={0} role="region" aria-label="Stores">
        <table class="data">
          <thead>
            <tr><th scope="col">Store</th><th scope="col" class="num">Items</th>
              <th scope="col" class="num">Out of stock</th><th scope="col" class="num">Low</th>
              <th scope="col">Last upload</th></tr>
          </thead>
          <tbody>
            {(stores.data ?? []).map((s) => (
              <tr key={s.store}>
                <td><a href={href('inventory', s.store)}>{s.store}</a></td>
                <td class="num">{s.items}</td>
                <td class={`num${s.out_of_stock > 0 ? ' count-out' : ''}`}>{s.out_of_stock}</td>
                <td class={`num${(s.low ?? 0) > 0 ? ' count-low' : ''}`}>{s.low ?? ''}</td>
                <td>{formatTime(s.last_upload ?? s.last_updated)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h2>Out of stock over time</h2>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <div>
          <label for="ov-store">Store</label>
          <StoreSelect id="ov-store" value={store} stores={stores.data} onChange={setStore} />
        </div>
        <div>
          <label for="ov-bucket">Per</label>
          <select id="ov-bucket" value={bucket} onChange={(e) => setBucket((e.target as HTMLSelectElement).value)}>
            <option value="hour">hour</option>
            <option value="day">day</option>
          </select>
        </div>
      </form>
      {stats.error ? <p>The out-of-stock history is not available.</p> :
        <TimeChart title="Out-of-stock items over time" label="out of stock"
                   times={stats.data?.times ?? []} values={stats.data?.values ?? []} />}
    </section>
  );
}
