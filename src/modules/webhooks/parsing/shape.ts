import type { z } from 'zod';
import type { JsonObject, JsonValue, ParseProblem } from '../inbound-events.js';

// Helpers shared by the platform parsers: each item of a delivery is checked on its own, so one malformed
// item is reported and the others still count.

/** The item parsed, or undefined with a problem naming where and why. */
export function parseItem<T extends z.ZodType>(
  schema: T,
  value: unknown,
  path: string,
  problems: ParseProblem[],
): z.output<T> | undefined {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const reason = parsed.error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(item)'}: ${issue.message}`)
    .join('; ');
  problems.push({ path, reason });
  return undefined;
}

/** An object without its undefined and null entries, as stored metadata (no noise keys). */
export function compact(entries: Record<string, JsonValue | undefined>): JsonObject {
  const result: JsonObject = {};
  for (const [key, value] of Object.entries(entries)) if (value !== undefined && value !== null) result[key] = value;
  return result;
}

/** Arrays that are optional in Meta's payloads, as (possibly empty) arrays with their paths. */
export function itemsOf(value: unknown, path: string): { value: unknown; path: string }[] {
  return Array.isArray(value) ? value.map((item, index) => ({ value: item, path: `${path}[${index}]` })) : [];
}
