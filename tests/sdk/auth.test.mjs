// Health, sign-up and password auth through the PocketBase JS SDK.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { getTokenPayload } from 'pocketbase';
import {
    ADMIN_EMAIL, DATETIME, ID, PASSWORD, assertErrorBody, client, rejectsWith, run, superuser,
} from './helpers.mjs';

describe('health', () => {
    it('pb.health.check() answers 200', async () => {
        const health = await client().health.check();
        assert.equal(health.code, 200);
        assert.equal(typeof health.message, 'string');
        assert.deepEqual(health.data, {});
    });
});

describe('sign-up and password auth', () => {
    const users = {};

    it('signs up two users anonymously', async () => {
        const pb = client();
        for (const name of ['Alice', 'Bob']) {
            const email = `${name.toLowerCase()}-auth-${run}@example.com`;
            const record = await pb.collection('users').create({
                email,
                password: PASSWORD,
                passwordConfirm: PASSWORD,
                name,
            });
            assert.match(record.id, ID);
            assert.equal(record.collectionName, 'users');
            assert.equal(typeof record.collectionId, 'string');
            assert.equal(record.name, name);
            assert.equal(record.verified, false);
            assert.equal(record.emailVisibility, false);
            assert.match(record.created, DATETIME);
            assert.match(record.updated, DATETIME);
            // An anonymous caller may not see the email; secrets never leave the server.
            assert.equal('email' in record, false, JSON.stringify(record));
            assert.equal('password' in record, false);
            assert.equal('passwordConfirm' in record, false);
            assert.equal('tokenKey' in record, false);
            users[name] = { ...record, email };
        }
        assert.equal(pb.authStore.isValid, false, 'signing up does not sign in');
    });

    it('rejects a sign-up whose passwords do not match, with field errors', async () => {
        const err = await rejectsWith(
            client().collection('users').create({
                email: `mismatch-${run}@example.com`,
                password: PASSWORD,
                passwordConfirm: `${PASSWORD}-other`,
            }),
            400,
        );
        assertErrorBody(err, 400);
        assert.equal(err.response.data.passwordConfirm?.code, 'validation_values_mismatch', JSON.stringify(err.response));
    });

    it('rejects a second sign-up with the same email', async () => {
        const err = await rejectsWith(
            client().collection('users').create({
                email: users.Alice.email,
                password: PASSWORD,
                passwordConfirm: PASSWORD,
            }),
            400,
        );
        assert.equal(err.response.data.email?.code, 'validation_not_unique', JSON.stringify(err.response));
    });

    it('authWithPassword fills the auth store with a valid token', async () => {
        const pb = client();
        const auth = await pb.collection('users').authWithPassword(users.Alice.email, PASSWORD);
        assert.equal(typeof auth.token, 'string');
        assert.equal(auth.record.id, users.Alice.id);
        assert.equal(auth.record.email, users.Alice.email, 'the auth response always carries the email');
        assert.equal('password' in auth.record, false);
        assert.equal('tokenKey' in auth.record, false);

        assert.equal(pb.authStore.isValid, true);
        assert.equal(pb.authStore.token, auth.token);
        assert.equal(pb.authStore.record.email, users.Alice.email);
        assert.equal(pb.authStore.record.name, 'Alice');
        assert.equal(pb.authStore.isSuperuser, false);

        const payload = getTokenPayload(auth.token);
        assert.equal(payload.id, users.Alice.id);
        assert.equal(payload.collectionId, users.Alice.collectionId);
        assert.equal(payload.type, 'auth');
        assert.equal(typeof payload.exp, 'number');
        assert.ok(payload.exp > Date.now() / 1000 + 3600, `exp ${payload.exp} should be well in the future`);
    });

    it('authRefresh returns a new token for the same record', async () => {
        const pb = client();
        await pb.collection('users').authWithPassword(users.Bob.email, PASSWORD);
        const before = getTokenPayload(pb.authStore.token);
        const refreshed = await pb.collection('users').authRefresh();
        assert.equal(refreshed.record.id, users.Bob.id);
        assert.equal(refreshed.record.email, users.Bob.email);
        assert.equal(pb.authStore.token, refreshed.token);
        assert.equal(pb.authStore.isValid, true);
        assert.equal(pb.authStore.record.id, users.Bob.id);
        const after = getTokenPayload(refreshed.token);
        assert.equal(after.id, users.Bob.id);
        assert.equal(after.type, 'auth');
        assert.ok(after.exp >= before.exp);
    });

    it('authRefresh without a token rejects with 401', async () => {
        const err = await rejectsWith(client().collection('users').authRefresh(), 401);
        assertErrorBody(err, 401);
    });

    it('listAuthMethods() reports password auth', async () => {
        const methods = await client().collection('users').listAuthMethods();
        assert.equal(methods.password.enabled, true);
        assert.ok(methods.password.identityFields.includes('email'), JSON.stringify(methods));
        assert.equal(methods.oauth2.enabled, false);
    });

    it('a wrong password rejects with a 400 ClientResponseError', async () => {
        const pb = client();
        const err = await rejectsWith(pb.collection('users').authWithPassword(users.Alice.email, 'wrong-password-1'), 400);
        assertErrorBody(err, 400);
        assert.deepEqual(err.response.data, {});
        assert.equal(pb.authStore.isValid, false);
        assert.equal(pb.authStore.token, '');
    });

    it('an unknown identity rejects with 400 too', async () => {
        await rejectsWith(client().collection('users').authWithPassword(`nobody-${run}@example.com`, PASSWORD), 400);
    });

    it("updating one's own record through the SDK refreshes authStore.record", async () => {
        const pb = client();
        await pb.collection('users').authWithPassword(users.Bob.email, PASSWORD);
        const updated = await pb.collection('users').update(users.Bob.id, { name: 'Robert' });
        assert.equal(updated.name, 'Robert');
        assert.equal(pb.authStore.record.name, 'Robert');
        assert.equal(pb.authStore.record.email, users.Bob.email);
    });

    it('users only see themselves', async () => {
        const pb = client();
        await pb.collection('users').authWithPassword(users.Alice.email, PASSWORD);
        const list = await pb.collection('users').getList(1, 50);
        assert.deepEqual(list.items.map((u) => u.id), [users.Alice.id]);
        assert.equal(list.totalItems, 1);
        await rejectsWith(pb.collection('users').getOne(users.Bob.id), 404);

        const anonymous = await client().collection('users').getList(1, 50);
        assert.equal(anonymous.items.length, 0);
        assert.equal(anonymous.totalItems, 0);
    });

    it('a regular user may not touch _superusers (403)', async () => {
        const pb = client();
        await pb.collection('users').authWithPassword(users.Alice.email, PASSWORD);
        const err = await rejectsWith(pb.collection('_superusers').getList(1, 10), 403);
        assertErrorBody(err, 403);
    });

    it('a superuser signs in through _superusers and is recognised by the SDK', async () => {
        const pb = await superuser();
        assert.equal(pb.authStore.isValid, true);
        assert.equal(pb.authStore.isSuperuser, true);
        assert.equal(pb.authStore.record.email, ADMIN_EMAIL);
        assert.equal(pb.authStore.record.collectionName, '_superusers');
        const payload = getTokenPayload(pb.authStore.token);
        assert.equal(payload.collectionId, 'pbc_3142635823');
        assert.equal(payload.type, 'auth');
    });
});
