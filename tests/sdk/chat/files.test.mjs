// Files through the PocketBase JS SDK, on the chat schema (schemas/chat.yaml): user avatars
// (a single image field with a size limit and MIME types) and message attachments (a multiple,
// protected field). Uploads, downloads and their headers, thumbnails, `download=1`, file tokens,
// replacing and removing files, and the storage left clean after deletes. The storage itself
// (a folder or an S3 bucket, in BAAS_STORAGE) is inspected directly: no file may be orphaned.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { BAAS_URL, client, rejectsWith, run, signup, superuser } from '../helpers.mjs';

const STORAGE = process.env.BAAS_STORAGE;
if (!STORAGE) throw new Error('BAAS_STORAGE must be set (run `cargo test --test sdk`)');

// A 40×20 PNG: left half red, right half blue.
const PNG = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAACgAAAAUCAIAAABwJOjsAAAAJ0lEQVR42mP4z8BANqJA63+GUYtHLR61eNTiUYtHLR61eNTikWMxAGDtHQ7V1k7XAAAAAElFTkSuQmCC',
    'base64',
);
const pngSize = (bytes) => [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
const file = (bytes, name, type = 'application/octet-stream') => new File([bytes], name, { type });
const text = (s, name) => file(Buffer.from(s), name, 'text/plain');

/// The keys stored under `prefix` (`{collectionId}/{recordId}`), relative to it, sorted.
async function stored(prefix) {
    if (STORAGE.startsWith('s3://')) {
        // s3://bucket?endpoint=http://…: the test's local S3 server answers unsigned listings.
        const [location, query] = STORAGE.slice('s3://'.length).split('?');
        const endpoint = new URLSearchParams(query).get('endpoint').replace(/\/$/, '');
        const res = await fetch(`${endpoint}/${location}?list-type=2&prefix=${encodeURIComponent(`${prefix}/`)}`);
        assert.equal(res.status, 200, await res.clone().text());
        const xml = await res.text();
        return [...xml.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1].slice(prefix.length + 1)).sort();
    }
    const dir = path.join(STORAGE, prefix);
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir, { recursive: true })
        .filter((f) => fs.statSync(path.join(dir, f)).isFile())
        .map((f) => f.split(path.sep).join('/'))
        .sort();
}
const folder = (record) => `${record.collectionId}/${record.id}`;

async function get(url, headers = {}) {
    const res = await fetch(url, { headers });
    return { res, bytes: Buffer.from(await res.arrayBuffer()) };
}

let A; // Alice: owns the room
let B; // Bob: not a member
let room;

before(async () => {
    [A, B] = await Promise.all([signup('Alice'), signup('Bob')]);
    room = await A.pb.collection('rooms').create({ name: `${run} files`, owner: A.id, members: [A.id] });
});

