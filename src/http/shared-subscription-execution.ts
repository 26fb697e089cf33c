import { createSourceEventStream, type DocumentNode, execute, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Session } from '../auth/session.js';
import { SharedCopies } from '../lib/shared-copies.js';
import type { GraphQLContext } from '../schema/context.js';
import { Loaders } from '../schema/loaders.js';
import { collectViewerHoles, type ViewerHole } from '../schema/viewer-values.js';
import { ENDED, nextOf, pullFrom, type PullStream, type Receiver } from '../realtime/pull-stream.js';

/**
 * One execution of a subscription's selection for an event, for the subscribers that asked the same. Valid for
 * all of them (holes filled per subscriber) unless it read the viewer outside a hole: then only for the subscriber
 * whose context it ran with, and each of the others gets an execution of their own, as before sharing.
 */
interface SharedResult {
  readonly result: ExecutionResult;
  readonly holes: readonly ViewerHole[];
  readonly readViewer: boolean;
  readonly ranFor: GraphQLContext;
}

/** What a SharedSubscriptionExecution needs. */
export interface SharedSubscriptionOptions {
  /** Told of each execution: shared by the subscribers of an event, or one subscriber's own. */
  counted: (scope: 'shared' | 'per-subscriber') => void;
  /** A result as it goes out: its errors logged and masked (errors.ts). Applied once per execution. */
  finish: (result: ExecutionResult, context: GraphQLContext) => ExecutionResult;
}

/**
 * Executes a subscription's selection once per event for every subscriber of this instance that sent the same
 * document, operation and variables in the same organization, instead of once per subscriber: with a thousand
 * subscribers on a channel, a message costs one execution, not a thousand. Fields that depend on the reader
 * (`forViewer`) are holes filled per subscriber; an execution that reads the viewer in any other way serves only
 * the subscriber it ran for, and each of the others gets their own, as before. Access to each event is still decided per subscriber,
 * before this (the event subscription only passes on what its viewer may see). For graphql-ws and SSE alike.
 *
 * Each execution's result is finished (errors logged and masked) once, when it is made, not per subscriber: so
 * graphql-ws takes each subscription's own stream of results (`streamFor`) rather than the per-subscriber stream
 * that envelop wraps around it to run the plugins' per-result hooks, which would only repeat that work (and cost
 * a layer of promises per subscriber and event, and memory per idle subscription).
 */
export class SharedSubscriptionExecution {
  readonly plugin: Plugin;
  /** Each running subscription's stream, by the root value its operation was subscribed with. */
  private readonly streams = new WeakMap<object, MappedEvents>();

  constructor(options: SharedSubscriptionOptions) {
    const executions = new SharedExecutions(options);
    const subscribeShared = async (args: ExecutionArgs) => {
      const source = await createSourceEventStream(args);
      if (!isAsyncIterable(source)) return source;
      const stream = new MappedEvents(source[Symbol.asyncIterator](), new SubscriberExecution(executions, args));
      if (typeof args.rootValue === 'object' && args.rootValue !== null) this.streams.set(args.rootValue, stream);
      return stream;
    };
    this.plugin = {
      onSubscribe({ setSubscribeFn }) {
        setSubscribeFn(subscribeShared as Parameters<typeof setSubscribeFn>[0]);
      },
    };
  }

  /**
   * The stream of finished results of the subscription subscribed with `rootValue` (an object of the caller's,
   * one per operation), once the enveloped subscribe has run; undefined when it made none (it failed).
   */
  streamFor(rootValue: object): AsyncIterableIterator<ExecutionResult> | undefined {
    const stream = this.streams.get(rootValue);
    this.streams.delete(rootValue);
    return stream;
  }
}

/** The executions of this server's subscriptions, shared per event and shape of request. */
class SharedExecutions {
  private readonly documentIds = new WeakMap<DocumentNode, number>();
  private documentCount = 0;
  // Per event object (shared by its subscribers: see EventService), per shape of request.
  private readonly sharedByEvent = new WeakMap<object, Map<string, Promise<SharedResult>>>();
  /** Each subscription holds its shape as long as it runs: one copy for all that share it. */
  private readonly shapes = new SharedCopies(MAX_KNOWN_SHAPES);

  readonly counted: SharedSubscriptionOptions['counted'];
  readonly finish: SharedSubscriptionOptions['finish'];

  constructor(options: SharedSubscriptionOptions) {
    this.counted = options.counted;
    this.finish = options.finish;
  }

  shapeOf(args: ExecutionArgs, organizationId: string): string {
    let documentId = this.documentIds.get(args.document);
    if (documentId === undefined) this.documentIds.set(args.document, (documentId = this.documentCount++));
    return this.shapes.of(
      `${organizationId}\n${documentId}\n${args.operationName ?? ''}\n${JSON.stringify(args.variableValues ?? {})}`,
    );
  }

  sharedFor(event: object, shape: string, args: ExecutionArgs): Promise<SharedResult> {
    let byShape = this.sharedByEvent.get(event);
    if (!byShape) this.sharedByEvent.set(event, (byShape = new Map()));
    let shared = byShape.get(shape);
    if (!shared) {
      this.counted('shared');
      shared = executeShared(event, args, this.finish);
      byShape.set(shape, shared);
    }
    return shared;
  }
}

const MAX_KNOWN_SHAPES = 10_000;

/** What one subscription needs to have each of its events executed: its request, and the shape it shares. */
class SubscriberExecution {
  private readonly shape: string;

