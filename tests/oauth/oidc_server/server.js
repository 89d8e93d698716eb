// A real OpenID provider for the OAuth sign-in tests: the certified `oidc-provider`, on
// 127.0.0.1, with one confidential client and PKCE required for every request.
//
//   node server.js <port> <client_id> <client_secret> <redirect_uri> [<redirect_uri>...]
//
// The login and consent are completed without a browser: GET /interaction/<uid>/finish with
// `account` (the subject), `email`, `email_verified` (true/false) and `name` signs that
// account in with those claims and grants the requested scopes, then resumes the flow.
import { generateKeyPairSync } from "node:crypto";
import http from "node:http";

import Provider from "oidc-provider";

const [port, clientId, clientSecret, ...redirectUris] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

// The claims of each account, as the last /finish for it set them.
const accounts = new Map();

const signingKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: redirectUris,
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  pkce: { required: () => true },
  jwks: { keys: [{ ...signingKey, kid: "test-key", use: "sig", alg: "RS256" }] },
  cookies: { keys: ["sogoms-test-cookie-key"] },
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (_ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub, ...(accounts.get(sub) || {}) }),
  }),
});

async function finish(req, res, query) {
  const details = await provider.interactionDetails(req, res);
  const account = query.get("account") || "user-1";
  accounts.set(account, {
    email: query.get("email") || `${account}@example.com`,
    email_verified: query.get("email_verified") !== "false",
    name: query.get("name") || account,
  });
  const grant = new provider.Grant({ accountId: account, clientId: details.params.client_id });
  grant.addOIDCScope(details.params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: account }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
}

const callback = provider.callback();
http
  .createServer((req, res) => {
    const url = new URL(req.url, issuer);
    const match = url.pathname.match(/^\/interaction\/([^/]+)(\/finish)?$/);
    if (match && match[2]) {
      finish(req, res, url.searchParams).catch((error) => {
        res.writeHead(400, { "content-type": "text/plain" });
        res.end(String(error));
      });
    } else if (match) {
      // The page a browser would show; the tests call /finish instead.
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(`interaction ${match[1]}: GET ${url.pathname}/finish?account=...`);
    } else {
      callback(req, res);
    }
  })
  .listen(Number(port), "127.0.0.1", () => console.log(`oidc-provider on ${issuer}`));
