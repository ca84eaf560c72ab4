// Records through the PocketBase JS SDK: CRUD, list queries, expand, update modifiers,
// access rules, superuser access and deletes, on the blog schema (schemas/blog.yaml).
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import {
    ADMIN_EMAIL, DATETIME, ID, assertErrorBody, client, rejectsWith, run, signup, sleep, superuser,
} from './helpers.mjs';

// Titles start with this file's run tag, so filters never see other files' records.
const title = (s) => `${run} ${s}`;

let A; // Alice: writes the posts
let B; // Bob: another signed-in user
const posts = {}; // world (published), draft (unpublished), other (published)
const comments = {};

before(async () => {
    [A, B] = await Promise.all([signup('Alice'), signup('Bob')]);
});

describe('posts as their author', () => {
    it('creates published and unpublished posts', async () => {
        const posts_ = A.pb.collection('posts');
        posts.world = await posts_.create({
            title: title('Hello world'),
            body: 'The first post.',
            published: true,
            author: A.id,
            tags: ['news', 'tech'],
            views: 3,
        });
        await sleep(5); // distinct `created` values for the sort below
        posts.draft = await posts_.create({
            title: title('Hello draft'),
            published: false,
            author: A.id,
            tags: ['tech'],
        });
        await sleep(5);
        posts.other = await posts_.create({ title: title('Another one'), published: true, author: A.id, views: 10 });

        const p = posts.world;
        assert.match(p.id, ID);
        assert.equal(p.collectionName, 'posts');
        assert.equal(typeof p.collectionId, 'string');
        assert.equal(p.title, title('Hello world'));
        assert.equal(p.body, 'The first post.');
        assert.equal(p.published, true);
        assert.equal(p.author, A.id);
        assert.deepEqual(p.tags, ['news', 'tech']);
        assert.equal(p.views, 3);
        assert.equal(p.attachment, '');
        assert.match(p.created, DATETIME);
        assert.match(p.updated, DATETIME);
        assert.equal('expand' in p, false, 'no expand key without ?expand=');
        // Unset fields come back as their zero values.
        assert.equal(posts.draft.body, '');
        assert.equal(posts.draft.views, 0);
        assert.deepEqual(posts.other.tags, []);
    });

    it('rejects an invalid post with field errors', async () => {
        const err = await rejectsWith(
            A.pb.collection('posts').create({ title: '', author: A.id, tags: ['sports'], views: -1 }),
            400,
        );
        assertErrorBody(err, 400);
        const data = err.response.data;
        assert.equal(data.title?.code, 'validation_required', JSON.stringify(data));
        assert.ok(data.tags, `tags error expected: ${JSON.stringify(data)}`);
        assert.equal(data.views?.code, 'validation_min_number_constraint', JSON.stringify(data));
    });

    it('getList with filter, sort, expand and fields', async () => {
        const pb = A.pb;
        const list = await pb.collection('posts').getList(1, 10, {
            filter: pb.filter('title ~ {:run} && title ~ {:t}', { run, t: 'Hello' }),
            sort: '-created',
            expand: 'author',
            fields: 'id,title,expand.author.name',
        });
        assert.equal(list.page, 1);
        assert.equal(list.perPage, 10);
        assert.equal(list.totalItems, 2);
        assert.equal(list.totalPages, 1);
        assert.deepEqual(list.items, [
            { id: posts.draft.id, title: title('Hello draft'), expand: { author: { name: 'Alice' } } },
            { id: posts.world.id, title: title('Hello world'), expand: { author: { name: 'Alice' } } },
        ]);
    });

    it('getList pages and skipTotal', async () => {
        const filter = A.pb.filter('author = {:a}', { a: A.id });
        const page2 = await A.pb.collection('posts').getList(2, 2, { filter, sort: 'title' });
        assert.equal(page2.page, 2);
        assert.equal(page2.totalItems, 3);
        assert.equal(page2.totalPages, 2);
        assert.deepEqual(page2.items.map((p) => p.id), [posts.world.id]);

        const skipped = await A.pb.collection('posts').getList(1, 2, { filter, sort: 'title', skipTotal: true });
        assert.equal(skipped.totalItems, -1);
        assert.equal(skipped.totalPages, -1);
        assert.deepEqual(skipped.items.map((p) => p.id), [posts.other.id, posts.draft.id]);
    });

    it('getFullList sorts and follows the pages', async () => {
        const filter = A.pb.filter('author = {:a}', { a: A.id });
        const expected = [posts.other.id, posts.draft.id, posts.world.id];
        const all = await A.pb.collection('posts').getFullList({ sort: 'title', filter });
        assert.deepEqual(all.map((p) => p.id), expected);
        // batch 2: the SDK fetches page 1 (2 items), then page 2 (1 item) and stops.
        const paged = await A.pb.collection('posts').getFullList({ sort: 'title', filter, batch: 2 });
        assert.deepEqual(paged.map((p) => p.id), expected);
        const descending = await A.pb.collection('posts').getFullList({ sort: '-title', filter });
        assert.deepEqual(descending.map((p) => p.id), [...expected].reverse());
        // Without a filter A sees every published post plus her own drafts, all sorted.
        const everything = await A.pb.collection('posts').getFullList({ sort: 'title' });
        const titles = everything.map((p) => p.title);
        assert.deepEqual(titles, [...titles].sort());
        assert.ok(everything.some((p) => p.id === posts.draft.id));
        assert.ok(everything.every((p) => p.published || p.author === A.id));
    });

    it('getFirstListItem finds one record, and rejects with 404 when none matches', async () => {
        const pb = A.pb;
        const first = await pb.collection('posts').getFirstListItem(`title = "${title('Hello world')}"`);
        assert.equal(first.id, posts.world.id);
        const byParam = await pb.collection('posts').getFirstListItem(pb.filter('title = {:t}', { t: title('Hello draft') }));
        assert.equal(byParam.id, posts.draft.id);
        await rejectsWith(pb.collection('posts').getFirstListItem(`title = "${title('no such post')}"`), 404);
    });

    it('a malformed filter rejects with 400', async () => {
        const err = await rejectsWith(A.pb.collection('posts').getList(1, 10, { filter: 'title ~ ' }), 400);
        assertErrorBody(err, 400);
        await rejectsWith(A.pb.collection('posts').getList(1, 10, { filter: 'nope = 1' }), 400);
    });

    it('getOne with expand and fields', async () => {
        const post = await A.pb.collection('posts').getOne(posts.world.id, { expand: 'author' });
        assert.equal(post.id, posts.world.id);
        assert.equal(post.title, title('Hello world'));
        assert.equal(post.expand.author.id, A.id);
        assert.equal(post.expand.author.name, 'Alice');
        assert.equal(post.expand.author.email, A.email, 'A sees her own email');
        assert.equal(post.expand.author.collectionName, 'users');

        const picked = await A.pb.collection('posts').getOne(posts.world.id, { fields: 'id,views' });
        assert.deepEqual(picked, { id: posts.world.id, views: 3 });
    });

    it('update with + and - modifiers', async () => {
        const pb = A.pb;
        const updated = await pb.collection('posts').update(posts.world.id, { 'views+': 5, 'tags+': 'life' });
        assert.equal(updated.views, 8);
        assert.deepEqual(updated.tags, ['news', 'tech', 'life']);
        assert.equal(updated.title, title('Hello world'), 'fields not sent are kept');
        assert.ok(updated.updated >= posts.world.updated);

        const again = await pb.collection('posts').update(posts.world.id, { 'views-': 2, 'tags-': 'news' });
        assert.equal(again.views, 6);
        assert.deepEqual(again.tags, ['tech', 'life']);

        const stored = await pb.collection('posts').getOne(posts.world.id);
        assert.equal(stored.views, 6);
        assert.deepEqual(stored.tags, ['tech', 'life']);

        // The result is validated: views may not go below 0.
        const err = await rejectsWith(pb.collection('posts').update(posts.world.id, { 'views-': 100 }), 400);
        assert.equal(err.response.data.views?.code, 'validation_min_number_constraint', JSON.stringify(err.response));
        assert.equal((await pb.collection('posts').getOne(posts.world.id)).views, 6);
    });

    it('creates comments and expands post.author', async () => {
        comments.byA = await A.pb.collection('comments').create({ post: posts.world.id, author: A.id, text: 'First!' });
        await sleep(5);
        comments.byB = await B.pb.collection('comments').create({ post: posts.world.id, author: B.id, text: 'Nice post' });
        assert.match(comments.byA.id, ID);
        assert.equal(comments.byB.post, posts.world.id);

        const pb = A.pb;
        const list = await pb.collection('comments').getList(1, 10, {
            filter: pb.filter('post = {:p}', { p: posts.world.id }),
            sort: 'created',
            expand: 'post.author',
        });
        assert.equal(list.totalItems, 2);
        assert.deepEqual(list.items.map((c) => c.id), [comments.byA.id, comments.byB.id]);
        for (const c of list.items) {
            assert.equal(c.expand.post.id, posts.world.id);
            assert.equal(c.expand.post.title, title('Hello world'));
            assert.equal(c.expand.post.expand.author.id, A.id);
            assert.equal(c.expand.post.expand.author.name, 'Alice');
        }
    });

    it('expands the back-relation comments_via_post', async () => {
        const post = await A.pb.collection('posts').getOne(posts.world.id, { expand: 'comments_via_post' });
        const via = post.expand.comments_via_post;
        assert.ok(Array.isArray(via), JSON.stringify(post.expand));
        assert.deepEqual(via.map((c) => c.id).sort(), [comments.byA.id, comments.byB.id].sort());
        assert.ok(via.every((c) => c.collectionName === 'comments' && c.post === posts.world.id));

        const list = await A.pb.collection('posts').getList(1, 10, {
            filter: A.pb.filter('author = {:a}', { a: A.id }),
            sort: 'title',
            expand: 'comments_via_post.author',
        });
        const world = list.items.find((p) => p.id === posts.world.id);
        assert.equal(world.expand.comments_via_post.length, 2);
        const byA = world.expand.comments_via_post.find((c) => c.id === comments.byA.id);
        assert.equal(byA.expand.author.id, A.id);
        // Posts without comments have nothing to expand.
        const other = list.items.find((p) => p.id === posts.other.id);
        assert.equal(other.expand?.comments_via_post, undefined);
    });
});

