// A real OpenID Provider (the npm package `oidc-provider`, as in mtp-auth/tests/oidc/provider.mjs)
// for the mtpctl login tests: a public client `mtpctl` with the device flow, authorization code +
// PKCE on a loopback redirect and refresh tokens.
// Usage: node idp.mjs <state-dir> <port|0>
//   MTP_OIDC_PROVIDER_DIR  where `npm install oidc-provider` was run (default ~/.cache/mtp-oidc-provider)
//   TOKEN_TTL              access/ID token lifetime in seconds (default 300)
//   LOGIN_USER             the account every interaction logs in (default alice@example.com)
//   LOGIN_GROUPS           its groups, comma-separated (default dev)
//   DEVICE_INTERVAL        the polling interval announced by the device endpoint (default 1)
//   SLOW_DOWN_FIRST=1      answer the first poll of each device code with slow_down
// The interaction (login + consent) is automatic: a "browser" that follows the redirects with
// its cookies logs in as LOGIN_USER. GET /test/polls lists the device polls (ms timestamps) and
// how many came faster than the interval asked for.
// Prints "READY <issuer>" once listening.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseQuery } from 'node:querystring';

const [stateDir, portArg] = process.argv.slice(2);
if (!stateDir) {
  console.error('usage: node idp.mjs <state-dir> <port|0>');
  process.exit(2);
}
const pkgDir = process.env.MTP_OIDC_PROVIDER_DIR || join(homedir(), '.cache', 'mtp-oidc-provider');
const entry = join(pkgDir, 'node_modules', 'oidc-provider', 'lib', 'index.js');
if (!existsSync(entry)) {
  console.error(`oidc-provider is not installed at ${pkgDir}: run .ci/install-deps`);
  process.exit(3);
}
const { default: Provider } = await import(pathToFileURL(entry).href);

const keysFile = join(stateDir, 'keys.json');
let keys = existsSync(keysFile) ? JSON.parse(readFileSync(keysFile, 'utf8')) : [];
if (keys.length === 0) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  jwk.kid = `k${Date.now()}`;
  jwk.alg = 'RS256';
  jwk.use = 'sig';
  keys = [jwk];
  writeFileSync(keysFile, JSON.stringify(keys));
}

const ttl = Number(process.env.TOKEN_TTL || 300);
const loginUser = process.env.LOGIN_USER || 'alice@example.com';
const loginGroups = (process.env.LOGIN_GROUPS || 'dev').split(',').filter(Boolean);
const interval = Number(process.env.DEVICE_INTERVAL || 1);
const slowDownFirst = process.env.SLOW_DOWN_FIRST === '1';
const resource = 'https://api.mtp.test';
const server = createServer();
await new Promise((resolve) => server.listen(Number(portArg || 0), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const claimsOf = (sub) => ({ sub, email: sub, groups: loginGroups });
const provider = new Provider(issuer, {
  clients: [{
    client_id: 'mtpctl',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback'],
    scope: 'openid offline_access email groups api:read api:write',
  }],
  scopes: ['openid', 'offline_access', 'email', 'groups', 'api:read', 'api:write'],
  claims: { openid: ['sub'], email: ['email'], groups: ['groups'] },
  conformIdTokenClaims: false,
  jwks: { keys },
  pkce: { required: () => true },
  ttl: {
    AccessToken: ttl, IdToken: ttl, RefreshToken: 86400, DeviceCode: 600, Interaction: 600,
    Session: 3600, Grant: 86400, AuthorizationCode: 60,
  },
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => claimsOf(sub) }),
  extraTokenClaims: async (ctx, token) => ({ email: token.accountId, groups: loginGroups }),
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    deviceFlow: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== resource) throw new Error(`unknown resource ${indicator}`);
        return {
          scope: 'api:read api:write',
          audience: resource,
          accessTokenTTL: ttl,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));

// Device polling: the announced interval, an optional slow_down, and a record of every poll.
const polls = [];
let tooFast = 0;
const lastPoll = new Map();
const intervalOf = new Map();
provider.use(async (ctx, next) => {
  if (ctx.method === 'POST' && ctx.path === '/token') {
    const chunks = [];
    for await (const c of ctx.req) chunks.push(c);
    const raw = Buffer.concat(chunks).toString();
    const body = parseQuery(raw);
    ctx.req.body = body;
    if (body.grant_type === 'urn:ietf:params:oauth:grant-type:device_code') {
      const code = String(body.device_code);
      const now = Date.now();
      polls.push(now);
      const wanted = intervalOf.get(code) ?? interval;
      const last = lastPoll.get(code);
      lastPoll.set(code, now);
      if (last !== undefined && now - last < wanted * 1000 - 150) tooFast += 1;
      if (slowDownFirst && last === undefined) {
        intervalOf.set(code, wanted + 5);
        ctx.status = 400;
        ctx.body = { error: 'slow_down', error_description: 'poll less often' };
        return;
      }
    }
  }
  await next();
  if (ctx.path === '/device/auth' && ctx.body && ctx.body.device_code) {
    ctx.body.interval = interval;
  }
});

async function finishInteraction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  const accountId = session?.accountId || loginUser;
  let grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  if (prompt.details.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } },
    { mergeWithLastSubmission: false });
}

const callback = provider.callback();
server.on('request', (req, res) => {
  if (req.method === 'GET' && req.url.startsWith('/interaction/')) {
    finishInteraction(req, res).catch((err) => {
      console.error('interaction failed', err);
      res.statusCode = 500;
      res.end(String(err));
    });
    return;
  }
  if (req.method === 'GET' && req.url === '/test/polls') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ polls, tooFast }));
    return;
  }
  callback(req, res);
});
console.log(`READY ${issuer}`);
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
