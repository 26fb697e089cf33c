import {
  collectDefaultMetrics,
  Counter,
  type CounterConfiguration,
  Gauge,
  type GaugeConfiguration,
  Histogram,
  type HistogramConfiguration,
  type Metric,
  Registry,
} from 'prom-client';

/** Latency buckets in seconds, from a cache hit to a request that is about to time out. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type Without<T> = Omit<T, 'registers'>;

/**
 * The metrics of one app: a registry of its own rather than prom-client's global one, so that several apps in
 * one process (the tests run many) never count into each other. Modules register their metrics here and keep
 * the returned objects; asking twice for the same name returns the first metric, so a module may register in
 * its constructor without caring whether another instance did already. The server's own metrics are named
 * `chat_...`; histograms default to latency buckets in seconds.
 *
 *     const deliveries = metrics.counter({ name: 'chat_webhook_deliveries_total', help: '...', labelNames: ['outcome'] });
 *     deliveries.inc({ outcome: 'stored' });
 *
 * Gauges that mirror a state read on demand take a `collect` callback, called at each scrape:
 *
 *     metrics.gauge({ name: 'chat_outbox_depth', help: '...', collect() { this.set(queue.size) } });
 */
export class Metrics {
  readonly registry = new Registry();

  constructor() {
    // Process and Node.js runtime metrics (CPU, memory, event loop lag, GC), under their standard names.
    collectDefaultMetrics({ register: this.registry });
  }

  counter<Label extends string>(config: Without<CounterConfiguration<Label>>): Counter<Label> {
    return (
      this.existing<Counter<Label>>(config.name, Counter) ?? new Counter({ ...config, registers: [this.registry] })
    );
  }

  gauge<Label extends string>(config: Without<GaugeConfiguration<Label>>): Gauge<Label> {
    return this.existing<Gauge<Label>>(config.name, Gauge) ?? new Gauge({ ...config, registers: [this.registry] });
  }

  histogram<Label extends string>(config: Without<HistogramConfiguration<Label>>): Histogram<Label> {
    return (
      this.existing<Histogram<Label>>(config.name, Histogram) ??
      new Histogram({ buckets: LATENCY_BUCKETS, ...config, registers: [this.registry] })
    );
  }

  /** The Prometheus text exposition of every metric, with its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private existing<T extends Metric>(name: string, kind: abstract new (...args: never[]) => unknown): T | undefined {
    const found = this.registry.getSingleMetric(name);
    if (found === undefined) return undefined;
    if (!(found instanceof kind)) throw new Error(`metric ${name} is already registered as another kind`);
    return found as T;
  }
}
