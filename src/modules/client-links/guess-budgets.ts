import type pg from 'pg';

/** Failed guesses allowed per sender and integration within one window; then every code from them is refused. */
export const MAX_FAILED_GUESSES = 5;
/**
 * Failed guesses allowed per integration within one window, from all senders together; then every code on the
 * integration is refused. At 50 per 15 minutes, a year of guessing finds one of a thousand pending codes (of
 * 31^8) with a chance of about one in five hundred.
 */
export const MAX_FAILED_GUESSES_PER_INTEGRATION = 50;
export const GUESS_WINDOW_MS = 15 * 60 * 1000;

export type GuessBudget = 'integration' | 'sender';

/** Where each budget is counted: a row per integration, and a row per sender and integration. */
const BUDGETS: Record<GuessBudget, { table: string; keys: string[]; limit: number }> = {
  integration: {
    table: 'integration_verification_attempts',
    keys: ['platform_integration_id'],
    limit: MAX_FAILED_GUESSES_PER_INTEGRATION,
  },
  sender: {
    table: 'link_verification_attempts',
    keys: ['platform_integration_id', 'sender'],
    limit: MAX_FAILED_GUESSES,
  },
};

/**
 * The budgets of wrong verification-code guesses, in the database so that they hold on every instance. A guess
 * is charged before its code is looked at, by one statement that counts it only while the window's budget
 * lasts (a window that has passed starts afresh): concurrent guesses on any number of instances can never
 * exceed a budget, and none of them waits for another. What turns out not to be a wrong guess is given back.
 */
export class GuessBudgets {
  constructor(private readonly db: pg.Pool) {}

  /** Counts one guess against the budget of `key` (the integration id, then the sender); false once spent. */
  async charge(budget: GuessBudget, key: string[]): Promise<boolean> {
    const { table, keys, limit } = BUDGETS[budget];
    const expired = `a.window_started_at < now() - $${keys.length + 1}::int * interval '1 millisecond'`;
    const { rowCount } = await this.db.query(
      `INSERT INTO ${table} AS a (${keys.join(', ')}, failures) VALUES (${keys.map((_, i) => `$${i + 1}`).join(', ')}, 1)
       ON CONFLICT (${keys.join(', ')}) DO UPDATE SET
         failures = CASE WHEN ${expired} THEN 1 ELSE a.failures + 1 END,
         window_started_at = CASE WHEN ${expired} THEN now() ELSE a.window_started_at END
       WHERE ${expired} OR a.failures < $${keys.length + 2}`,
      [...key, GUESS_WINDOW_MS, limit],
    );
    return rowCount === 1;
  }

  /** Gives a charged guess back. */
  async refund(budget: GuessBudget, key: string[]): Promise<void> {
    const { table, keys } = BUDGETS[budget];
    await this.db.query(
      `UPDATE ${table} SET failures = failures - 1
       WHERE ${keys.map((column, i) => `${column} = $${i + 1}`).join(' AND ')} AND failures > 0`,
      key,
    );
  }

  /** Forgets the budget's count (a sender who verified starts afresh). */
  async clear(budget: GuessBudget, key: string[]): Promise<void> {
    const { table, keys } = BUDGETS[budget];
    await this.db.query(
      `DELETE FROM ${table} WHERE ${keys.map((column, i) => `${column} = $${i + 1}`).join(' AND ')}`,
      key,
    );
  }
}
