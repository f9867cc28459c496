// A real OpenID provider for the single sign-on tests, on loopback: panva's oidc-provider with its
// development login pages (any password; the login names an account below). Usage:
//   node provider.mjs PORT REDIRECT_URI [AUTHORIZATION_CODE_TTL_SECONDS]
import Provider from 'oidc-provider';

const [port, redirectUri, codeTtl] = process.argv.slice(2);
const accounts = {
  camille: { sub: 'camille', email: 'camille.martin@atelier.fr', email_verified: true, name: 'Camille Martin' },
  inconnu: { sub: 'inconnu', email: 'personne@ailleurs.fr', email_verified: true, name: 'Personne Inconnue' },
  nouvelle: { sub: 'nouvelle', email: 'nouvelle@atelier.fr', email_verified: true, name: 'Nouvelle Venue' },
};

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: 'parcours', client_secret: 'secret-de-test-parcours', redirect_uris: [redirectUri],
    response_types: ['code'], grant_types: ['authorization_code'],
  }],
  pkce: { required: () => true },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  conformIdTokenClaims: false,
  findAccount: async (ctx, id) => ({ accountId: id, claims: async () => accounts[id] || { sub: id } }),
  features: { devInteractions: { enabled: true } },
  ttl: { AuthorizationCode: Number(codeTtl || 60) },
  cookies: { keys: ['parcours-test'] },
});
provider.listen(Number(port), '127.0.0.1', () => console.log('ready'));
