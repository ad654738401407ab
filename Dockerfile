# syntax=docker/dockerfile:1
# Pasarela production image: compiled JavaScript, production dependencies only, non-root.
# test/deploy/container.test.ts runs dist/ the way CMD below does, with the README's environment,
# as an unprivileged user, and checks that this file, the README and docs/deploy/compose.yaml agree.

# --- build: compile TypeScript, then drop the development dependencies ---
FROM node:22-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles its addon when no prebuilt binary can be fetched.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev && npm cache clean --force

# --- runtime ---
FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    OPERATOR_HOST=0.0.0.0 \
    OPERATOR_PORT=9090 \
    CERTIFICATE_HOST=0.0.0.0 \
    CERTIFICATE_PORT=8443 \
    KEYS_DIR=certs
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
COPY metadata ./metadata
# Everything above belongs to root and is read-only for the broker; it writes nothing in /app
# (logs go to stdout, state to PostgreSQL and Redis). Keys are mounted at /app/certs.
USER node
# Citizen/SP HTTP, the certificate host (mutual TLS), the operator listener (/healthz, /readyz, /metrics).
EXPOSE 8080 8443 9090
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.OPERATOR_PORT||9090)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--enable-source-maps", "dist/main.js"]
