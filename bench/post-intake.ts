/**
 * CPU time of one signed HTTP-POST AuthnRequest intake (`receiveAuthnRequest`), the verifier on
 * the one parsed DOM against the previous intake that handed the XML to xml-crypto's SignedXml.
 * Both run in this process, interleaved, on the same ~4 KB Cl@ve-style request.
 *
 *   npm run bench:intake [-- iterations]      (default 2000 per implementation)
 *
 * The previous intake is the last src/saml/request.ts in git history, copied to a temp dir with
 * its imports pointed back at this checkout; without git history only the current one is timed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CLAVE, DIGEST_ALG, EIDAS_ATTR, LOA, NAMEID_FORMAT, SIG_ALG } from '../src/saml/constants';
import { receiveAuthnRequest, type InboundAuthnRequestMessage, type ReceiveAuthnRequestOptions, type ReceiveAuthnRequestResult } from '../src/saml/request';
import { CLAVE_ATTRS, makeServiceProvider, postAcs, postRequest, rsaSigner, trustOf } from '../test/support/sp-requests';

type Intake = (msg: InboundAuthnRequestMessage, opts: ReceiveAuthnRequestOptions) => Promise<ReceiveAuthnRequestResult>;

const ROOT = path.resolve(__dirname, '..');
const SP_ID = 'https://sp.example/metadata';
const SSO = 'https://pasarela.example/saml/sso';
const NOW = new Date('2025-06-01T10:00:00.000Z');

async function previousIntake(dir: string): Promise<Intake | undefined> {
  let source: string;
  try {
    const git = (...args: string[]) => execFileSync('git', ['-C', ROOT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const removedIn = git('log', '-1', '--format=%H', '--diff-filter=D', '--', 'src/saml/request.ts');
    if (!removedIn) return undefined;
    source = git('show', `${removedIn}^:src/saml/request.ts`);
  } catch {
    return undefined;
  }
  const rewritten = source
    .replace(/from '\.\.\/([^']+)'/g, (_m, p: string) => `from '${path.join(ROOT, 'src', p)}'`)
    .replace(/from '\.\/([^']+)'/g, (_m, p: string) => `from '${path.join(ROOT, 'src', 'saml', p)}'`)
    .replace(/from 'xml-crypto'/g, `from '${require.resolve('xml-crypto')}'`);
  const file = path.join(dir, 'request-previous.ts');
  writeFileSync(file, rewritten);
  const mod = (await import(file)) as { receiveAuthnRequest: Intake };
  return mod.receiveAuthnRequest;
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function timed(intake: Intake, msg: InboundAuthnRequestMessage, opts: ReceiveAuthnRequestOptions, n: number): Promise<number> {
  const start = cpuMicros();
  for (let i = 0; i < n; i++) {
    const r = await intake(msg, opts);
    if (!r.ok) throw new Error(`refused: ${r.failure.code} ${r.failure.message}`);
  }
  return cpuMicros() - start;
}

async function main(): Promise<void> {
  const iterations = Number(process.argv[2] ?? 2000);
  const signer = rsaSigner('bench sp');
  const sp = makeServiceProvider({ entityId: SP_ID, signers: [signer], acs: [postAcs('https://sp.example/acs', 0, true)] });
  const form = postRequest({
    signer,
    sigAlg: SIG_ALG.rsaSha512,
    digestAlg: DIGEST_ALG.sha512,
    issuer: SP_ID,
    destination: SSO,
    issueInstant: NOW,
    prefix: 'saml2p',
    acsUrl: 'https://sp.example/acs',
    providerName: 's0000000x_e00000000;MiApp',
    forceAuthn: true,
    spType: 'public',
    nameIdFormat: NAMEID_FORMAT.unspecified,
    loa: LOA.low,
    requestedAttributes: [
      { name: EIDAS_ATTR.personIdentifier, friendlyName: 'PersonIdentifier', isRequired: true },
      { name: EIDAS_ATTR.currentFamilyName, friendlyName: 'FamilyName', isRequired: true },
      { name: CLAVE.firstSurname, friendlyName: 'FirstSurname', isRequired: false },
      { ...CLAVE_ATTRS.excludePermanente },
      CLAVE_ATTRS.relayState('Xy7Ab9Qz'),
    ],
    relayState: 'bench',
  });
  const bytes = Buffer.from(form.SAMLRequest, 'base64').length;
  const msg: InboundAuthnRequestMessage = { binding: 'post', form };
  // Every call is a first sighting, so the one request can be replayed through the intake.
  const opts: ReceiveAuthnRequestOptions = {
    trust: trustOf(sp),
    replay: async () => true,
    now: NOW,
    clockSkewSeconds: 60,
    maxRequestAgeSeconds: 300,
    ssoUrls: { redirect: SSO, post: SSO },
  };

  const dir = mkdtempSync(path.join(tmpdir(), 'pasarela-bench-intake-'));
  try {
    const before = await previousIntake(dir);
    const impls: Array<[string, Intake]> = [['one DOM (now)', receiveAuthnRequest]];
    if (before) impls.unshift(['xml-crypto SignedXml (before)', before]);
    else console.log('git history without src/saml/request.ts: timing the current intake only');

    // Warm up, then interleave rounds so that both see the same machine load.
    for (const [, f] of impls) await timed(f, msg, opts, 200);
    const rounds = 8;
    const per = Math.ceil(iterations / rounds);
    const total = new Map<string, number>(impls.map(([name]) => [name, 0]));
    for (let r = 0; r < rounds; r++) {
      for (const [name, f] of r % 2 === 0 ? impls : [...impls].reverse()) total.set(name, total.get(name)! + (await timed(f, msg, opts, per)));
    }
    const n = per * rounds;
    console.log(`signed HTTP-POST AuthnRequest, ${bytes} bytes of XML (RSA-2048, RSA-SHA512, SHA-512), ${n} intakes each, CPU time from process.cpuUsage():`);
    for (const [name] of impls) console.log(`  ${name.padEnd(32)} ${(total.get(name)! / n).toFixed(1).padStart(8)} µs per intake`);
    if (before) {
      const ratio = total.get(impls[0]![0])! / total.get(impls[1]![0])!;
      console.log(`  ratio before / now: ${ratio.toFixed(2)}x`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
