// The batch API (POST /api/batch, pocketbase-api.md §3.6) through pb.createBatch().
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { assertErrorBody, client, rejectsWith, run, signup } from './helpers.mjs';

const title = (s) => `${run} ${s}`;

let A;
let B;

before(async () => {
    [A, B] = await Promise.all([signup('Alice'), signup('Bob')]);
});

/// A's posts whose title starts with this run's tag, sorted by title.
async function titlesOfA() {
    const list = await A.pb.collection('posts').getFullList({
        filter: A.pb.filter('author = {:a} && title ~ {:run}', { a: A.id, run }),
        sort: 'title',
    });
    return list.map((p) => p.title);
}

describe('batch', () => {
    it('create, update and delete in one batch', async () => {
        const posts = A.pb.collection('posts');
        const [keep, drop] = await Promise.all([
            posts.create({ title: title('batch keep'), author: A.id, views: 1 }),
            posts.create({ title: title('batch drop'), author: A.id }),
        ]);

        const batch = A.pb.createBatch();
        batch.collection('posts').create({ title: title('batch new'), author: A.id, published: true, tags: ['news'] });
        batch.collection('posts').update(keep.id, { title: title('batch kept'), 'views+': 2 });
        batch.collection('posts').delete(drop.id);
        const results = await batch.send();

        assert.ok(Array.isArray(results), JSON.stringify(results));
        assert.equal(results.length, 3);
        assert.deepEqual(results.map((r) => r.status), [200, 200, 204]);
        assert.equal(results[0].body.title, title('batch new'));
        assert.equal(results[0].body.author, A.id);
        assert.deepEqual(results[0].body.tags, ['news']);
        assert.equal(results[0].body.collectionName, 'posts');
        assert.equal(results[1].body.id, keep.id);
        assert.equal(results[1].body.title, title('batch kept'));
        assert.equal(results[1].body.views, 3);
        assert.equal(results[2].body, null);

        const created = await posts.getOne(results[0].body.id);
        assert.equal(created.published, true);
        assert.equal((await posts.getOne(keep.id)).views, 3);
        await rejectsWith(posts.getOne(drop.id), 404);
        assert.deepEqual(await titlesOfA(), [title('batch kept'), title('batch new')]);
    });

    it('upsert updates an existing record and creates a missing one', async () => {
        const existing = await A.pb.collection('posts').create({ title: title('batch upsert old'), author: A.id });
        const newId = `u${run}${'0'.repeat(14 - run.length)}`;
        assert.equal(newId.length, 15);

        const batch = A.pb.createBatch();
        batch.collection('posts').upsert({ id: existing.id, title: title('batch upsert updated'), author: A.id });
        batch.collection('posts').upsert({ id: newId, title: title('batch upsert created'), author: A.id });
        const results = await batch.send();
        assert.deepEqual(results.map((r) => r.status), [200, 200]);
        assert.equal(results[0].body.id, existing.id);
        assert.equal(results[0].body.title, title('batch upsert updated'));
        assert.equal(results[1].body.id, newId);
        assert.equal((await A.pb.collection('posts').getOne(newId)).title, title('batch upsert created'));

        await A.pb.collection('posts').delete(existing.id);
        await A.pb.collection('posts').delete(newId);
    });

    it('one invalid item rejects the whole batch with 400 and writes nothing', async () => {
        const target = await A.pb.collection('posts').create({ title: title('batch target'), author: A.id, views: 7 });
        const snapshot = await titlesOfA();

        const batch = A.pb.createBatch();
        batch.collection('posts').create({ title: title('batch ghost'), author: A.id });
        batch.collection('posts').update(target.id, { 'views+': 100, title: title('batch target changed') });
        batch.collection('posts').create({ title: '', author: A.id }); // title is required
        const err = await rejectsWith(batch.send(), 400);
        assertErrorBody(err, 400);
        const failed = err.response.data.requests?.['2'];
        assert.equal(failed?.code, 'batch_request_failed', JSON.stringify(err.response));
        assert.equal(failed.response.status, 400);
        assert.equal(failed.response.data.title?.code, 'validation_required', JSON.stringify(failed));

        assert.deepEqual(await titlesOfA(), snapshot, 'nothing of the failed batch was written');
        const stored = await A.pb.collection('posts').getOne(target.id);
        assert.equal(stored.views, 7);
        assert.equal(stored.title, title('batch target'));
        const ghost = await A.pb.collection('posts').getList(1, 1, {
            filter: A.pb.filter('title = {:t}', { t: title('batch ghost') }),
        });
        assert.equal(ghost.totalItems, 0);
    });

    it("items run with the caller's rules: B cannot touch A's post inside a batch", async () => {
        const target = await A.pb.collection('posts').create({ title: title('batch guarded'), author: A.id, published: true });

        const batch = B.pb.createBatch();
        batch.collection('posts').create({ title: title('batch by B'), author: B.id });
        batch.collection('posts').delete(target.id);
        const err = await rejectsWith(batch.send(), 400);
        assert.equal(err.response.data.requests?.['1']?.response?.status, 404, JSON.stringify(err.response));

        assert.equal((await A.pb.collection('posts').getOne(target.id)).id, target.id);
        const byB = await B.pb.collection('posts').getList(1, 10, {
            filter: B.pb.filter('author = {:b}', { b: B.id }),
        });
        assert.equal(byB.totalItems, 0, "B's create was rolled back");
    });

    it('an anonymous batch cannot create posts', async () => {
        const batch = client().createBatch();
        batch.collection('posts').create({ title: title('batch anonymous'), author: A.id });
        await rejectsWith(batch.send(), 400);
    });
});

