// A line chart (uPlot) of one series over time.
import {useEffect, useRef} from 'preact/hooks';
import uPlot from 'uplot';

export function TimeChart({label, times, values, title}: {
  label: string;
  title: string;
  times: number[];  // seconds since the epoch
  values: number[];
}) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current || times.length === 0) return;
    const width = Math.max(300, Math.min(900, box.current.clientWidth || 600));
    const plot = new uPlot({
      width,
      height: 240,
      // Counts hold until the next change: a step line, not a slope.
      series: [{}, {label, stroke: '#b3261e', width: 2, fill: 'rgba(179,38,30,0.08)',
                    paths: uPlot.paths.stepped!({align: 1})}],
      axes: [{}, {label}],
      scales: {x: {time: true}},
      legend: {show: true},
    }, [times, values], box.current);
    return () => plot.destroy();
  }, [JSON.stringify(times), JSON.stringify(values)]);
  if (times.length === 0) return <p>No data yet for {title.toLowerCase()}.</p>;
  return <figure class="chart"><figcaption>{title}</figcaption><div ref={box} role="img" aria-label={title} /></figure>;
}
