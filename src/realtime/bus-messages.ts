/** What one bus message carries: events of one topic, in order, and when they were published (for the lag). */
interface Envelope {
  publishedAt: number;
  /** A single event, in the form every instance reads, those from before batching included (rolling upgrades). */
  message?: unknown;
  /** Several events. */
  messages?: unknown[];
}

/**
 * A bus message of events (at least one), each already JSON: an event is serialised when it is published, so the
 * bus carries it as it was then, whatever its publisher does with the object afterwards.
 */
export function seal(eventsJson: string[]): string {
  const publishedAt = Date.now();
  return eventsJson.length === 1
    ? `{"publishedAt":${publishedAt},"message":${eventsJson[0]}}`
    : `{"publishedAt":${publishedAt},"messages":[${eventsJson.join(',')}]}`;
}

/** The events of a bus message, in the order they were published. */
export function open(raw: string): { publishedAt: number; events: unknown[] } {
  const envelope = JSON.parse(raw) as Envelope;
  return { publishedAt: envelope.publishedAt, events: envelope.messages ?? [envelope.message] };
}

/**
 * A bus's way of sending one sealed bus message, of `events` events, to a topic; it resolves (never rejects) once
 * the bus has it, or has counted and logged its failure.
 */
export type SendBusMessage = (topic: string, raw: string, events: number) => Promise<void>;

interface Run {
  topic: string;
  eventsJson: string[];
  sent: Promise<void>;
  markSent: () => void;
}

/**
 * The events published in one turn of the event loop, sent as few bus messages as their order allows: consecutive
 * events of one topic (the messages a writer committed together, say) travel as one bus message, so Redis runs one
 * PUBLISH for them and every subscribed instance reads, parses and dispatches one message rather than one per
 * event. Order is kept across topics too: a run ends where an event of another topic comes between.
 *
 * The turn ends once its promise jobs have run (process.nextTick), so the events that the continuations of one
 * database answer publish go together, and nothing waits for a later turn of the loop.
 */
export class PublishBatches {
  private runs: Run[] = [];

  constructor(private readonly send: SendBusMessage) {}

  /** Resolves once the bus has the bus message that carries the event (as SendBusMessage). */
  publish(topic: string, event: unknown): Promise<void> {
    let run = this.runs.at(-1);
    if (run?.topic !== topic) {
      if (this.runs.length === 0) process.nextTick(() => this.flush());
      let markSent!: () => void;
      const sent = new Promise<void>((resolve) => (markSent = resolve));
      this.runs.push((run = { topic, eventsJson: [], sent, markSent }));
    }
    run.eventsJson.push(JSON.stringify(event));
    return run.sent;
  }

  private flush(): void {
    const runs = this.runs;
    this.runs = [];
    for (const run of runs) void this.send(run.topic, seal(run.eventsJson), run.eventsJson.length).then(run.markSent);
  }
}
