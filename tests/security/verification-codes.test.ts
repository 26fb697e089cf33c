import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  GUESS_WINDOW_MS,
  MAX_FAILED_GUESSES,
  MAX_FAILED_GUESSES_PER_INTEGRATION,
} from '../../src/modules/client-links/guess-budgets.js';
import type { PlatformSender } from '../../src/modules/client-links/links.service.js';
import { CODE_ALPHABET } from '../../src/modules/client-links/verification-codes.js';
import { type Conversation, deliver, openConversation, whatsAppDelivery } from '../support/conversations.js';
import { randomPhone } from '../support/platform.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';

// Guessing a client's verification code: a message tries one code, each sender has a budget of wrong guesses,
// and so does the integration, from all senders together, counted in the database so that every instance
// refuses alike. Before, each message tried five codes and twenty senders checked 500 codes unrefused.

let first: TestServer;
let second: TestServer;
let org: TestOrganization;

beforeAll(async () => {
  [first, second] = await Promise.all([startServer(), startServer()]);
  org = await seedOrganization(first);
});
afterAll(() => Promise.all([first?.stop(), second?.stop()]));

const prisma = () => first.app.db.prisma;

/** A code-shaped word, as a guesser sends: the chance that it is one of the few pending codes is nil. */
const wrongCode = () =>
  Array.from({ length: 7 }, () => CODE_ALPHABET[randomBytes(1)[0]! % CODE_ALPHABET.length]).join('') + '7';

/** An unlinked customer of a fresh integration, and the code an admin issued for their client. */
async function pendingCustomer(): Promise<{ conversation: Conversation; code: string; linkId: string }> {
  const conversation = await openConversation(first, org, 'WHATSAPP', { linked: false });
  const link = await first.app.services.clientLinks.create(org.admin.session, {
    clientUserId: conversation.client.id,
    platformIntegrationId: conversation.integration.id,
  });
  return { conversation, code: link.verificationCode!, linkId: link.id };
}

/** The customer writes `text` from WhatsApp, as Meta delivers it; resolves with the processed delivery. */
const customerSends = (conversation: Conversation, text: string) =>
  deliver(
    first,
    conversation.integration,
    whatsAppDelivery('wa_inbound_text.json', conversation, {
      replace: { 'Body Text': text, 'wamid.xyzxyz': `wamid.${randomBytes(8).toString('hex')}` },
    }),
  );

const statusOf = async (linkId: string) =>
  (await prisma().clientPlatformLink.findUniqueOrThrow({ where: { id: linkId } })).verificationStatus;

describe('verification codes', () => {
  it('are tried one per message: a message holding a wrong code and then the right one verifies nothing', async () => {
    const { conversation, code, linkId } = await pendingCustomer();
    const guessing = await customerSends(conversation, `${wrongCode()} ${wrongCode()} ${code}`);
    expect(guessing.status).toBe('FAILED');
    expect(JSON.stringify(guessing.errors)).toContain('no pending link has that code');
    expect(await statusOf(linkId)).toBe('PENDING');
    // The customer who types the code they were given is verified, and their message lands in their channel.
    const typed = await customerSends(conversation, `my code is ${code.toLowerCase()}`);
    expect(typed.status).toBe('PROCESSED');
    expect(await statusOf(linkId)).toBe('VERIFIED');
  });

  it(`allow ${MAX_FAILED_GUESSES_PER_INTEGRATION} wrong guesses per integration from all senders together, on every instance`, async () => {
    const { conversation, code, linkId } = await pendingCustomer();
    const { integration } = conversation;
    // More senders than the budget allows, each within their own limit, guessing at once on two instances.
    const senders: PlatformSender[] = Array.from({ length: 30 }, () => ({
      platformUserId: randomPhone(),
      scopedUserId: null,
    }));
    const guesses = senders.flatMap((sender, index) =>
      Array.from({ length: MAX_FAILED_GUESSES - 1 }, (_, guess) =>
        ((index + guess) % 2 === 0 ? first : second).app.services.clientLinks.verify(integration, sender, wrongCode()),
      ),
    );
    const outcomes = await Promise.all(guesses);
    const reasons = outcomes.map((outcome) => (outcome.status === 'refused' ? outcome.reason : outcome.status));
    expect(reasons.filter((reason) => reason === 'unknown-code')).toHaveLength(MAX_FAILED_GUESSES_PER_INTEGRATION);
    expect(reasons.filter((reason) => reason !== 'unknown-code')).toEqual(
      Array(guesses.length - MAX_FAILED_GUESSES_PER_INTEGRATION).fill('integration-rate-limited'),
    );

    // Now even the right code, from the right customer, waits for the window to pass; the delivery says why.
    const refused = await customerSends(conversation, code);
    expect(refused.status).toBe('FAILED');
    expect(JSON.stringify(refused.errors)).toContain('too many wrong codes on this integration');
    expect(await statusOf(linkId)).toBe('PENDING');
    // Another integration is unaffected.
    const elsewhere = await pendingCustomer();
    expect((await customerSends(elsewhere.conversation, elsewhere.code)).status).toBe('PROCESSED');

    await prisma().integrationVerificationAttempt.update({
      where: { platformIntegrationId: integration.id },
      data: { windowStartedAt: new Date(Date.now() - GUESS_WINDOW_MS - 1000) },
    });
    expect((await customerSends(conversation, code)).status).toBe('PROCESSED');
    expect(await statusOf(linkId)).toBe('VERIFIED');
  });
});
