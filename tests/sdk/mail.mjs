// Reading the mails a test server sent, as delivered to the SMTP server tests/accounts.rs
// runs (each mail a JSON file in BAAS_MAILDIR; see tests/support/smtp_sink.py).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const MAILDIR = process.env.BAAS_MAILDIR;
if (!MAILDIR) throw new Error('BAAS_MAILDIR must be set (run `cargo test --test accounts`)');

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/// The mails delivered to `to` so far, oldest first.
export function mailsTo(to) {
    return readdirSync(MAILDIR)
        .filter((name) => name.endsWith('.json'))
        .sort()
        .map((name) => JSON.parse(readFileSync(join(MAILDIR, name), 'utf8')))
        .filter((mail) => mail.to.includes(to));
}

/// Waits for the `n`th mail to `to` whose subject matches `subject`, and returns it.
export async function mail(to, subject, n = 1) {
    for (let i = 0; i < 200; i++) {
        const found = mailsTo(to).filter((m) => subject.test(m.subject));
        if (found.length >= n) return found[n - 1];
        await sleep(50);
    }
    throw new Error(`no mail ${subject} to ${to}; delivered: ${JSON.stringify(mailsTo(to).map((m) => m.subject))}`);
}
