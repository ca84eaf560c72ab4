// Realtime (GET/POST /api/realtime, pocketbase-api.md §3.5) through collection(c).subscribe():
// topics `*` and one record, the fields/expand/filter options, rule filtering per subscriber
// (anonymous vs owner; a row-only rule and one that reads a related record), deletes with the
// record's last state, unsubscribe, and the protocol's own answers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BAAS_URL, client, rejectsWith, run, signup, waitForEvent } from './helpers.mjs';

const title = (s) => `${run} rt ${s}`;

let A;
let B;
const anon = client();
const clients = [];

before(async () => {
    [A, B] = await Promise.all([signup('Alice'), signup('Bob')]);
    clients.push(anon, A.pb, B.pb);
});

after(() => {
    for (const pb of clients) pb.realtime.unsubscribe();
});

/// Subscribes `pb` to `topic` of `collection`, keeping the events whose record belongs to this
/// run (other test files write to the same server at the same time).
async function listen(pb, collection, topic, options, mine = (e) => String(e.record?.title ?? e.record?.text ?? '').startsWith(`${run} rt`)) {
    const events = [];
    const unsubscribe = await pb.collection(collection).subscribe(topic, (e) => { if (mine(e)) events.push(e); }, options);
    return { events, unsubscribe };
}

const summary = (events) => events.map((e) => `${e.action} ${e.record.title ?? e.record.text}`);

