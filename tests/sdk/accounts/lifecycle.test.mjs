// The account lifecycle through the PocketBase JS SDK, with mail delivered by a real SMTP
// server (tests/accounts.rs starts it and the blog example, and says where the mails land in
// BAAS_MAILDIR): tokens are read from the delivered mails, as a user would click them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { client, signup, superuser, rejectsWith, run, PASSWORD } from '../helpers.mjs';
import { mail, mailsTo, sleep } from '../mail.mjs';

/// The token of the `action` link in a mail (text and HTML bodies carry the same one).
function token(mail, action) {
    const link = `https://blog.example/_/#/auth/${action}/`;
    const fromText = mail.text.split(link)[1]?.split(/\s/)[0];
    const fromHtml = mail.html.split(link)[1]?.split('"')[0];
    assert.ok(fromText, `no ${action} link in ${mail.text}`);
    assert.equal(fromHtml, fromText);
    return fromText;
}

test('signup, a welcome mail, then verification through the mailed link', async () => {
    const user = await signup('Vera');
    const welcome = await mail(user.email, /Welcome to the blog/);
    assert.match(welcome.text, /Hello Vera,/);
    assert.equal(user.pb.authStore.record.verified, false);

    assert.equal(await client().collection('users').requestVerification(user.email), true);
    const sent = await mail(user.email, /Verify your/);
    const verification = token(sent, 'confirm-verification');
    // the token is PocketBase's: typed, for this record and address
    const claims = JSON.parse(Buffer.from(verification.split('.')[1], 'base64url'));
    assert.equal(claims.type, 'verification');
    assert.equal(claims.id, user.id);
    assert.equal(claims.email, user.email);

    // a second request right away is answered alike but sends nothing (resend throttle)
    assert.equal(await client().collection('users').requestVerification(user.email), true);

    assert.equal(await user.pb.collection('users').confirmVerification(verification), true);
    await user.pb.collection('users').authRefresh();
    assert.equal(user.pb.authStore.record.verified, true);
    assert.equal(mailsTo(user.email).filter((m) => /Verify your/.test(m.subject)).length, 1);

    // verified: asking again sends nothing; the spent token still checks but changes nothing
    assert.equal(await client().collection('users').requestVerification(user.email), true);
    assert.equal(await client().collection('users').confirmVerification(verification), true);

    const bad = await rejectsWith(client().collection('users').confirmVerification('not-a-token'), 400);
    assert.equal(bad.response.data.token.code, 'validation_invalid_token_claims');
});

test('an unknown address is answered like a known one, and gets no mail', async () => {
    const nobody = `nobody-${run}@example.com`;
    assert.equal(await client().collection('users').requestVerification(nobody), true);
    assert.equal(await client().collection('users').requestPasswordReset(nobody), true);
    const invalid = await rejectsWith(client().collection('users').requestPasswordReset('not-an-email'), 400);
    assert.equal(invalid.response.data.email.code, 'validation_is_email');
    await sleep(500);
    assert.deepEqual(mailsTo(nobody), []);
});

test('password reset: the mailed token sets a new password and ends every older token', async () => {
    const user = await signup('Rita');
    const oldToken = user.pb.authStore.token;
    assert.equal(await client().collection('users').requestPasswordReset(user.email), true);
    const reset = token(await mail(user.email, /Reset your/), 'confirm-password-reset');

    const short = await rejectsWith(client().collection('users').confirmPasswordReset(reset, 'short', 'short'), 400);
    assert.equal(short.response.data.password.code, 'validation_min_text_constraint');
    const mismatch = await rejectsWith(
        client().collection('users').confirmPasswordReset(reset, 'new-password-1', 'new-password-2'), 400);
    assert.equal(mismatch.response.data.passwordConfirm.code, 'validation_values_mismatch');

    assert.equal(await client().collection('users').confirmPasswordReset(reset, 'new-password-1', 'new-password-1'), true);
    const pb = client();
    await pb.collection('users').authWithPassword(user.email, 'new-password-1');
    assert.equal(pb.authStore.record.verified, true, 'the mail reached the address: it counts as verified');
    await rejectsWith(client().collection('users').authWithPassword(user.email, PASSWORD), 400);
    // the session from before the reset is over, and the reset token is spent
    await rejectsWith(user.pb.collection('users').authRefresh(), 401);
    assert.equal(user.pb.authStore.token, oldToken);
    const spent = await rejectsWith(
        client().collection('users').confirmPasswordReset(reset, 'new-password-3', 'new-password-3'), 400);
    assert.equal(spent.response.data.token.code, 'validation_invalid_token');
});

test('email change: a mail to the new address, confirmed with the password', async () => {
    const user = await signup('Emil');
    const moved = `emil-moved-${run}@example.com`;
    await rejectsWith(client().collection('users').requestEmailChange(moved), 401);
    const other = await signup('Other');
    const taken = await rejectsWith(user.pb.collection('users').requestEmailChange(other.email), 400);
    assert.equal(taken.response.data.newEmail.code, 'validation_record_email_exists');

    assert.equal(await user.pb.collection('users').requestEmailChange(moved), true);
    const change = token(await mail(moved, /Confirm your new/), 'confirm-email-change');
    const claims = JSON.parse(Buffer.from(change.split('.')[1], 'base64url'));
    assert.deepEqual([claims.type, claims.email, claims.newEmail], ['emailChange', user.email, moved]);

    const wrong = await rejectsWith(client().collection('users').confirmEmailChange(change, 'wrong-password'), 400);
    assert.equal(wrong.response.data.password.code, 'validation_invalid_password');
    assert.equal(await client().collection('users').confirmEmailChange(change, PASSWORD), true);

    const pb = client();
    await pb.collection('users').authWithPassword(moved, PASSWORD);
    assert.equal(pb.authStore.record.email, moved);
    assert.equal(pb.authStore.record.verified, true);
    await rejectsWith(client().collection('users').authWithPassword(user.email, PASSWORD), 400);
    await rejectsWith(user.pb.collection('users').authRefresh(), 401);
});

test('impersonation: a superuser gets a token for a user, which cannot be refreshed', async () => {
    const user = await signup('Imke');
    await rejectsWith(client().collection('users').impersonate(user.id, 60), 401);
    await rejectsWith(user.pb.collection('users').impersonate(user.id, 60), 403);
    const admin = await superuser();
    await rejectsWith(admin.collection('users').impersonate('nope00000000000', 60), 404);

    const imp = await admin.collection('users').impersonate(user.id, 60);
    assert.equal(imp.authStore.record.id, user.id);
    assert.equal(imp.authStore.record.email, user.email, 'the record as it sees itself');
    const claims = JSON.parse(Buffer.from(imp.authStore.token.split('.')[1], 'base64url'));
    assert.equal(claims.refreshable, false);
    assert.ok(claims.exp - Math.floor(Date.now() / 1000) <= 61, JSON.stringify(claims));
    // acts as the user: the users rules let it read itself only
    assert.equal((await imp.collection('users').getOne(user.id)).id, user.id);
    assert.equal((await imp.collection('users').getList(1, 50)).totalItems, 1);
    await rejectsWith(imp.collection('users').authRefresh(), 403);
});
