/** The admin API's OpenAPI 3.1 document, served at /admin/api/openapi.json. Kept beside the router it describes. */
export function openApiDocument(): Record<string, unknown> {
  const problem = { description: 'Problem details (RFC 9457)', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };
  const entityId = { name: 'entityId', in: 'path', required: true, description: 'The SP entityID, URL-encoded', schema: { type: 'string' } };
  const sp = { description: 'The SP', content: { 'application/json': { schema: { $ref: '#/components/schemas/Sp' } } } };
  const errors = { '401': problem, '403': problem, '404': problem, '422': problem };
  return {
    openapi: '3.1.0',
    info: { title: 'Pasarela admin API', version: '1', description: 'Trust list, onboarding self-check, metadata refresh and audit trail. Roles: operator, registrar, auditor.' },
    servers: [{ url: '/admin/api' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A static API key (npm run cli -- admin token create) or a JWT from the configured issuer' } },
      schemas: {
        Problem: {
          type: 'object',
          properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' }, code: { type: 'string' }, problems: { type: 'array', items: { type: 'string' } } },
          required: ['title', 'status', 'detail', 'code'],
        },
        Refresh: {
          type: ['object', 'null'],
          properties: {
            sourceId: { type: 'string' },
            kind: { enum: ['sp', 'aggregate'] },
            url: { type: 'string' },
            status: { enum: ['never', 'ok', 'failed'] },
            lastError: { type: ['string', 'null'] },
            lastAttemptAt: { type: ['string', 'null'], format: 'date-time' },
            lastSuccessAt: { type: ['string', 'null'], format: 'date-time' },
            validUntil: { type: ['string', 'null'], format: 'date-time' },
          },
        },
        Sp: {
          type: 'object',
          properties: {
            entityId: { type: 'string' },
            displayName: { type: ['string', 'null'] },
            status: { enum: ['active', 'suspended'] },
            source: { type: 'string' },
            acs: { type: 'array', items: { type: 'string' } },
            signingKeys: { type: 'integer' },
            encryptionKey: { type: 'boolean' },
            validUntil: { type: ['string', 'null'], format: 'date-time' },
            updatedAt: { type: 'string', format: 'date-time' },
            refresh: { $ref: '#/components/schemas/Refresh' },
            policy: { type: 'object', description: 'GET one SP: the policy in force' },
            policyOverride: { type: 'object', description: 'GET one SP: the operator overrides as stored' },
            metadataXml: { type: 'string', description: 'GET one SP: the metadata as stored' },
          },
        },
      },
    },
    paths: {
      '/sps': {
        get: { summary: 'List the trust list (operator, auditor)', responses: { '200': { description: '{"items": [Sp]}' }, '401': problem, '403': problem } },
        post: {
          summary: 'Import an SP (operator): its metadata document, or a URL to fetch it from (kept for refreshes)',
          requestBody: {
            required: true,
            content: {
              'application/samlmetadata+xml': { schema: { type: 'string' } },
              'application/json': {
                schema: { type: 'object', properties: { metadataUrl: { type: 'string', format: 'uri' }, metadata: { type: 'string' }, policy: { type: 'object' } } },
              },
            },
          },
          responses: { '201': sp, '200': sp, '400': problem, '413': problem, '502': problem, ...errors },
        },
      },
      '/sps/{entityId}': {
        parameters: [entityId],
        get: { summary: 'One SP with its policy, metadata and refresh status (operator, auditor)', responses: { '200': sp, ...errors } },
        patch: {
          summary: 'Change policy keys and/or suspend or resume (operator)',
          requestBody: { content: { 'application/json': { schema: { type: 'object', properties: { policy: { type: 'object' }, status: { enum: ['active', 'suspended'] } } } } } },
          responses: { '200': sp, '400': problem, ...errors },
        },
        delete: { summary: 'Remove the SP (operator)', responses: { '204': { description: 'Removed' }, ...errors } },
      },
      '/sps/{entityId}/check': {
        parameters: [entityId],
        post: {
          summary: 'Onboarding self-check (operator): run the SSO endpoint\'s own intake on a sample AuthnRequest, check by check',
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: { type: 'object', required: ['request'], properties: { binding: { enum: ['redirect', 'post'] }, request: { type: 'string', description: 'Redirect URL or query string, POST body, or bare base64 SAMLRequest' } } },
              },
              'text/plain': { schema: { type: 'string' } },
            },
          },
          responses: { '200': { description: 'SelfCheckReport: accepted, answer, checks[], outcome | refusal' }, '400': problem, ...errors },
        },
      },
      '/sps/{entityId}/refresh': {
        parameters: [entityId],
        post: { summary: 'Fetch the SP\'s metadata again from its URL or aggregate (operator); on failure the last good copy stays', responses: { '200': sp, '409': problem, '502': problem, ...errors } },
      },
      '/sources': { get: { summary: 'Metadata sources (per-SP URLs and aggregates) with refresh status (operator, auditor)', responses: { '200': { description: '{"items": [Refresh]}' } } } },
      '/aggregates': {
        post: {
          summary: 'Register a signed metadata aggregate with the certificate its signature must verify against (operator)',
          requestBody: { content: { 'application/json': { schema: { type: 'object', required: ['url', 'pinnedCert'], properties: { url: { type: 'string' }, pinnedCert: { type: 'string' }, policy: { type: 'object' } } } } } },
          responses: { '201': { description: 'AggregateResult' }, ...errors },
        },
      },
      '/aggregates/{sourceId}/refresh': {
        parameters: [{ name: 'sourceId', in: 'path', required: true, schema: { type: 'string' } }],
        post: { summary: 'Refresh one aggregate (operator)', responses: { '200': { description: 'AggregateResult' }, ...errors } },
      },
      '/audit': {
        get: {
          summary: 'The audit trail, most recent first (auditor)',
          parameters: ['type', 'citizenId', 'requestId', 'limit'].map((name) => ({ name, in: 'query', schema: { type: name === 'limit' ? 'integer' : 'string' } })),
          responses: { '200': { description: '{"items": [AuditEvent]}' }, '401': problem, '403': problem },
        },
      },
      '/me': { get: { summary: 'Who the token is', responses: { '200': { description: '{name, kind, roles}' } } } },
      '/openapi.json': { get: { summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1' } } } },
    },
  };
}
