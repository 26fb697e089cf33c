import DataLoader from 'dataloader';

/** A value, or the promise of one. */
export type MaybePromise<T> = T | Promise<T>;

/** Applies `next` to a value now, or once its promise settles. */
export const mapMaybe = <T, R>(value: MaybePromise<T>, next: (settled: T) => R): MaybePromise<R> =>
  value instanceof Promise ? value.then(next) : next(value);

/**
 * A DataLoader that answers synchronously once a key's value is known (primed, or loaded earlier). GraphQL
 * completes a field that resolves synchronously without a promise of its own, and a realtime event is resolved
 * once per subscriber from values loaded once: for a thousand subscribers that is thousands of promises, and
 * their garbage, fewer per event.
 */
export class SettledLoader<K, V> {
  // Made on first use: a request usually needs few of its loaders, and often only what is known already.
  private loader: DataLoader<K, V> | undefined;
  private readonly settled = new Map<K, V>();

  /** `known` answers from a cache of the caller's without loading (undefined: not known). */
  constructor(
    private readonly batch: DataLoader.BatchLoadFn<K, V>,
    private readonly known?: (key: K) => V | undefined,
  ) {}

  get(key: K): MaybePromise<V> {
    if (this.settled.has(key)) return this.settled.get(key)!;
    const known = this.known?.(key);
    if (known !== undefined) return known;
    this.loader ??= new DataLoader(this.batch);
    return this.loader.load(key).then((value) => {
      this.settled.set(key, value);
      return value;
    });
  }

  prime(key: K, value: V): void {
    this.settled.set(key, value);
  }
}