describe('a single image field (users.avatar)', () => {
    let me;

    it('uploads with a stored name formed from the original', async () => {
        me = await A.pb.collection('users').update(A.id, { avatar: file(PNG, 'My Photo.png', 'image/png') });
        assert.match(me.avatar, /^my_photo_[a-z0-9]{10}\.png$/);
        assert.deepEqual(await stored(folder(me)), [me.avatar]);
    });

    it('serves it with PocketBase headers', async () => {
        const url = A.pb.files.getURL(me, me.avatar);
        assert.equal(url, `${BAAS_URL}/api/files/${me.collectionId}/${me.id}/${me.avatar}`);
        const { res, bytes } = await get(url);
        assert.equal(res.status, 200);
        assert.deepEqual(bytes, PNG);
        assert.equal(res.headers.get('content-type'), 'image/png');
        assert.equal(res.headers.get('content-disposition'), `inline; filename="${me.avatar}"`);
        assert.equal(res.headers.get('cache-control'), 'max-age=2592000, stale-while-revalidate=86400');
        assert.equal(
            res.headers.get('content-security-policy'),
            "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'; sandbox",
        );
        assert.equal(res.headers.get('accept-ranges'), 'bytes');

        const part = await get(url, { Range: 'bytes=0-7' });
        assert.equal(part.res.status, 206);
        assert.deepEqual(part.bytes, PNG.subarray(0, 8));
        assert.equal(part.res.headers.get('content-range'), `bytes 0-7/${PNG.length}`);
    });

    it('forces a download with download=1', async () => {
        const { res } = await get(A.pb.files.getURL(me, me.avatar, { download: true }));
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-disposition'), `attachment; filename="${me.avatar}"`);
    });

    it('makes thumbnails and keeps them beside the file', async () => {
        // The sizes chat.yaml declares, and 100x100, which is always served.
        const sizes = [['40x40', [40, 40]], ['80x0', [80, 40]], ['0x10', [20, 10]], ['64x64f', [40, 20]], ['100x100', [100, 100]]];
        for (const [thumb, size] of sizes) {
            const { res, bytes } = await get(A.pb.files.getURL(me, me.avatar, { thumb }));
            assert.equal(res.status, 200, thumb);
            assert.equal(res.headers.get('content-type'), 'image/png');
            assert.deepEqual(pngSize(bytes), size, thumb);
            const again = await get(A.pb.files.getURL(me, me.avatar, { thumb }));
            assert.deepEqual(again.bytes, bytes, 'served from the cache');
        }
        // An undeclared or invalid size serves the original.
        for (const thumb of ['10x10', 'big']) {
            const { bytes } = await get(A.pb.files.getURL(me, me.avatar, { thumb }));
            assert.deepEqual(bytes, PNG, thumb);
        }
        const keys = await stored(folder(me));
        assert.equal(keys.length, 6);
        assert.ok(keys.includes(`thumbs_${me.avatar}/40x40_${me.avatar}`), keys.join());
    });

    it('refuses files of the wrong type or too large', async () => {
        let err = await rejectsWith(A.pb.collection('users').update(A.id, { avatar: text('hello', 'x.png') }), 400);
        assert.equal(err.response.data.avatar.code, 'validation_invalid_mime_type');
        assert.equal(err.response.data.avatar.message, '"x.png" mime type must be one of: image/png, image/jpeg, image/gif.');
        const big = Buffer.concat([PNG, Buffer.alloc(512 * 1000)]);
        err = await rejectsWith(A.pb.collection('users').update(A.id, { avatar: file(big, 'big.png', 'image/png') }), 400);
        assert.equal(err.response.data.avatar.code, 'validation_file_size_limit');
        assert.deepEqual(err.response.data.avatar.params, { file: 'big.png', maxSize: 512000 });
        assert.equal(err.response.message, 'Failed to update record.');
        assert.equal((await stored(folder(me))).length, 6, 'nothing stored');
    });

    it('replaces the file and its thumbnails', async () => {
        const old = me.avatar;
        me = await A.pb.collection('users').update(A.id, { avatar: file(PNG, 'second.png', 'image/png') });
        assert.match(me.avatar, /^second_[a-z0-9]{10}\.png$/);
        assert.deepEqual(await stored(folder(me)), [me.avatar]);
        const { res, bytes } = await get(A.pb.files.getURL(me, old));
        assert.equal(res.status, 404);
        assert.equal(JSON.parse(bytes).message, "The requested resource wasn't found.");
    });

    it('removes it with null', async () => {
        me = await A.pb.collection('users').update(A.id, { avatar: null });
        assert.equal(me.avatar, '');
        assert.deepEqual(await stored(folder(me)), []);
    });
});

