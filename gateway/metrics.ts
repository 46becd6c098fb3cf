// Prometheus metrics (prom-client) served on /metrics: jobs by outcome, latency and
// time-to-first-token, providers online, tokens served. One registry per gateway instance.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly jobs = new Counter({
    name: 'idlerig_gateway_jobs_total',
    help: 'Jobs by API and outcome (done, error, cancelled, refused)',
    labelNames: ['api', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'idlerig_gateway_job_duration_seconds',
    help: 'From the request to its last byte',
    labelNames: ['api'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  readonly ttft = new Histogram({
    name: 'idlerig_gateway_time_to_first_token_seconds',
    help: 'From the request to its first token',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly providersOnline = new Gauge({
    name: 'idlerig_gateway_providers_online',
    help: 'Providers logged in and alive',
    registers: [this.registry],
  });
  readonly tokens = new Counter({
    name: 'idlerig_gateway_tokens_total',
    help: 'Tokens served, by direction (prompt, completion)',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  });
  readonly retries = new Counter({
    name: 'idlerig_gateway_retries_total',
    help: 'Jobs moved to another provider before their first token',
    registers: [this.registry],
  });
  readonly protocolErrors = new Counter({
    name: 'idlerig_gateway_protocol_errors_total',
    help: 'Provider frames refused, by code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  private readonly children = new Map<
    string,
    { jobs: { inc(): void }; latency: { observe(v: number): void } }
  >();
  private readonly promptTokens = this.tokens.labels({ direction: 'prompt' });
  private readonly completionTokens = this.tokens.labels({ direction: 'completion' });

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    // The event-loop lag histogram samples every 100 ms, not prom-client's default 10 ms: 100
    // timer wake-ups a second cost an idle gateway ~9 ms of CPU a second (measured on the 2-core
    // EPYC: 13.1 vs 4.5 ms/s) and keep a laptop running the demo network from sleeping deeply;
    // 10 samples a second still show a blocked loop.
    if (opts.defaultMetrics !== false)
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
  }

  /** A finished job, counted on label children made once (each job ends here). */
  jobEnded(
    api: string,
    outcome: string,
    seconds: number,
    tokensIn: number,
    tokensOut: number,
  ): void {
    const key = `${api} ${outcome}`;
    let c = this.children.get(key);
    if (!c) {
      c = { jobs: this.jobs.labels({ api, outcome }), latency: this.latency.labels({ api }) };
      this.children.set(key, c);
    }
    c.jobs.inc();
    c.latency.observe(seconds);
    if (tokensIn) this.promptTokens.inc(tokensIn);
    if (tokensOut) this.completionTokens.inc(tokensOut);
  }
}
