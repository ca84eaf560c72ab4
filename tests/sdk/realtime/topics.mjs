// A realtime topic of the crate's own (run by tests/hooks.rs, not by tests/sdk.rs): the
// hooks test crate declares `news`, which signed-in users may hear, and `POST /api/news`
// (superusers) publishes its body to it inside a transaction; `?fail=1` publishes and then
// fails, rolling the message back. The SDK subscribes with `pb.realtime.subscribe('news')`,
// on BAAS_URL; messages are published through BAAS_WRITE_URL (another instance on
// PostgreSQL, the same one otherwise).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import PocketBase, { BaseAuthStore } from 'pocketbase';
import { ADMIN_EMAIL, ADMIN_PASSWORD, client, run, signup, sleep, waitForEvent } from '../helpers.mjs';

const WRITE_URL = process.env.BAAS_WRITE_URL ?? process.env.BAAS_URL;
const open = [];

after(() => {
    for (const pb of open) pb.realtime.unsubscribe();
});

async function publish(text, query = '') {
    const admin = new PocketBase(WRITE_URL, new BaseAuthStore());
    admin.autoCancellation(false);
    await admin.collection('_superusers').authWithPassword(ADMIN_EMAIL, ADMIN_PASSWORD);
    return admin.send(`/api/news${query}`, { method: 'POST', body: { text } });
}

describe('a topic of the crate\'s own', () => {
    it('reaches the subscribers it admits, after the commit only', async () => {
        const user = await signup('Reader');
        const anon = client();
        open.push(user.pb, anon);
        const heard = [];
        const unheard = [];
        await user.pb.realtime.subscribe('news', (e) => heard.push(e));
        await anon.realtime.subscribe('news', (e) => unheard.push(e));

        await assert.rejects(publish(`${run} rolled back`, '?fail=1'), (err) => err.status === 400);
        await publish(`${run} hello`);
        await waitForEvent(heard, (e) => e.text === `${run} hello`, 'the user hears the message', 10000);
        await sleep(300);
        assert.deepEqual(heard.map((e) => e.text), [`${run} hello`], 'a rolled-back message is never sent');
        assert.deepEqual(unheard, [], 'the topic does not admit anonymous subscribers');
    });
});