  constructor(
    private readonly executions: SharedExecutions,
    private readonly args: ExecutionArgs,
  ) {
    this.shape = executions.shapeOf(args, this.context.session.organizationId);
  }

  private get context(): GraphQLContext {
    return this.args.contextValue as GraphQLContext;
  }

  async resultFor(event: unknown): Promise<ExecutionResult> {
    if (typeof event !== 'object' || event === null) return this.executeAlone(event);
    const shared = await this.executions.sharedFor(event, this.shape, this.args);
    return !shared.readViewer || shared.ranFor === this.context
      ? withHolesFilled(shared.result, shared.holes, this.context.session)
      : this.executeAlone(event);
  }

  private async executeAlone(event: unknown): Promise<ExecutionResult> {
    this.executions.counted('per-subscriber');
    const context = this.context;
    const result = await execute({
      ...this.args,
      rootValue: event,
      contextValue: eventContext(context, context.session),
    });
    return this.executions.finish(result, context);
  }
}

/** Executes for all subscribers at once, noticing whether the viewer was read outside a hole. */
async function executeShared(
  event: object,
  args: ExecutionArgs,
  finish: SharedSubscriptionOptions['finish'],
): Promise<SharedResult> {
  const subscriberContext = args.contextValue as GraphQLContext;
  let readViewer = false;
  const session = sessionNoticingViewer(subscriberContext.session, () => (readViewer = true));
  const context = eventContext(subscriberContext, session);
  const holes: ViewerHole[] = [];
  collectViewerHoles(context, holes);
  const result = finish(await execute({ ...args, rootValue: event, contextValue: context }), subscriberContext);
  return { result, holes, readViewer, ranFor: subscriberContext };
}

/**
 * The context one event is executed with: the subscription's, with loaders of the event's own (the subscription's
 * context lives as long as it, and its loaders would serve details as they were at its first event).
 */
function eventContext(context: GraphQLContext, session: Session): GraphQLContext {
  return { ...context, session, loaders: new Loaders() };
}

/** The session, but reading its viewer (directly or through an assertion) calls `noticed`; its organization does not. */
function sessionNoticingViewer(session: Session, noticed: () => void): Session {
  const organizationId = session.organizationId;
  return Object.create(session, {
    viewer: {
      get: () => {
        noticed();
        return session.viewer;
      },
    },
    organizationId: { get: () => organizationId },
  }) as Session;
}

/** The shared result with each hole set to this reader's value; copied only along the paths that differ. */
function withHolesFilled(result: ExecutionResult, holes: readonly ViewerHole[], session: Session): ExecutionResult {
  let data = result.data as Record<string, unknown> | null | undefined;
  if (!data || holes.length === 0) return result;
  const viewer = session.viewer;
  for (const hole of holes) {
    const value = hole.value(viewer);
    if (valueAt(data, hole.path) !== value) data = withValueAt(data, hole.path, 0, value) as Record<string, unknown>;
  }
  return data === result.data ? result : { ...result, data };
}

function valueAt(node: unknown, path: readonly (string | number)[]): unknown {
  let at = node;
  for (const key of path) at = (at as Record<string | number, unknown> | null)?.[key];
  return at;
}

function withValueAt(node: unknown, path: readonly (string | number)[], index: number, value: unknown): unknown {
  if (index === path.length) return value;
  const key = path[index]!;
  const copy = (Array.isArray(node) ? [...node] : { ...(node as object) }) as Record<string | number, unknown>;
  copy[key] = withValueAt(copy[key], path, index + 1, value);
  return copy;
}

/**
 * `source` with each event mapped to its result, one at a time in order. A class rather than an async generator
 * or an object of closures: an idle subscription holds this one small object, which is also its source's
 * receiver, and `return()` reaches the source at once. Pulled (graphql-ws, through NextFrames), it makes no
 * promise that outlives its event; read as an async iterator (SSE), one per `next()`. Like a generator, it is
 * finished once it has ended or failed (the failure is the subscription's last word).
 */
class MappedEvents implements AsyncIterableIterator<ExecutionResult>, PullStream<ExecutionResult>, Receiver<unknown> {
  private finished = false;
  /** Whom the result of the event being pulled goes to. */
  private downstream: Receiver<ExecutionResult> | undefined;

  constructor(
    private readonly events: AsyncIterator<unknown>,
    private readonly subscription: SubscriberExecution,
  ) {}

  pull(receiver: Receiver<ExecutionResult>): void {
    if (this.finished) return receiver.end();
    this.downstream = receiver;
    pullFrom(this.events, this);
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    return nextOf(this);
  }

  /** The source's next event: its result goes downstream once made. */
  receive(event: unknown): void {
    this.subscription.resultFor(event).then(
      (result) => this.handOver()?.receive(result),
      (error: unknown) => this.fail(error),
    );
  }

  end(): void {
    this.finished = true;
    this.handOver()?.end();
  }

  fail(error: unknown): void {
    this.finished = true;
    this.handOver()?.fail(error);
  }

  return(): Promise<IteratorResult<ExecutionResult>> {
    if (this.finished) return Promise.resolve(ENDED);
    this.finished = true;
    return this.events.return ? this.events.return().then(() => ENDED) : Promise.resolve(ENDED);
  }

  throw(error: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.finished = true;
    return this.events.throw ? this.events.throw(error).then(() => ENDED) : Promise.reject(error);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ExecutionResult> {
    return this;
  }

  private handOver(): Receiver<ExecutionResult> | undefined {
    const receiver = this.downstream;
    this.downstream = undefined;
    return receiver;
  }
}
