/**
 * Who may use the viewer gateway. Three ways, chosen by configuration (docs/configuration.md):
 * - basic: users from a file (AINODE_VIEWER_USERS_FILE), one `name:scrypt$N$salt$hash` entry
 *   each, separated by new lines or spaces, written by `ainode viewer add-user <name>` (the
 *   password is read from stdin). The browser
 *   asks once and sends the credentials with every same-origin request, OHIF's included.
 * - token: a bearer token (AINODE_VIEWER_TOKEN), for scripts and for sites whose proxy adds it.
 * - proxy: the site's reverse proxy or SSO authenticates and only it can reach the gateway
 *   (AINODE_VIEWER_AUTH=proxy states that; the gateway then checks nothing itself).
 * Without any of them the gateway serves loopback only.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import { ConfigError } from '../errors';

export interface ViewerUser {
  name: string;
  n: number;
  salt: Buffer;
  hash: Buffer;
}

const KEY_LENGTH = 32;
const COST = 16384;

/** One users-file line for `name` and `password` (scrypt, random salt). */
export function hashUserLine(name: string, password: string): string {
  if (!/^[A-Za-z0-9._@-]{1,64}$/.test(name)) throw new ConfigError('user name', 'use 1-64 letters, digits and . _ @ -');
  if (password.length < 12) throw new ConfigError('password', 'must be at least 12 characters');
  const salt = crypto.randomBytes(16);
  const hash = crypto.scryptSync(password, salt, KEY_LENGTH, { N: COST });
  return `${name}:scrypt$${COST}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export function parseUsersFile(file: string): Map<string, ViewerUser> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(
      'AINODE_VIEWER_USERS_FILE',
      `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  const users = new Map<string, ViewerUser>();
  const entries = text.split('\n').flatMap((line) => (line.trim().startsWith('#') ? [] : line.trim().split(/\s+/)));
  entries.forEach((l, i) => {
    if (l === '') return;
    const m = /^([A-Za-z0-9._@-]{1,64}):scrypt\$([0-9]{4,7})\$([A-Za-z0-9+/=]{16,})\$([A-Za-z0-9+/=]{40,})$/.exec(l);
    const n = m ? Number(m[2]) : 0;
    if (!m || n < 1024 || n > 1 << 20 || (n & (n - 1)) !== 0)
      throw new ConfigError(
        'AINODE_VIEWER_USERS_FILE',
        `entry ${i + 1} is not "name:scrypt$N$salt$hash" (write lines with \`ainode viewer add-user <name>\`)`,
      );
    users.set(m[1], { name: m[1], n, salt: Buffer.from(m[3], 'base64'), hash: Buffer.from(m[4], 'base64') });
  });
  if (users.size === 0) throw new ConfigError('AINODE_VIEWER_USERS_FILE', `${file} holds no users`);
  return users;
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

export type ViewerAuth =
  { kind: 'none' } | { kind: 'proxy' } | { kind: 'checked'; token?: string; users?: Map<string, ViewerUser> };

/**
 * Whether an Authorization header is let in. Verified passwords are remembered (by a hash of the
 * header) for a minute, so that OHIF's hundreds of frame requests do not each cost an scrypt.
 */
export function authorizer(auth: ViewerAuth): (header: string | undefined) => string | undefined {
  if (auth.kind !== 'checked') return () => auth.kind;
  const recent = new Map<string, { user: string; until: number }>();
  const token = auth.token ? crypto.createHash('sha256').update(auth.token).digest() : undefined;
  return (header) => {
    if (!header || header.length > 4096) return undefined;
    if (
      token &&
      header.startsWith('Bearer ') &&
      sameBytes(crypto.createHash('sha256').update(header.slice(7)).digest(), token)
    )
      return 'token';
    if (!auth.users || !header.startsWith('Basic ')) return undefined;
    const key = crypto.createHash('sha256').update(header).digest('hex');
    const hit = recent.get(key);
    if (hit && hit.until > Date.now()) return hit.user;
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 1) return undefined;
    const user = auth.users.get(decoded.slice(0, colon));
    // The same work for an unknown name as for a known one.
    const probe = user ?? { name: '', n: COST, salt: Buffer.alloc(16), hash: Buffer.alloc(KEY_LENGTH) };
    const got = crypto.scryptSync(decoded.slice(colon + 1), probe.salt, probe.hash.length, { N: probe.n });
    if (!user || !sameBytes(got, user.hash)) return undefined;
    if (recent.size > 1000) recent.clear();
    recent.set(key, { user: user.name, until: Date.now() + 60_000 });
    return user.name;
  };
}
