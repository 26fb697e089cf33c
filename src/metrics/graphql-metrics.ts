import { type DocumentNode, type ExecutionResult, getOperationAST, type GraphQLFormattedError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../logger.js';
import { requestIdIn } from '../schema/context.js';
import type { Metrics } from './metrics.js';

// Operation names come from clients: past this many distinct ones, new names are counted as "other", so that a
// client inventing names cannot grow the series without bound.
const MAX_OPERATION_NAMES = 200;
const MAX_ERROR_CODES = 50;

/**
 * GraphQL metrics, for both transports: operations by name and type with their latency (a yoga plugin, since
 * both transports execute through yoga's envelop), and errors by `extensions.code` as clients receive them
 * (counted from yoga's HTTP results by the plugin, and by the graphql-ws server through `countErrors`).
 */
export class GraphQLMetrics {
  private readonly operations;
  private readonly errors;
  private readonly duration;
  private readonly subscriptionExecutions;
  private readonly operationNames = new BoundedLabels(MAX_OPERATION_NAMES);
  private readonly errorCodes = new BoundedLabels(MAX_ERROR_CODES);

  constructor(
    metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.operations = metrics.counter({
      name: 'chat_graphql_operations_total',
      help: 'GraphQL operations started, by operation name and type',
      labelNames: ['operation', 'type'],
    });
    this.errors = metrics.counter({
      name: 'chat_graphql_errors_total',
      help: 'GraphQL errors sent to clients, by extensions.code',
      labelNames: ['code'],
    });
    this.duration = metrics.histogram({
      name: 'chat_graphql_operation_duration_seconds',
      help: 'Execution time of GraphQL queries and mutations, by operation name and type',
      labelNames: ['operation', 'type'],
    });
    this.subscriptionExecutions = metrics.counter({
      name: 'chat_subscription_executions_total',
      help: "Executions of subscriptions' selections for events: shared by the subscribers that asked the same, or per subscriber",
      labelNames: ['scope'],
    });
  }

  /** One execution of a subscription's selection for an event: once for many subscribers, or for one. */
  countSubscriptionExecution(scope: 'shared' | 'per-subscriber'): void {
    this.subscriptionExecutions.inc({ scope });
  }

  countErrors(errors: readonly Pick<GraphQLFormattedError, 'extensions'>[] | undefined): void {
    for (const error of errors ?? []) {
      const code = error.extensions?.code;
      this.errors.inc({ code: this.errorCodes.label(typeof code === 'string' ? code : 'UNKNOWN') });
    }
  }

  plugin(): Plugin {
    const labelsOf = (document: DocumentNode, operationName: string | null | undefined) => {
      const operation = getOperationAST(document, operationName);
      const name = operation?.name?.value;
      return {
        operation: name === undefined ? 'anonymous' : this.operationNames.label(name),
        type: operation?.operation ?? 'unknown',
      };
    };
    return {
      onExecute: ({ args }) => {
        const labels = labelsOf(args.document, args.operationName);
        this.operations.inc(labels);
        const startedAt = performance.now();
        return {
          onExecuteDone: ({ result }) => {
            const seconds = (performance.now() - startedAt) / 1_000;
            this.duration.observe(labels, seconds);
            if (!this.logger.isLevelEnabled('debug')) return;
            const codes = 'errors' in result ? result.errors?.map((error) => error.extensions?.code) : undefined;
            this.logger.debug(
              {
                ...labels,
                durationMs: Math.round(seconds * 1_000),
                errors: codes,
                requestId: requestIdIn(args.contextValue),
              },
              'graphql operation',
            );
          },
        };
      },
      onSubscribe: ({ args }) => {
        const labels = labelsOf(args.document, args.operationName);
        this.operations.inc(labels);
        this.logger.debug({ ...labels, requestId: requestIdIn(args.contextValue) }, 'graphql subscription');
      },
      onResultProcess: ({ result }) => {
        for (const single of [result].flat()) {
          if (isPlainResult(single)) this.countErrors(single.errors);
        }
      },
    };
  }
}

// Subscription results over HTTP (server-sent events) are streams; their errors are not counted here.
const isPlainResult = (result: unknown): result is ExecutionResult =>
  typeof result === 'object' && result !== null && !(Symbol.asyncIterator in result);

/** A label that takes its value as long as there is room for one more, and "other" after that. */
class BoundedLabels {
  private readonly seen = new Set<string>();

  constructor(private readonly max: number) {}

  label(value: string): string {
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max || value.length > 100) return 'other';
    this.seen.add(value);
    return value;
  }
}
