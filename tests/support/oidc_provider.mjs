// An OpenID Connect provider for the OAuth2 tests, run as its own process: discovery, an
// authorization endpoint that signs in whoever `/login-as` named last (no form: the test plays
// the user), a token endpoint checking the client secret, the redirect URI and PKCE (S256),
// id_tokens signed RS256 with a key published as JWKS, and userinfo.
//
//     node tests/support/oidc_provider.mjs PORT CLIENT_ID CLIENT_SECRET
//
// Prints "ready" once listening.
import { createServer } from 'node:http';
import { createHash, createSign, generateKeyPairSync, randomBytes } from 'node:crypto';

const [port, clientId, clientSecret] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'test-key', alg: 'RS256', use: 'sig' };

let current = null; // the user who signs in next: { sub, email, email_verified, name, picture }
const codes = new Map(); // code -> { user, redirectUri, challenge }
const tokens = new Map(); // access token -> user

const b64url = (data) => Buffer.from(data).toString('base64url');

function idToken(user) {
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: jwk.kid }));
    const payload = b64url(JSON.stringify({ iss: issuer, aud: clientId, iat: now, exp: now + 600, ...user }));
    const signer = createSign('RSA-SHA256');
    signer.update(`${header}.${payload}`);
    return `${header}.${payload}.${signer.sign(privateKey).toString('base64url')}`;
}

function json(res, status, body) {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
}

function form(req) {
    return new Promise((resolve) => {
        let body = '';
        req.on('data', (chunk) => (body += chunk));
        req.on('end', () => resolve(new URLSearchParams(body)));
    });
}

createServer(async (req, res) => {
    const url = new URL(req.url, issuer);
    switch (url.pathname) {
        case '/.well-known/openid-configuration':
            return json(res, 200, {
                issuer,
                authorization_endpoint: `${issuer}/authorize`,
                token_endpoint: `${issuer}/token`,
                userinfo_endpoint: `${issuer}/userinfo`,
                jwks_uri: `${issuer}/jwks`,
                response_types_supported: ['code'],
                subject_types_supported: ['public'],
                id_token_signing_alg_values_supported: ['RS256'],
            });
        case '/jwks':
            return json(res, 200, { keys: [jwk] });
        case '/login-as': // the test says who signs in next
            current = JSON.parse(url.searchParams.get('user'));
            return json(res, 200, { ok: true });
        case '/authorize': {
            const q = url.searchParams;
            if (q.get('client_id') !== clientId || q.get('response_type') !== 'code' || !current) {
                return json(res, 400, { error: 'invalid_request' });
            }
            const code = randomBytes(16).toString('hex');
            codes.set(code, { user: current, redirectUri: q.get('redirect_uri'), challenge: q.get('code_challenge') });
            const back = new URL(q.get('redirect_uri'));
            back.searchParams.set('code', code);
            back.searchParams.set('state', q.get('state') ?? '');
            res.writeHead(302, { Location: back.toString() });
            return res.end();
        }
        case '/token': {
            const f = await form(req);
            const grant = codes.get(f.get('code'));
            codes.delete(f.get('code'));
            const verifier = f.get('code_verifier') ?? '';
            const pkce = grant && createHash('sha256').update(verifier).digest('base64url') === grant.challenge;
            const authorized = f.get('client_id') === clientId && f.get('client_secret') === clientSecret;
            if (!grant || !pkce || !authorized || f.get('redirect_uri') !== grant.redirectUri) {
                return json(res, 400, { error: 'invalid_grant', pkce, authorized });
            }
            const access = randomBytes(16).toString('hex');
            tokens.set(access, grant.user);
            return json(res, 200, {
                access_token: access,
                token_type: 'Bearer',
                expires_in: 3600,
                refresh_token: `refresh-${access}`,
                id_token: idToken(grant.user),
            });
        }
        case '/userinfo': {
            const user = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
            return user ? json(res, 200, user) : json(res, 401, { error: 'invalid_token' });
        }
        default:
            return json(res, 404, { error: 'not_found' });
    }
}).listen(Number(port), '127.0.0.1', () => console.log('ready'));
