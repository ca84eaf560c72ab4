// OAuth2 through the PocketBase JS SDK against an OpenID Connect provider running as its own
// process (tests/support/oidc_provider.mjs; tests/accounts.rs starts it and the todo backend,
// whose `users` list it as `corp`). The test plays the user: it tells the provider who signs
// in next, then follows the redirects a browser would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { client, signup, rejectsWith, run, BAAS_URL } from '../helpers.mjs';

const OIDC = process.env.BAAS_OIDC_URL;
if (!OIDC) throw new Error('BAAS_OIDC_URL must be set (run `cargo test --test accounts`)');

/// Who signs in at the provider next.
async function loginAs(user) {
    const r = await fetch(`${OIDC}/login-as?user=${encodeURIComponent(JSON.stringify(user))}`);
    assert.equal(r.status, 200);
}

/// The browser's part of the code flow: the provider's authorization page redirects back
/// with a code at once; its `code` and `state`.
async function authorize(provider, redirect) {
    const r = await fetch(provider.authURL + encodeURIComponent(redirect), { redirect: 'manual' });
    assert.equal(r.status, 302, await r.text());
    const back = new URL(r.headers.get('location'));
    return { code: back.searchParams.get('code'), state: back.searchParams.get('state') };
}

async function corp(pb = client()) {
    const methods = await pb.collection('users').listAuthMethods();
    assert.equal(methods.oauth2.enabled, true);
    const provider = methods.oauth2.providers.find((p) => p.name === 'corp');
    assert.ok(provider, JSON.stringify(methods.oauth2));
    return provider;
}

const REDIRECT = 'http://127.0.0.1:9/callback';

test('auth-methods lists the provider with state and PKCE', async () => {
    const provider = await corp();
    assert.equal(provider.displayName, 'Corp SSO');
    assert.equal(provider.codeChallengeMethod, 'S256');
    assert.ok(provider.authURL.startsWith(`${OIDC}/authorize?`) && provider.authURL.endsWith('redirect_uri='), provider.authURL);
    const url = new URL(provider.authURL);
    assert.equal(url.searchParams.get('state'), provider.state);
    assert.equal(url.searchParams.get('code_challenge'), provider.codeChallenge);
    assert.equal(url.searchParams.get('client_id'), 'todo-app');
    const again = await corp();
    assert.notEqual(again.state, provider.state);
    assert.notEqual(again.codeVerifier, provider.codeVerifier);
});

test('the code flow creates an account, then signs the same person into it', async () => {
    const email = `olga-${run}@example.com`;
    await loginAs({ sub: `olga-${run}`, email, email_verified: true, name: 'Olga' });
    const provider = await corp();
    const { code, state } = await authorize(provider, REDIRECT);
    assert.equal(state, provider.state);
    const pb = client();
    const auth = await pb.collection('users').authWithOAuth2Code('corp', code, provider.codeVerifier, REDIRECT, { name: 'Olga O.' });
    assert.equal(auth.record.email, email);
    assert.equal(auth.record.name, 'Olga O.', 'createData');
    assert.equal(auth.record.verified, true, 'the provider vouches for the address');
    assert.equal(auth.meta.isNew, true);
    assert.equal(auth.meta.email, email);
    assert.equal(auth.meta.name, 'Olga');
    assert.equal(auth.meta.rawUser.sub, `olga-${run}`);
    assert.ok(auth.meta.accessToken);
    assert.equal(pb.authStore.isValid, true);

    // a code is spent once; a wrong verifier is refused
    await rejectsWith(client().collection('users').authWithOAuth2Code('corp', code, provider.codeVerifier, REDIRECT), 400);
    const next = await corp();
    const second = await authorize(next, REDIRECT);
    await rejectsWith(client().collection('users').authWithOAuth2Code('corp', second.code, 'x'.repeat(64), REDIRECT), 400);

    const third = await corp();
    const { code: again } = await authorize(third, REDIRECT);
    const back = await client().collection('users').authWithOAuth2Code('corp', again, third.codeVerifier, REDIRECT);
    assert.equal(back.record.id, auth.record.id);
    assert.equal(back.meta.isNew, false);
});

test('an account is linked by the address the provider vouches for, never by one it does not', async () => {
    const known = await signup('Linus');
    await loginAs({ sub: `linus-${run}`, email: known.email, email_verified: true, name: 'Linus' });
    let provider = await corp();
    let { code } = await authorize(provider, REDIRECT);
    const linked = await client().collection('users').authWithOAuth2Code('corp', code, provider.codeVerifier, REDIRECT);
    assert.equal(linked.record.id, known.id);
    assert.equal(linked.meta.isNew, false);
    assert.equal(linked.record.verified, true);

    const victim = await signup('Vic');
    await loginAs({ sub: `mallory-${run}`, email: victim.email, email_verified: false, name: 'Mallory' });
    provider = await corp();
    ({ code } = await authorize(provider, REDIRECT));
    await rejectsWith(client().collection('users').authWithOAuth2Code('corp', code, provider.codeVerifier, REDIRECT), 400);
    await rejectsWith(client().collection('users').authWithOAuth2Code('nope', code, provider.codeVerifier, REDIRECT), 400);
});

test('the one-call popup flow completes over realtime, and no other client hears the code', async () => {
    const email = `pia-${run}@example.com`;
    await loginAs({ sub: `pia-${run}`, email, email_verified: true, name: 'Pia' });
    const eavesdropper = client();
    const overheard = [];
    await eavesdropper.realtime.subscribe('@oauth2', (e) => overheard.push(e));

    const pb = client();
    const auth = await pb.collection('users').authWithOAuth2({
        provider: 'corp',
        createData: { name: 'Pia' },
        // the browser: the provider redirects to /api/oauth2-redirect, which the SDK listens for
        urlCallback: async (url) => {
            assert.ok(url.includes(encodeURIComponent(`${BAAS_URL}/api/oauth2-redirect`)), url);
            const r = await fetch(url, { redirect: 'manual' });
            const page = await fetch(r.headers.get('location'));
            assert.match(await page.text(), /You can close this window/);
        },
    });
    assert.equal(auth.record.email, email);
    assert.equal(auth.meta.isNew, true);
    assert.equal(pb.authStore.isValid, true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(overheard, []);
    eavesdropper.realtime.unsubscribe();
});
