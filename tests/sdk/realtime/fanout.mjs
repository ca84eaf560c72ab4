// Fan-out across instances (run by tests/realtime.rs, not by tests/sdk.rs): two backend
// instances serve one PostgreSQL database; the SDK subscribes on BAAS_URL and every write goes
// through BAAS_WRITE_URL. Events cross over through LISTEN/NOTIFY, still filtered by each
// subscriber's rule.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import PocketBase, { BaseAuthStore } from 'pocketbase';
import { PASSWORD, client, run, waitForEvent } from '../helpers.mjs';

const WRITE_URL = process.env.BAAS_WRITE_URL;
const writer = () => {
    const pb = new PocketBase(WRITE_URL, new BaseAuthStore());
    pb.autoCancellation(false);
    return pb;
};
const title = (s) => `${run} fan ${s}`;
const open = [];

after(() => {
    for (const pb of open) pb.realtime.unsubscribe();
});

describe('realtime across instances', () => {
    it('a subscriber on one instance receives the changes written through the other', async () => {
        assert.ok(WRITE_URL, 'BAAS_WRITE_URL must be set');
        // sign up on the writing instance, sign in on the subscribing one: one secret
        const email = `fan-${run}@example.com`;
        const user = await writer().collection('users').create({ email, password: PASSWORD, passwordConfirm: PASSWORD, name: 'Fan' });
        const owner = client();
        await owner.collection('users').authWithPassword(email, PASSWORD);
        const w = writer();
        await w.collection('users').authWithPassword(email, PASSWORD);
        const anon = client();
        open.push(owner, anon);

        const mine = [];
        const public_ = [];
        const one = [];
        await owner.collection('posts').subscribe('*', (e) => mine.push(e));
        await anon.collection('posts').subscribe('*', (e) => public_.push(e), { fields: 'id,title,published' });

        const draft = await w.collection('posts').create({ title: title('draft'), author: user.id });
        const post = await w.collection('posts').create({ title: title('post'), author: user.id, published: true });
        // events cross over asynchronously: subscribe to the record once its create has arrived
        await waitForEvent(public_, (e) => e.action === 'create' && e.record.id === post.id, 'anonymous: create', 10000);
        await anon.collection('posts').subscribe(post.id, (e) => one.push(e));
        await w.collection('posts').update(post.id, { views: 5 });
        await w.collection('posts').delete(draft.id);
        await w.collection('posts').delete(post.id);

        await waitForEvent(mine, (e) => e.action === 'delete' && e.record.id === post.id, 'owner: last delete', 10000);
        await waitForEvent(public_, (e) => e.action === 'delete' && e.record.id === post.id, 'anonymous: last delete', 10000);
        await waitForEvent(one, (e) => e.action === 'delete', 'record topic: delete', 10000);
        const summary = (events) => events.map((e) => `${e.action} ${e.record.title}`);
        assert.deepEqual(summary(mine), [
            `create ${title('draft')}`, `create ${title('post')}`, `update ${title('post')}`,
            `delete ${title('draft')}`, `delete ${title('post')}`,
        ]);
        assert.deepEqual(summary(public_), [`create ${title('post')}`, `update ${title('post')}`, `delete ${title('post')}`]);
        assert.deepEqual(Object.keys(public_[0].record).sort(), ['id', 'published', 'title']);
        assert.deepEqual(summary(one), [`update ${title('post')}`, `delete ${title('post')}`]);
        assert.equal(one[0].record.views, 5);
        assert.equal(mine[0].record.author, user.id);
    });
});
