// One-time passwords and MFA through the PocketBase JS SDK, against the todo backend
// (schemas/todo.yaml: `users` sign in with a mailed code; `operators` need two methods),
// with the codes read from the mails a real SMTP server received (tests/accounts.rs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { client, superuser, rejectsWith, run, PASSWORD } from '../helpers.mjs';
import { mail, mailsTo, sleep } from '../mail.mjs';

/// The code in a sign-in mail (text and HTML bodies carry the same one).
function code(sent) {
    const fromText = sent.text.match(/: (\d+)\s/)?.[1];
    assert.ok(fromText, `no code in ${sent.text}`);
    assert.ok(sent.html.includes(`<strong>${fromText}</strong>`), sent.html);
    return fromText;
}

async function signupUser(name) {
    const email = `${name}-${run}@example.com`;
    await client().collection('users').create({ email, password: PASSWORD, passwordConfirm: PASSWORD, name });
    return email;
}

test('auth-methods reports OTP and MFA as the schema sets them', async () => {
    const users = await client().collection('users').listAuthMethods();
    assert.deepEqual(users.otp, { enabled: true, duration: 300 });
    assert.equal(users.mfa.enabled, false);
    const operators = await client().collection('operators').listAuthMethods();
    assert.deepEqual(operators.mfa, { enabled: true, duration: 1800 });
    assert.deepEqual(operators.password.identityFields, ['email', 'username']);
    assert.deepEqual(users.password.identityFields, ['email']);
    assert.equal(operators.otp.enabled, true);
});

test('a mailed code signs a user in once, and verifies the address', async () => {
    const email = await signupUser('otto');
    const { otpId } = await client().collection('users').requestOTP(email);
    assert.match(otpId, /^[a-z0-9]{15}$/);
    // the users' own template (schemas/mail/otp.*, placeholders filled)
    const sent = await mail(email, /is your todo-backend code/);
    const otp = code(sent);
    assert.equal(otp.length, 6);
    assert.equal(sent.subject, `${otp} is your todo-backend code`);
    assert.match(sent.text, /^Hello otto,/);
    assert.match(sent.html, /<p>Hello otto,<\/p>/);

    const wrong = otp === '000000' ? '111111' : '000000';
    await rejectsWith(client().collection('users').authWithOTP(otpId, wrong), 400);
    const pb = client();
    const auth = await pb.collection('users').authWithOTP(otpId, otp);
    assert.equal(auth.record.email, email);
    assert.equal(auth.record.verified, true, 'the code reached the address');
    assert.equal(pb.authStore.isValid, true);
    // users' sessions last a day (auth.tokens.auth)
    const claims = JSON.parse(Buffer.from(pb.authStore.token.split('.')[1], 'base64url'));
    const left = claims.exp - Math.floor(Date.now() / 1000);
    assert.ok(left > 86_000 && left <= 86_400, `${left}`);
    // spent
    await rejectsWith(client().collection('users').authWithOTP(otpId, otp), 400);
});

test('a code dies after five wrong tries, and unknown addresses look alike', async () => {
    const email = await signupUser('tries');
    const { otpId } = await client().collection('users').requestOTP(email);
    const otp = code(await mail(email, /is your todo-backend code/));
    const wrong = otp === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) {
        await rejectsWith(client().collection('users').authWithOTP(otpId, wrong), 400);
    }
    await rejectsWith(client().collection('users').authWithOTP(otpId, otp), 400);

    const nobody = `nobody-${run}@example.com`;
    const unknown = await client().collection('users').requestOTP(nobody);
    assert.match(unknown.otpId, /^[a-z0-9]{15}$/);
    await rejectsWith(client().collection('users').authWithOTP(unknown.otpId, '123456'), 400);
    await sleep(300);
    assert.deepEqual(mailsTo(nobody), []);
    const disabled = await rejectsWith(client().collection('todos').requestOTP(email), 404);
    assert.ok(disabled);
});

test('MFA: a password alone answers 401 with an mfaId; a mailed code completes it', async () => {
    const admin = await superuser();
    const email = `op-${run}@example.com`;
    const username = `op_${run}`;
    await admin.collection('operators').create({ email, username, password: PASSWORD, passwordConfirm: PASSWORD });

    // either identity field names the account (the first step of MFA answers 401 with an mfaId)
    const byName = await rejectsWith(client().collection('operators').authWithPassword(username, PASSWORD), 401);
    assert.match(byName.response.mfaId, /^[a-z0-9]{15}$/);
    await rejectsWith(client().collection('operators').authWithPassword(`nobody_${run}`, PASSWORD), 400);
    await rejectsWith(client().collection('operators').authWithPassword(username, PASSWORD, { body: { identity: username, password: PASSWORD, identityField: 'name' } }), 400);
    const first = await rejectsWith(client().collection('operators').authWithPassword(email, PASSWORD), 401);
    const mfaId = first.response.mfaId;
    assert.match(mfaId, /^[a-z0-9]{15}$/, JSON.stringify(first.response));

    // the same method again does not complete it
    await rejectsWith(client().collection('operators').authWithPassword(email, PASSWORD, { mfaId }), 400);

    const { otpId } = await client().collection('operators').requestOTP(email);
    const otp = code(await mail(email, /sign-in code/));
    const pb = client();
    const auth = await pb.collection('operators').authWithOTP(otpId, otp, { mfaId });
    assert.equal(auth.record.email, email);
    assert.equal(pb.authStore.isValid, true);
    await pb.collection('operators').authRefresh();

    // the session is spent: another code with the same mfaId starts nothing
    const again = await client().collection('operators').requestOTP(email);
    const second = code(await mail(email, /sign-in code/, 2));
    await rejectsWith(client().collection('operators').authWithOTP(again.otpId, second, { mfaId }), 400);
});
