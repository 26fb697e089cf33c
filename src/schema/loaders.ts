import DataLoader from 'dataloader';

/**
 * Request-scoped DataLoaders, created on first use under a name. Fields that would otherwise read once per
 * row (a page of 50 messages and their reactions, say) register a batch function here and read once per page.
 */
export class Loaders {
  // Made on first use: a subscription's context holds Loaders it may never use, once per subscriber.
  private byName: Map<string, DataLoader<unknown, unknown>> | undefined;
  private objects: Map<string, unknown> | undefined;

  /** Any request-scoped object (a set of loaders, say), created on first use under a name. */
  once<T>(name: string, create: () => T): T {
    this.objects ??= new Map();
    if (!this.objects.has(name)) this.objects.set(name, create());
    return this.objects.get(name) as T;
  }

  get<K, V>(name: string, batch: (keys: readonly K[]) => Promise<readonly (V | Error)[]>): DataLoader<K, V> {
    this.byName ??= new Map();
    let loader = this.byName.get(name);
    if (!loader) {
      loader = new DataLoader<K, V>(batch) as DataLoader<unknown, unknown>;
      this.byName.set(name, loader);
    }
    return loader as DataLoader<K, V>;
  }
}
