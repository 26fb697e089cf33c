/**
 * One copy of each equal string for everyone who holds one: tens of thousands of subscriptions of the same few
 * documents would otherwise each keep their own copy for as long as they run. At most `maxEntries` strings of at
 * most `maxLength` characters are known; when full, the known ones are forgotten (their holders keep them), and
 * a longer string is kept as it is.
 */
export class SharedCopies {
  private readonly known = new Map<string, string>();

  constructor(
    private readonly maxEntries: number,
    private readonly maxLength = Number.POSITIVE_INFINITY,
  ) {}

  /** The copy of `value` shared so far, or `value` itself (then shared from now on). */
  of(value: string): string {
    const known = this.known.get(value);
    if (known !== undefined) return known;
    if (value.length > this.maxLength) return value;
    if (this.known.size >= this.maxEntries) this.known.clear();
    this.known.set(value, value);
    return value;
  }
}