describe('access rules', () => {
    it('an anonymous client sees only published posts', async () => {
        const pb = client();
        const list = await pb.collection('posts').getList(1, 50, {
            filter: pb.filter('author = {:a}', { a: A.id }),
            sort: 'title',
        });
        assert.deepEqual(list.items.map((p) => p.id), [posts.other.id, posts.world.id]);
        assert.equal(list.totalItems, 2, 'totalItems counts only visible rows');
        assert.equal(list.totalPages, 1);

        const everything = await pb.collection('posts').getFullList();
        assert.ok(everything.length >= 2);
        assert.ok(everything.every((p) => p.published === true));
        assert.ok(!everything.some((p) => p.id === posts.draft.id));

        await rejectsWith(pb.collection('posts').getOne(posts.draft.id), 404);
        const visible = await pb.collection('posts').getOne(posts.world.id);
        assert.equal(visible.id, posts.world.id);
    });

    it('an anonymous client cannot expand the author (users view rule)', async () => {
        const post = await client().collection('posts').getOne(posts.world.id, { expand: 'author' });
        assert.equal(post.id, posts.world.id);
        assert.equal(post.expand?.author, undefined, JSON.stringify(post.expand));
    });

    it("B cannot read A's unpublished post", async () => {
        const err = await rejectsWith(B.pb.collection('posts').getOne(posts.draft.id), 404);
        assertErrorBody(err, 404);
        const list = await B.pb.collection('posts').getList(1, 50, { filter: B.pb.filter('author = {:a}', { a: A.id }) });
        assert.equal(list.totalItems, 2);
        assert.ok(!list.items.some((p) => p.id === posts.draft.id));
    });

    it("B cannot update or delete A's posts (404)", async () => {
        const pb = B.pb;
        await rejectsWith(pb.collection('posts').update(posts.world.id, { title: 'hijacked' }), 404);
        await rejectsWith(pb.collection('posts').update(posts.draft.id, { published: true }), 404);
        await rejectsWith(pb.collection('posts').delete(posts.world.id), 404);
        await rejectsWith(pb.collection('posts').delete(posts.draft.id), 404);
        const stored = await A.pb.collection('posts').getOne(posts.world.id);
        assert.equal(stored.title, title('Hello world'));
        assert.equal((await A.pb.collection('posts').getOne(posts.draft.id)).published, false);
    });

    it('B cannot create a post in A\'s name, and an anonymous client cannot create one at all (400)', async () => {
        const err = await rejectsWith(
            B.pb.collection('posts').create({ title: title('forged'), author: A.id, published: true }),
            400,
        );
        assertErrorBody(err, 400);
        const anon = await rejectsWith(
            client().collection('posts').create({ title: title('anonymous'), author: A.id, published: true }),
            400,
        );
        assertErrorBody(anon, 400);
        assert.deepEqual(anon.response.data, {});
        const found = await A.pb.collection('posts').getList(1, 10, {
            filter: A.pb.filter('title = {:a} || title = {:b}', { a: title('forged'), b: title('anonymous') }),
        });
        assert.equal(found.totalItems, 0);
    });

    it('comments follow their post: anonymous sees those of published posts only', async () => {
        // (the examples refuse comments on unpublished posts: it gets one while published)
        await A.pb.collection('posts').update(posts.draft.id, { published: true });
        const draftComment = await A.pb.collection('comments').create({ post: posts.draft.id, author: A.id, text: 'note to self' });
        await A.pb.collection('posts').update(posts.draft.id, { published: false });
        const pb = client();
        const onWorld = await pb.collection('comments').getList(1, 10, { filter: pb.filter('post = {:p}', { p: posts.world.id }) });
        assert.equal(onWorld.totalItems, 2);
        const onDraft = await pb.collection('comments').getList(1, 10, { filter: pb.filter('post = {:p}', { p: posts.draft.id }) });
        assert.equal(onDraft.totalItems, 0);
        await rejectsWith(B.pb.collection('comments').getOne(draftComment.id), 404);
        // B may not edit A's comment.
        await rejectsWith(B.pb.collection('comments').update(comments.byA.id, { text: 'edited by B' }), 404);
        await A.pb.collection('comments').delete(draftComment.id);
    });
});

