import { createTransport } from 'nodemailer';
import type { AppConfig } from '../../config.js';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

/** How long an SMTP server may take to answer (connect, greet, each command) before a send fails. */
const SMTP_TIMEOUT_MS = 10_000;

/** Outgoing mail through nodemailer's SMTP transport (SMTP_URL, `smtp://` or `smtps://`, credentials in it). */
export class Mailer {
  private readonly transport;

  constructor(smtp: NonNullable<AppConfig['smtp']>) {
    this.transport = createTransport(
      {
        url: smtp.url,
        connectionTimeout: SMTP_TIMEOUT_MS,
        greetingTimeout: SMTP_TIMEOUT_MS,
        socketTimeout: SMTP_TIMEOUT_MS,
      },
      { from: smtp.from },
    );
  }

  async send(message: MailMessage): Promise<void> {
    await this.transport.sendMail(message);
  }

  close(): void {
    this.transport.close();
  }
}
