import { createSourceEventStream, type DocumentNode, execute, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Session } from '../auth/session.js';
import type { GraphQLContext } from '../schema/context.js';
import { Loaders } from '../schema/loaders.js';
import { collectViewerHoles, type ViewerHole } from '../schema/viewer-values.js';

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

/**
 * Executes a subscription's selection once per event for every subscriber of this instance that sent the same
 * document, operation and variables in the same organization, instead of once per subscriber: with a thousand
 * subscribers on a channel, a message costs one execution, not a thousand. Fields that depend on the reader
 * (`forViewer`) are holes filled per subscriber; an execution that reads the viewer in any other way serves only
 * the subscriber it ran for, and each of the others gets their own, as before. Access to each event is still decided per subscriber,
 * before this (the event subscription only passes on what its viewer may see). For graphql-ws and SSE alike.
 */
export function useSharedSubscriptionExecution(counted: (scope: 'shared' | 'per-subscriber') => void): Plugin {
  const documentIds = new WeakMap<DocumentNode, number>();
  let documentCount = 0;
  // Per event object (shared by its subscribers: see EventService), per shape of request.
  const sharedByEvent = new WeakMap<object, Map<string, Promise<SharedResult>>>();

  const shapeOf = (args: ExecutionArgs, organizationId: string): string => {
    let documentId = documentIds.get(args.document);
    if (documentId === undefined) documentIds.set(args.document, (documentId = documentCount++));
    return `${organizationId}\n${documentId}\n${args.operationName ?? ''}\n${JSON.stringify(args.variableValues ?? {})}`;
  };

  const sharedFor = (event: object, shape: string, args: ExecutionArgs): Promise<SharedResult> => {
    let byShape = sharedByEvent.get(event);
    if (!byShape) sharedByEvent.set(event, (byShape = new Map()));
    let shared = byShape.get(shape);
    if (!shared) {
      counted('shared');
      shared = executeShared(event, args);
      byShape.set(shape, shared);
    }
    return shared;
  };

  const subscribeShared = async (args: ExecutionArgs) => {
    const source = await createSourceEventStream(args);
    if (!isAsyncIterable(source)) return source;
    const context = args.contextValue as GraphQLContext;
    const shape = shapeOf(args, context.session.organizationId);
    const executeAlone = (event: unknown) => {
      counted('per-subscriber');
      return execute({ ...args, rootValue: event, contextValue: eventContext(context, context.session) });
    };
    return mapEvents(source, async (event) => {
      if (typeof event !== 'object' || event === null) return executeAlone(event);
      const shared = await sharedFor(event, shape, args);
      return !shared.readViewer || shared.ranFor === context
        ? withHolesFilled(shared.result, shared.holes, context.session)
        : executeAlone(event);
    });
  };

  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(subscribeShared as Parameters<typeof setSubscribeFn>[0]);
    },
  };
}

/** Executes for all subscribers at once, noticing whether the viewer was read outside a hole. */
async function executeShared(event: object, args: ExecutionArgs): Promise<SharedResult> {
  const subscriberContext = args.contextValue as GraphQLContext;
  let readViewer = false;
  const session = sessionNoticingViewer(subscriberContext.session, () => (readViewer = true));
  const context = eventContext(subscriberContext, session);
  const holes: ViewerHole[] = [];
  collectViewerHoles(context, holes);
  const result = await execute({ ...args, rootValue: event, contextValue: context });
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
 * `source` with each event mapped to its result, one at a time in order. A plain iterator rather than an async
 * generator: one promise per event and subscriber, and `return()` reaches the source at once. Like a generator,
 * it is finished once it has ended or failed (the failure is the subscription's last word).
 */
function mapEvents(
  source: AsyncIterable<unknown>,
  map: (event: unknown) => Promise<ExecutionResult>,
): AsyncIterableIterator<ExecutionResult> {
  const events = source[Symbol.asyncIterator]();
  const ended = { value: undefined, done: true } as const;
  let finished = false;
  const finish = () => {
    finished = true;
    return ended;
  };
  const iterator: AsyncIterableIterator<ExecutionResult> = {
    next: () => {
      if (finished) return Promise.resolve(ended);
      return events.next().then(
        (step) => (step.done ? finish() : map(step.value).then((value) => ({ value, done: false }))),
        (error: unknown) => {
          finish();
          throw error;
        },
      );
    },
    return: () => {
      if (finished) return Promise.resolve(ended);
      finish();
      return events.return ? events.return().then(() => ended) : Promise.resolve(ended);
    },
    throw: (error: unknown) => {
      finish();
      return events.throw ? events.throw(error).then(() => ended) : Promise.reject(error);
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}
