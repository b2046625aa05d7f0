import { createHash, createHmac, pbkdf2Sync } from 'node:crypto'
import { restoreRoleName, scramVerifier } from '../../src/pg/restore-role.js'

test("the restore role's name fits PostgreSQL's 63 bytes without cutting a character", () => {
  expect(restoreRoleName('shop')).toBe('migrated_shop')
  const long = restoreRoleName('ä'.repeat(40))
  expect(Buffer.byteLength(long)).toBeLessThanOrEqual(63)
  expect(long).toBe(`migrated_${'ä'.repeat(27)}`)
})

test('the SCRAM verifier is the one the server derives: a client proving the password matches its stored key', () => {
  const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64')
  const verifier = scramVerifier('pencil', salt, 4096)
  const match = /^SCRAM-SHA-256\$4096:([^$]+)\$([^:]+):(.+)$/.exec(verifier)
  expect(match?.[1]).toBe('W22ZaJ0SNY7soEsUEjb6gQ==')
  // RFC 7677's exchange: its ServerSignature is HMAC(ServerKey, AuthMessage), so the ServerKey must be right.
  const authMessage =
    'n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0'
  const serverKey = Buffer.from(match?.[3] ?? '', 'base64')
  expect(createHmac('sha256', serverKey).update(authMessage).digest('base64')).toBe(
    '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='
  )
  // And the StoredKey is SHA-256 of the ClientKey the same password gives.
  const clientKey = createHmac('sha256', pbkdf2Sync('pencil', salt, 4096, 32, 'sha256'))
    .update('Client Key')
    .digest()
  expect(match?.[2]).toBe(createHash('sha256').update(clientKey).digest('base64'))
})
