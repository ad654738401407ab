import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { certificateHostUrl } from './authn/certificate';
import type { Config } from './config';
import { DEMO_CITIZEN, type Services } from './services';

/** Listen and resolve once listening (reject on EADDRINUSE and the like). */
export function listen(server: Server, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

export function urlOf(server: Server): string {
  const a = server.address() as AddressInfo;
  return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}

/** The start banner: where everything is, and the demo credentials in development. */
export function banner(
  config: Config,
  s: Pick<Services, 'demo' | 'devPki' | 'certificate'>,
  operator: Server,
  certificateHost: { url: string } | undefined,
  workers = 1,
): string {
  const operatorUrl = urlOf(operator);
  const lines = [
    '',
    `  Pasarela is listening on ${config.baseUrl}  (entityID ${config.entityId})${workers > 1 ? `, ${workers} worker processes` : ''}`,
    `  Metadata:  ${config.baseUrl}/metadata`,
    `  Admin API: ${operatorUrl}/admin/api  (OpenAPI: ${operatorUrl}/admin/api/openapi.json)`,
    `  Metrics:   ${operatorUrl}/metrics`,
    `  Ready:     ${operatorUrl}/readyz  (alive: ${operatorUrl}/healthz)`,
  ];
  if (certificateHost) {
    lines.push(`  Certificate host (DNIe / certificates): ${certificateHostUrl(s.certificate)}  (listening on ${certificateHost.url})`);
  }
  if (s.demo) {
    lines.push(`  Demo SP:   ${config.baseUrl}/demo`);
    if (config.demo.seedCitizen) {
      lines.push(`  Demo citizen: DNI ${DEMO_CITIZEN.dni}`);
      lines.push(`    Cl@ve Permanente password: ${DEMO_CITIZEN.password}`);
      lines.push(`    Cl@ve PIN: DNI validity date ${DEMO_CITIZEN.dniValidityDate.split('-').reverse().join('/')} (day/month/year)`);
    }
    if (s.devPki) {
      lines.push(`    DNIe / certificate: import ${path.relative(config.root, s.devPki.p12.dnie)} (high) or ${path.relative(config.root, s.devPki.p12.qualified)} (substantial) into the browser, password "${s.devPki.p12Password}"`);
    }
    if (config.notify.driver === 'outbox') lines.push(`  PINs and SMS codes (development outbox): ${config.notify.outboxPath}`);
  }
  lines.push('');
  return lines.join('\n');
}

