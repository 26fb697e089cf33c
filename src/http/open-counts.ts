/** How many of something each key holds open (connections per user, sockets per address), up to a cap. */
export class OpenCounts {
  private readonly counts = new Map<string, number>();

  /** `max` places per key; 0: no limit. */
  constructor(private readonly max: number) {}

  /** Takes a place for `key`, unless it holds `max` already. */
  take(key: string): boolean {
    const count = this.counts.get(key) ?? 0;
    if (this.max > 0 && count >= this.max) return false;
    this.counts.set(key, count + 1);
    return true;
  }

  /** Gives back a place taken for `key`. */
  give(key: string): void {
    const remaining = (this.counts.get(key) ?? 1) - 1;
    if (remaining > 0) this.counts.set(key, remaining);
    else this.counts.delete(key);
  }
}
