// A real OpenID provider (the npm package oidc-provider) for govreg's single sign-on
// tests. One static confidential client, the people of a JSON file the test writes
// (and rewrites, to move someone between groups: the file is read at every claim
// request), and the package's own login and consent pages for the browser to fill in.
//
// Environment:
//   OIDC_PORT           the port to listen on (127.0.0.1)
//   OIDC_ISSUER         the issuer URL, e.g. http://localhost:PORT
//   OIDC_CLIENT_ID      the client govreg signs in as
//   OIDC_CLIENT_SECRET  its secret (sent in the token request's body)
//   OIDC_REDIRECT_URI   govreg's /oidc/callback/ URL
//   OIDC_ACCOUNTS_FILE  {"alice": {"email": "...", "name": "...", "groups": ["..."]},
//                        ...} (the login page checks no password)
// Prints "ready <issuer>" on stdout once it listens.

import { generateKeyPairSync, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";

import Provider from "oidc-provider";

const env = (name) => {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} must be set`);
    process.exit(2);
  }
  return value;
};

const port = Number(env("OIDC_PORT"));
const issuer = env("OIDC_ISSUER");
const accountsFile = env("OIDC_ACCOUNTS_FILE");

const people = () => JSON.parse(readFileSync(accountsFile, "utf8"));

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: "jwk" }), use: "sig", alg: "RS256", kid: "test" };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: env("OIDC_CLIENT_ID"),
      client_secret: env("OIDC_CLIENT_SECRET"),
      redirect_uris: [env("OIDC_REDIRECT_URI")],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_post",
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString("hex")] },
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "preferred_username"],
    groups: ["groups"],
  },
  // The package's login page takes any login: an account unknown to the file is
  // refused when its claims are asked for.
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, id) {
    const person = people()[id];
    if (!person) return undefined;
    return {
      accountId: id,
      async claims() {
        const current = people()[id] ?? {};
        return {
          sub: id,
          email: current.email,
          email_verified: true,
          name: current.name,
          preferred_username: id,
          groups: current.groups ?? [],
        };
      },
    };
  },
});
provider.proxy = false;

provider.listen(port, "127.0.0.1", () => {
  console.log(`ready ${issuer}`);
});
