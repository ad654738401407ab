import { randomFillSync } from 'node:crypto';

/**
 * Random bytes for the per-request identifiers (SAML IDs, CSP nonces): from the CSPRNG, drawn
 * 4 KiB at a time and handed out once each, as Node's own randomUUID does. One randomBytes call
 * per identifier was the largest single cost of the SSO route's JavaScript after the parsers.
 * For key material (content-encryption keys, salts, secrets) call randomBytes directly.
 */
const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

export function randomIdBytes(n: number): Buffer {
  if (n > 256) throw new RangeError('randomIdBytes is for identifiers of at most 256 bytes');
  if (offset + n > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  // A copy: the pool is refilled in place, and nothing handed out may change or be handed out twice.
  const out = Buffer.from(pool.subarray(offset, offset + n));
  pool.fill(0, offset, offset + n);
  offset += n;
  return out;
}
