import { z } from 'zod';

// Input rules for integrations, shared by the GraphQL inputs and anything else that creates them.

/** A credential as Meta issues it: no whitespace (a pasted token with a stray newline would never work). */
const credential = (max: number) =>
  z
    .string()
    .trim()
    .min(1, { error: 'must not be empty' })
    .max(max, { error: `must be at most ${max} characters` })
    .regex(/^\S+$/, { error: 'must not contain whitespace' });

// Meta's long-lived access tokens are a few hundred characters; the bound only stops abuse.
export const accessToken = credential(4096);
export const appSecret = credential(256);
export const verifyToken = credential(256);

export const integrationName = z
  .string()
  .trim()
  .min(1, { error: 'must not be empty' })
  .max(100, { error: 'must be at most 100 characters' });

export const businessPhone = z
  .string()
  .trim()
  .regex(/^\+?[0-9][0-9 ()-]{3,30}$/, { error: 'must be a phone number' });

/** Meta's object ids (WhatsApp Business Account, phone number id, Instagram account id) are decimal strings. */
export const metaId = z
  .string()
  .trim()
  .regex(/^[0-9]{1,32}$/, { error: "must be Meta's numeric id" });

const SETTINGS_MAX_BYTES = 16_384;

export const settings = z
  .record(z.string(), z.unknown(), { error: 'must be a JSON object' })
  .refine((value) => Buffer.byteLength(JSON.stringify(value)) <= SETTINGS_MAX_BYTES, {
    error: `must be at most ${SETTINGS_MAX_BYTES} bytes as JSON`,
  });