describe('superuser', () => {
    let su;
    before(async () => {
        su = await superuser();
    });

    it('authenticates through _superusers', () => {
        assert.equal(su.authStore.isSuperuser, true);
        assert.equal(su.authStore.isValid, true);
        assert.equal(su.authStore.record.email, ADMIN_EMAIL);
    });

    it("sees A's unpublished post", async () => {
        const draft = await su.collection('posts').getOne(posts.draft.id, { expand: 'author' });
        assert.equal(draft.published, false);
        assert.equal(draft.expand.author.id, A.id);
        const list = await su.collection('posts').getList(1, 10, { filter: su.filter('author = {:a}', { a: A.id }) });
        assert.equal(list.totalItems, 3);
    });

    it('sees all users, with their emails', async () => {
        const users = await su.collection('users').getFullList({ sort: 'created' });
        const a = users.find((u) => u.id === A.id);
        const b = users.find((u) => u.id === B.id);
        assert.ok(a && b, 'A and B are both listed');
        assert.equal(a.email, A.email);
        assert.equal(b.email, B.email);
        const one = await su.collection('users').getOne(B.id);
        assert.equal(one.name, 'Bob');
    });
});

describe('deletes', () => {
    it('delete resolves true, then getOne rejects with 404', async () => {
        const doomed = await A.pb.collection('posts').create({ title: title('doomed'), author: A.id, published: true });
        assert.equal(await A.pb.collection('posts').delete(doomed.id), true);
        const err = await rejectsWith(A.pb.collection('posts').getOne(doomed.id), 404);
        assertErrorBody(err, 404);
        await rejectsWith(A.pb.collection('posts').delete(doomed.id), 404);
    });

    it('a post still referenced by comments cannot be deleted (400)', async () => {
        const err = await rejectsWith(A.pb.collection('posts').delete(posts.world.id), 400);
        assertErrorBody(err, 400);
        assert.equal((await A.pb.collection('posts').getOne(posts.world.id)).id, posts.world.id);
    });

    it('a user still referenced by posts cannot delete themselves (400)', async () => {
        const err = await rejectsWith(A.pb.collection('users').delete(A.id), 400);
        assertErrorBody(err, 400);
        assert.equal(A.pb.authStore.isValid, true, 'a failed delete keeps the session');
        assert.equal((await A.pb.collection('users').getOne(A.id)).id, A.id);
    });

    it('B cannot delete A (404); a user without references can delete themselves', async () => {
        await rejectsWith(B.pb.collection('users').delete(A.id), 404);
        const C = await signup('Carol');
        assert.equal(await C.pb.collection('users').delete(C.id), true);
        assert.equal(C.pb.authStore.isValid, false, 'the SDK clears the auth store after deleting the signed-in record');
        const su = await superuser();
        await rejectsWith(su.collection('users').getOne(C.id), 404);
    });
});
