import type { GraphQLResolveInfo } from 'graphql';
import type { Viewer } from '../auth/session.js';
import type { GraphQLContext } from './context.js';

/** A part of a result that depends on who reads it, as a function of the reader. Pure and synchronous. */
export type ViewerValue = (viewer: Viewer) => unknown;

/** Where a per-reader value goes in a result shared by many readers, and how to compute it for each. */
export interface ViewerHole {
  readonly path: readonly (string | number)[];
  readonly value: ViewerValue;
}

/** The holes of a result being executed once for many readers, by the context that execution runs with. */
const holesByContext = new WeakMap<object, ViewerHole[]>();

/** Marks `context` as one execution's on behalf of many readers; its per-reader values are collected in `holes`. */
export function collectViewerHoles(context: object, holes: ViewerHole[]): void {
  holesByContext.set(context, holes);
}

/** Stands in for the readers while a shared result is built: the least privileged reader, who is nobody. */
const standIn = (organizationId: string): Viewer => ({ id: '', organizationId, role: 'CLIENT' });

/**
 * The value of a field that depends on the reader (whether they reacted, whether they may see an address).
 * Executed for one reader, it is that reader's value. Executed once for the many subscribers of an event, the
 * field becomes a hole filled for each of them, so that one execution serves them all without one reader's
 * view reaching another.
 */
export function forViewer<T>(context: GraphQLContext, info: GraphQLResolveInfo, value: (viewer: Viewer) => T): T {
  const holes = holesByContext.get(context);
  if (!holes) return value(context.session.viewer);
  holes.push({ path: pathOf(info.path), value });
  return value(standIn(context.session.organizationId));
}

function pathOf(path: GraphQLResolveInfo['path']): (string | number)[] {
  const keys: (string | number)[] = [];
  for (let at: GraphQLResolveInfo['path'] | undefined = path; at; at = at.prev) keys.push(at.key);
  return keys.reverse();
}
