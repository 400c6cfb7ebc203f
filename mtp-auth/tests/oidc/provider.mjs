// A real OpenID Provider (the certified npm package `oidc-provider`) for the mtp-auth tests.
// Usage: node provider.mjs <state-dir> <port|0>
//   MTP_OIDC_PROVIDER_DIR  where `npm install oidc-provider` was run (default ~/.cache/mtp-oidc-provider)
//   ROTATE=1               put a new signing key first in the JWKS (old keys stay, for rotation tests)
//   TOKEN_TTL              access token lifetime in seconds (default 300)
// Prints "READY <issuer>" once listening. Client: mtp-broker / broker-secret (client credentials),
// resource https://api.mtp.test with scopes api:read api:write, JWT access tokens (RFC 9068).
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [stateDir, portArg] = process.argv.slice(2);
if (!stateDir) {
  console.error('usage: node provider.mjs <state-dir> <port|0>');
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
if (keys.length === 0 || process.env.ROTATE === '1') {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  jwk.kid = `k${Date.now()}`;
  jwk.alg = 'RS256';
  jwk.use = 'sig';
  keys = [jwk, ...keys];
  writeFileSync(keysFile, JSON.stringify(keys));
}

const ttl = Number(process.env.TOKEN_TTL || 300);
const resource = 'https://api.mtp.test';
const server = createServer();
await new Promise((resolve) => server.listen(Number(portArg || 0), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'mtp-broker',
    client_secret: 'broker-secret',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    scope: 'api:read api:write',
  }],
  scopes: ['openid', 'api:read', 'api:write'],
  jwks: { keys },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
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
server.on('request', provider.callback());
console.log(`READY ${issuer}`);
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