describe('a multiple protected field (messages.attachments)', () => {
    let msg;
    const names = () => msg.attachments;

    it('uploads several files with the record', async () => {
        msg = await A.pb.collection('messages').create({
            room: room.id,
            author: A.id,
            text: 'see attached',
            attachments: [text('first file', 'first.txt'), text('second file', 'second.txt')],
        });
        assert.equal(names().length, 2);
        assert.match(names()[0], /^first_[a-z0-9]{10}\.txt$/);
        assert.match(names()[1], /^second_[a-z0-9]{10}\.txt$/);
        assert.deepEqual(await stored(folder(msg)), [...names()].sort());
    });

    it('serves them only with a file token of someone who may view the record', async () => {
        const url = (pb, token) => pb.files.getURL(msg, names()[0], token ? { token } : {});
        assert.equal((await get(url(A.pb))).res.status, 404, 'no token');

        const token = await A.pb.files.getToken();
        const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url'));
        assert.deepEqual(Object.keys(claims).sort(), ['collectionId', 'exp', 'id', 'type']);
        assert.equal(claims.type, 'file');
        assert.equal(claims.id, A.id);
        const { res, bytes } = await get(url(A.pb, token));
        assert.equal(res.status, 200);
        assert.equal(bytes.toString(), 'first file');
        assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
        assert.equal(res.headers.get('content-disposition'), `attachment; filename="${names()[0]}"`);
        assert.equal(res.headers.get('cache-control'), 'private, max-age=2592000, stale-while-revalidate=86400');

        assert.equal((await get(url(B.pb, await B.pb.files.getToken()))).res.status, 404, 'not a member');
        const admin = await superuser();
        assert.equal((await get(url(admin, await admin.files.getToken()))).res.status, 200, 'superuser');
        assert.equal((await get(url(A.pb, A.pb.authStore.token))).res.status, 404, 'an auth token is no file token');

        await rejectsWith(client().files.getToken(), 401);
    });

    it('appends, prepends and removes files', async () => {
        const [a, b] = names();
        msg = await A.pb.collection('messages').update(msg.id, { 'attachments+': text('third', 'third.txt') });
        assert.deepEqual(names().slice(0, 2), [a, b]);
        assert.match(names()[2], /^third_[a-z0-9]{10}\.txt$/);
        msg = await A.pb.collection('messages').update(msg.id, { '+attachments': text('zero', 'zero.txt') });
        assert.match(names()[0], /^zero_[a-z0-9]{10}\.txt$/);
        assert.equal(names().length, 4);

        msg = await A.pb.collection('messages').update(msg.id, { 'attachments-': [a, 'not-there.txt'] });
        assert.equal(names().length, 3);
        assert.ok(!names().includes(a));
        assert.deepEqual(await stored(folder(msg)), [...names()].sort(), 'the removed file is gone');

        // Names kept beside new uploads in the plain field: the others go.
        const keep = names()[1];
        msg = await A.pb.collection('messages').update(msg.id, { attachments: [keep, text('new', 'new.txt')] });
        assert.equal(names().length, 2);
        assert.equal(names()[0], keep);
        assert.match(names()[1], /^new_[a-z0-9]{10}\.txt$/);
        assert.deepEqual(await stored(folder(msg)), [...names()].sort());
    });

    it('lets rules count the files sent (@request.body.attachments:length <= 5)', async () => {
        const files = (n) => Array.from({ length: n }, (_, i) => text(`f${i}`, `file${i}.txt`));
        const five = await A.pb.collection('messages').create({ room: room.id, author: A.id, text: '5', attachments: files(5) });
        assert.equal(five.attachments.length, 5);
        await A.pb.collection('messages').delete(five.id);
        const err = await rejectsWith(A.pb.collection('messages').create({
            room: room.id, author: A.id, text: '6', attachments: files(6),
        }), 400);
        assert.deepEqual(err.response.data, {}, 'the create rule refuses');
    });

    it('stores nothing when the write fails', async () => {
        // Bob is not a member: the create rule fails after the upload was read.
        const err = await rejectsWith(B.pb.collection('messages').create({
            room: room.id, author: B.id, text: 'hi', attachments: [text('x', 'x.txt')],
        }), 400);
        assert.equal(err.response.message, 'Failed to create record.');
        // A missing required text: a field error, nothing stored either.
        await rejectsWith(A.pb.collection('messages').create({
            room: room.id, author: A.id, text: '', attachments: [text('x', 'x.txt')],
        }), 400);
        const all = await stored(msg.collectionId);
        assert.equal(all.length, names().length, all.join());
    });

    it('deletes the files with the record, cascades included', async () => {
        await A.pb.collection('messages').delete(msg.id);
        assert.deepEqual(await stored(folder(msg)), []);
        const other = await A.pb.collection('messages').create({
            room: room.id, author: A.id, text: 'another', attachments: [text('y', 'y.txt')],
        });
        assert.equal((await stored(folder(other))).length, 1);
        await A.pb.collection('rooms').delete(room.id); // messages cascade
        assert.deepEqual(await stored(folder(other)), []);
        await rejectsWith(A.pb.collection('messages').getOne(other.id), 404);
    });

    it('answers 404 for unknown files, records and collections', async () => {
        for (const p of [`${msg.collectionId}/${msg.id}/nope.txt`, 'messages/xxxxxxxxxxxxxxx/a.txt', 'nope/x/y.txt']) {
            const res = await fetch(`${BAAS_URL}/api/files/${p}`);
            assert.equal(res.status, 404, p);
            assert.deepEqual(await res.json(), { status: 404, message: "The requested resource wasn't found.", data: {} });
        }
    });
});
