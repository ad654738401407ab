# Production image: compiled JS, production dependencies only, non-root.
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
COPY metadata ./metadata
USER node
EXPOSE 8080
# Keys are mounted at /app/certs (signing.key/.crt, encryption.key/.crt); BASE_URL, DATABASE_URL,
# REDIS_URL, PASARELA_PAIRWISE_SECRET and PASARELA_CSRF_SECRET come from the environment.
CMD ["node", "--enable-source-maps", "dist/main.js"]
