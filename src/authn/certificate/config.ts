import { isIP } from 'node:net';
import { z } from 'zod';

const httpUrl = z.url({ protocol: /^https?$/ });

/**
 * Certificate / DNIe method settings (the certificate host, trust anchors, revocation).
 * Owned by authn/certificate/. Every field has a default.
 */
export const certificateSettingsSchema = z
  .object({
    /** Where the certificate host (the separate HTTPS listener that asks for the client certificate) listens. */
    host: z.string().min(1).default('127.0.0.1'),
    port: z.coerce.number().int().min(0).max(65535).default(8443),
    /** Public base URL of the certificate host as browsers reach it (default https://localhost:<port>). */
    publicUrl: httpUrl.optional(),
    tls: z
      .object({
        /** The certificate host's own TLS key and certificate (relative paths resolve against keys.dir). */
        keyPath: z.string().min(1).default('certificate-host.key'),
        certPath: z.string().min(1).default('certificate-host.crt'),
        /** Development: create a self-signed pair when the files are missing (refused in production). */
        generateIfMissing: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    /** Development: create a DNIe-like and a qualified test CA with a demo citizen certificate (.p12) under keys.dir/dev-pki, trusted as anchors (refused in production). */
    devPki: z.boolean().default(true),
    /** Trust anchors: DNIe roots (kind "dnie" -> certificate.dnie) and other qualified CAs ("qualified"). PEM or DER files; a PEM file may hold several. */
    anchors: z.array(z.object({ path: z.string().min(1), kind: z.enum(['dnie', 'qualified']) }).strict()).default([]),
    /** Intermediate CA certificates to complete chains that browsers send without them. */
    intermediates: z.array(z.string().min(1)).default([]),
    /** Most intermediate CAs between a citizen certificate and its anchor. */
    maxIntermediates: z.number().int().min(0).max(10).default(4),
    /**
     * Name the anchors and intermediates in the TLS CertificateRequest so browsers offer only
     * certificates under them. Off by default, like Cl@ve (an empty list): a browser that cannot
     * link a card's certificate to a listed name would not offer it at all.
     */
    advertiseAnchors: z.boolean().default(false),
    /** Life of the one-time result handed from the certificate host to the main host. */
    handleTtlSeconds: z.number().int().min(10).max(600).default(120),
    /** Tolerance for OCSP/CRL thisUpdate/nextUpdate. */
    clockSkewSeconds: z.number().int().min(0).max(600).default(120),
    crl: z
      .object({
        enabled: z.boolean().default(true),
        /** CRLs to use besides each certificate's distribution points (matched to the issuer by name and signature). */
        urls: z.array(httpUrl).default([]),
        refreshSeconds: z.number().int().min(60).max(7 * 86400).default(3600),
        timeoutMs: z.number().int().min(100).max(60_000).default(5000),
        maxBytes: z.number().int().min(1024).max(256 * 1024 * 1024).default(32 * 1024 * 1024),
        /** Accept the certificate when no CRL can be obtained (off: fail closed). */
        failOpen: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    ocsp: z
      .object({
        enabled: z.boolean().default(true),
        /** Ask this responder instead of the one in each certificate's authorityInfoAccess. */
        responderUrl: httpUrl.optional(),
        timeoutMs: z.number().int().min(100).max(60_000).default(5000),
        /** Accept the certificate when the responder is unreachable or answers "unknown" and no CRL settles it (off: fail closed). */
        failOpen: z.boolean().default(false),
        /** Refuse answers that do not echo our nonce (turn off only for responders that serve pre-signed answers). */
        requireNonce: z.boolean().default(true),
        /** Oldest acceptable answer when it carries no nextUpdate. */
        maxAgeSeconds: z.number().int().min(60).max(7 * 86400).default(3600),
      })
      .strict()
      .prefault({}),
    /**
     * A TLS-terminating reverse proxy in front of the certificate host (nginx:
     * `proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;`). The header is read only
     * on connections from `addresses`; from anywhere else a request carrying it is refused.
     */
    trustedProxy: z
      .object({
        enabled: z.boolean().default(false),
        /** Proxy addresses or CIDR ranges, e.g. "10.0.0.5", "10.0.0.0/24", "::1". */
        addresses: z
          .array(
            z.string().refine((a) => {
              const [ip, bits, ...rest] = a.split('/');
              const v = isIP(ip ?? '');
              if (v === 0 || rest.length > 0) return false;
              return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (v === 4 ? 32 : 128));
            }, 'an IP address or CIDR range'),
          )
          .default([]),
        header: z
          .string()
          .regex(/^[A-Za-z0-9-]+$/)
          .default('x-ssl-client-cert'),
        /** Listen with plain http (the proxy terminates TLS); only allowed with the proxy mode on. */
        plainHttp: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .refine((c) => !c.trustedProxy.enabled || c.trustedProxy.addresses.length > 0, {
    message: 'trustedProxy.addresses must list the proxy addresses when trustedProxy is enabled',
    path: ['trustedProxy', 'addresses'],
  })
  .refine((c) => !c.trustedProxy.plainHttp || c.trustedProxy.enabled, {
    message: 'trustedProxy.plainHttp needs trustedProxy.enabled',
    path: ['trustedProxy', 'plainHttp'],
  });

export type CertificateSettings = z.output<typeof certificateSettingsSchema>;

/** The `certificate` key of the configuration (schema.ts wraps it in `.prefault({})`, which fills every default). */
export const certificateConfigSchema = certificateSettingsSchema;

/** Settings with every default applied, from a partial object (tests, tools). */
export function certificateSettings(raw: z.input<typeof certificateSettingsSchema> = {}): CertificateSettings {
  return certificateSettingsSchema.parse(raw);
}