describe('realtime', () => {
    it('delivers creates, updates and deletes of posts/* to the subscribers whose list rule admits them', async () => {
        const a = await listen(A.pb, 'posts', '*');
        const b = await listen(B.pb, 'posts', '*');
        const n = await listen(anon, 'posts', '*');
        const posts = A.pb.collection('posts');

        const hidden = await posts.create({ title: title('draft'), author: A.id });
        await posts.update(hidden.id, { views: 1 });
        await posts.delete(hidden.id);
        const shown = await posts.create({ title: title('public'), author: A.id, published: true });
        await posts.update(shown.id, { published: false });
        await posts.update(shown.id, { published: true, title: title('public again') });
        await posts.delete(shown.id);

        // Events of one change arrive in commit order: when the last has arrived, so have the rest.
        for (const s of [a, b, n]) await waitForEvent(s.events, (e) => e.action === 'delete' && e.record.id === shown.id, 'last delete');
        assert.deepEqual(summary(a.events), [
            `create ${title('draft')}`, `update ${title('draft')}`, `delete ${title('draft')}`,
            `create ${title('public')}`, `update ${title('public')}`, `update ${title('public again')}`, `delete ${title('public again')}`,
        ]);
        // anonymous and another user see only the published states
        for (const s of [b, n]) {
            assert.deepEqual(summary(s.events), [
                `create ${title('public')}`, `update ${title('public again')}`, `delete ${title('public again')}`,
            ]);
        }
        // the record as the REST API shows it; a delete carries the last state
        const created = n.events[0].record;
        assert.equal(created.id, shown.id);
        assert.equal(created.collectionName, 'posts');
        assert.equal(created.collectionId, shown.collectionId);
        assert.equal(created.author, A.id);
        assert.equal(created.created, shown.created);
        const deleted = n.events[2].record;
        assert.equal(deleted.published, true);
        assert.equal(deleted.title, title('public again'));
        for (const s of [a, b, n]) await s.unsubscribe();
    });

    it('a record topic uses the view rule and the fields and expand options', async () => {
        const post = await A.pb.collection('posts').create({ title: title('one'), author: A.id, views: 1 });
        const other = await A.pb.collection('posts').create({ title: title('other'), author: A.id });
        const a = await listen(A.pb, 'posts', post.id, { expand: 'author', fields: 'id,title,views,expand.author.id,expand.author.name' });
        const n = await listen(anon, 'posts', post.id);
        await A.pb.collection('posts').update(other.id, { views: 9 });
        await A.pb.collection('posts').update(post.id, { views: 2 });
        await A.pb.collection('posts').update(post.id, { published: true, views: 3 });

        const e = await waitForEvent(a.events, (e) => e.record.views === 3, 'second update');
        // (the create may still have been on its way when the subscription was made)
        assert.equal(a.events.filter((e) => e.action === 'update').length, 2, summary(a.events).join());
        assert.equal(e.action, 'update');
        assert.deepEqual(e.record, { id: post.id, title: title('one'), views: 3, expand: { author: { id: A.id, name: 'Alice' } } });
        // anonymous: only once the post is published
        const seen = await waitForEvent(n.events, (e) => e.record.views === 3, 'published update');
        assert.equal(n.events.length, 1);
        assert.equal(seen.record.published, true);
        assert.equal(seen.record.expand, undefined);
        await a.unsubscribe();
        await n.unsubscribe();
    });

    it('the filter option narrows which events are delivered', async () => {
        const s = await listen(A.pb, 'posts', '*', { filter: 'views >= 5 && title ~ "filtered"' });
        const posts = A.pb.collection('posts');
        await posts.create({ title: title('filtered low'), author: A.id, views: 1 });
        await posts.create({ title: title('unrelated'), author: A.id, views: 50 });
        await posts.create({ title: title('filtered high'), author: A.id, views: 7 });
        await waitForEvent(s.events, (e) => e.record.title === title('filtered high'), 'matching create');
        assert.deepEqual(summary(s.events), [`create ${title('filtered high')}`]);
        await s.unsubscribe();
    });

    it('a rule through a relation (comments: post.published || post.author) is judged per subscriber', async () => {
        const a = await listen(A.pb, 'comments', '*');
        const b = await listen(B.pb, 'comments', '*');
        const n = await listen(anon, 'comments', '*');
        const posts = A.pb.collection('posts');
        const later = await posts.create({ title: title('c later draft'), author: A.id, published: true });
        const open = await posts.create({ title: title('c open'), author: A.id, published: true });
        // (the examples refuse comments on unpublished posts: the draft gets its comment first)
        const onDraft = await B.pb.collection('comments').create({ post: later.id, author: B.id, text: title('on the draft') });
        const onOpen = await B.pb.collection('comments').create({ post: open.id, author: B.id, text: title('on the open post') });
        // a rule that reads another row is judged when the event goes out, against that row
        // then (as PocketBase does): the creates are out before the post is unpublished
        for (const s of [a, b, n]) await waitForEvent(s.events, (e) => e.record.text === title('on the open post'), 'create');
        await posts.update(later.id, { published: false });
        await B.pb.collection('comments').update(onDraft.id, { text: title('edited on the draft') });
        await B.pb.collection('comments').update(onOpen.id, { text: title('edited on the open post') });
        await waitForEvent(a.events, (e) => e.record.text === title('edited on the open post'), 'owner');
        for (const s of [b, n]) await waitForEvent(s.events, (e) => e.record.text === title('edited on the open post'), 'public comment');
        const created = [`create ${title('on the draft')}`, `create ${title('on the open post')}`];
        assert.deepEqual(summary(a.events), [...created, `update ${title('edited on the draft')}`, `update ${title('edited on the open post')}`]);
        for (const s of [b, n]) assert.deepEqual(summary(s.events), [...created, `update ${title('edited on the open post')}`]);
        for (const s of [a, b, n]) await s.unsubscribe();
    });

    it('unsubscribe stops the events, and the SDK closes the stream when nothing is left', async () => {
        const pb = client();
        clients.push(pb);
        const s = await listen(pb, 'posts', '*');
        const keep = await listen(pb, 'posts', '*', { fields: 'id,title' });
        await s.unsubscribe();
        await A.pb.collection('posts').create({ title: title('after unsubscribe'), author: A.id, published: true });
        await waitForEvent(keep.events, (e) => e.record.title === title('after unsubscribe'), 'remaining subscription');
        assert.equal(s.events.length, 0);
        assert.deepEqual(Object.keys(keep.events[0].record).sort(), ['id', 'title']);
        await keep.unsubscribe();
        assert.equal(pb.realtime.isConnected, false);
    });

    it('answers the subscription request as PocketBase does', async () => {
        // a raw stream: PB_CONNECT first, its SSE id the client id
        const source = new EventSource(`${BAAS_URL}/api/realtime`);
        const clientId = await new Promise((resolve, reject) => {
            source.addEventListener('PB_CONNECT', (e) => {
                assert.equal(JSON.parse(e.data).clientId, e.lastEventId);
                resolve(e.lastEventId);
            });
            source.onerror = reject;
        });
        assert.match(clientId, /^[A-Za-z0-9]{40}$/);
        const post = (body, token) => fetch(`${BAAS_URL}/api/realtime`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: token } : {}) },
            body: JSON.stringify(body),
        });
        let res = await post({ subscriptions: ['posts/*'] });
        assert.equal(res.status, 400);
        assert.equal((await res.json()).data.clientId.code, 'validation_required');
        res = await post({ clientId: 'nope', subscriptions: [] });
        assert.equal(res.status, 404);
        assert.equal((await res.json()).message, 'Missing or invalid client id.');
        res = await post({ clientId, subscriptions: ['posts/*', 'nothing/*'] }, A.pb.authStore.token);
        assert.equal(res.status, 204);
        res = await post({ clientId, subscriptions: ['posts/*'] }, B.pb.authStore.token);
        assert.equal(res.status, 403);
        res = await post({ clientId, subscriptions: [] });
        assert.equal(res.status, 403);
        res = await post({ clientId, subscriptions: Array.from({ length: 1001 }, (_, i) => `posts/${i}`) }, A.pb.authStore.token);
        assert.equal(res.status, 400);
        assert.equal((await res.json()).data.subscriptions.code, 'validation_length_too_long');
        res = await post({ clientId, subscriptions: [] }, A.pb.authStore.token);
        assert.equal(res.status, 204);
        source.close();
        await rejectsWith(client().collection('posts').getOne('missing'), 404);
    });
});