describe('batch with files (posts.attachment, max 1 MiB)', () => {
    const file = (s, name) => new File([Buffer.from(s)], name, { type: 'text/plain' });
    const download = async (record) => {
        const res = await fetch(A.pb.files.getURL(record, record.attachment));
        return [res.status, await res.text()];
    };

    it('uploads, replaces and clears files of several records in one batch', async () => {
        const batch = A.pb.createBatch();
        batch.collection('posts').create({ title: title('batch file one'), author: A.id, attachment: file('one', 'one.txt') });
        batch.collection('posts').create({ title: title('batch file two'), author: A.id, attachment: file('two', 'two.txt') });
        const [one, two] = (await batch.send()).map((r) => r.body);
        assert.match(one.attachment, /^one_[a-z0-9]{10}\.txt$/);
        assert.deepEqual(await download(one), [200, 'one']);
        assert.deepEqual(await download(two), [200, 'two']);

        const again = A.pb.createBatch();
        again.collection('posts').update(one.id, { attachment: file('uno', 'uno.txt') });
        again.collection('posts').update(two.id, { attachment: null });
        const [uno, cleared] = (await again.send()).map((r) => r.body);
        assert.deepEqual(await download(uno), [200, 'uno']);
        assert.equal(cleared.attachment, '');
        assert.equal((await download(one))[0], 404, 'the replaced file is gone');
        assert.equal((await download(two))[0], 404, 'the cleared file is gone');
    });

    it('stores nothing when an item fails', async () => {
        const batch = A.pb.createBatch();
        batch.collection('posts').create({ title: title('batch file three'), author: A.id, attachment: file('3', 'three.txt') });
        batch.collection('posts').create({ title: '', author: A.id });
        const err = await rejectsWith(batch.send(), 400);
        assert.equal(err.response.data.requests['1'].code, 'batch_request_failed');
        const big = A.pb.createBatch();
        big.collection('posts').create({ title: title('batch big'), author: A.id, attachment: file('x'.repeat((1 << 20) + 1), 'big.txt') });
        const tooBig = await rejectsWith(big.send(), 400);
        assert.equal(tooBig.response.data.requests['0'].response.data.attachment.code, 'validation_file_size_limit');
        assert.deepEqual(await titlesOfA().then((t) => t.filter((x) => x.includes('three') || x.includes('big'))), []);
        // Nor any file: the storage folder (BAAS_STORAGE) holds no upload of the failed batches.
        const stored = fs.readdirSync(process.env.BAAS_STORAGE, { recursive: true }).map(String);
        assert.deepEqual(stored.filter((f) => /(three|big)_[a-z0-9]{10}\.txt$/.test(f)), []);
    });
});
