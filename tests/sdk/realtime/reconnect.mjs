// Idle streams (run by tests/realtime.rs against a backend started with
// BAAS_REALTIME_IDLE_SECS=1): the server closes a stream that sent nothing for the idle time,
// as PocketBase does after 300 s; the SDK reconnects with a new client id, subscribes again,
// and events flow on.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { client, run, signup, sleep } from '../helpers.mjs';

describe('idle realtime streams', () => {
    it('are closed by the server, and the SDK reconnects and resubscribes', async () => {
        const A = await signup('Idle');
        const pb = client();
        const events = [];
        await pb.collection('posts').subscribe('*', (e) => events.push(e));
        const first = pb.realtime.clientId;
        assert.match(first, /^[A-Za-z0-9]{40}$/);
        // closed after 1 s of silence; the SDK reconnects 200 ms later
        const reconnected = () => pb.realtime.isConnected && pb.realtime.clientId && pb.realtime.clientId !== first;
        for (let i = 0; i < 200 && !reconnected(); i++) await sleep(10);
        assert.ok(reconnected(), 'the server closed the idle stream and the SDK reconnected');
        await sleep(100); // the SDK re-posts its subscriptions right after PB_CONNECT
        const title = `${run} idle after reconnect`;
        await A.pb.collection('posts').create({ title, author: A.id, published: true });
        for (let i = 0; i < 100 && !events.some((e) => e.record.title === title); i++) await sleep(20);
        assert.ok(events.some((e) => e.record.title === title), JSON.stringify(events));
        pb.realtime.unsubscribe();
    });
});
