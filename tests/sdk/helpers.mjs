// Shared helpers for the SDK end-to-end tests (not a test file: node --test only runs
// *.test.mjs). tests/sdk.rs starts the generated blog backend and sets the environment.
import assert from 'node:assert/strict';
import PocketBase, { BaseAuthStore, ClientResponseError } from 'pocketbase';
import { EventSource } from 'eventsource';

// The SDK's realtime client uses the browser's EventSource; Node has none.
globalThis.EventSource ??= EventSource;

export const BAAS_URL = process.env.BAAS_URL;
export const ADMIN_EMAIL = process.env.BAAS_ADMIN_EMAIL;
export const ADMIN_PASSWORD = process.env.BAAS_ADMIN_PASSWORD;

if (!BAAS_URL || !ADMIN_EMAIL || !ADMIN_PASSWORD) {
    throw new Error('BAAS_URL, BAAS_ADMIN_EMAIL and BAAS_ADMIN_PASSWORD must be set (run `cargo test --test sdk`)');
}

// A short tag unique to this test file's run: every file signs up its own users and names
// its records with it, so files may run in parallel against the one server.
export const run = Math.random().toString(36).slice(2, 8);

export const PASSWORD = 'correct-horse-battery';

/// A fresh client. A memory-only auth store, so clients never share a session (the default
/// LocalAuthStore would use `localStorage` on runtimes that have one); auto-cancellation off,
/// because tests fire concurrent requests on one client.
export function client() {
    const pb = new PocketBase(BAAS_URL, new BaseAuthStore());
    pb.autoCancellation(false);
    return pb;
}

/// Signs up a user anonymously, then returns a client signed in as that user plus the
/// create response.
export async function signup(name) {
    const email = `${name.toLowerCase()}-${run}@example.com`;
    const created = await client().collection('users').create({
        email,
        password: PASSWORD,
        passwordConfirm: PASSWORD,
        name,
    });
    const pb = client();
    await pb.collection('users').authWithPassword(email, PASSWORD);
    return { pb, id: created.id, email, name, created };
}

/// A client signed in as the superuser from support::start.
export async function superuser() {
    const pb = client();
    await pb.collection('_superusers').authWithPassword(ADMIN_EMAIL, ADMIN_PASSWORD);
    return pb;
}

/// Asserts that `promise` rejects with a ClientResponseError of `status` and returns it.
export async function rejectsWith(promise, status) {
    let error;
    await assert.rejects(promise, (err) => {
        assert.ok(err instanceof ClientResponseError, `expected a ClientResponseError, got ${err?.stack ?? err}`);
        assert.equal(err.status, status, `HTTP status of ${err.url}: ${JSON.stringify(err.response)}`);
        error = err;
        return true;
    });
    return error;
}

/// The error body shape of pocketbase-api.md §5: exactly status, message and data.
export function assertErrorBody(err, status) {
    assert.deepEqual(Object.keys(err.response).sort(), ['data', 'message', 'status']);
    assert.equal(err.response.status, status);
    assert.equal(typeof err.response.message, 'string');
    assert.ok(err.response.message.length > 0);
    assert.equal(typeof err.response.data, 'object');
}

export const ID = /^[a-z0-9]{15}$/;
export const DATETIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/// Waits until `events` (filled by a realtime callback) holds one satisfying `pred`, and
/// returns it; fails naming `what` after about `ms` milliseconds.
export async function waitForEvent(events, pred, what, ms = 5000) {
    for (let waited = 0; waited < ms; waited += 50) {
        const found = events.find(pred);
        if (found) return found;
        await sleep(50);
    }
    assert.fail(`no ${what} event; got ${JSON.stringify(events)}`);
}
