// The recommended Hive Gateway configuration in front of alliance-hub (docs/federation.md).
//
//   hive-gateway supergraph supergraph.graphql --config-path gateway.config.mjs --port 4000
//
// Environment:
//   HUB_SUBGRAPH            the hub's subgraph name in the supergraph (default alliance-hub)
//   GATEWAY_DEDUPLICATE     "false" turns off in-flight de-duplication (benchmarks only)
//   GATEWAY_UPSTREAM_TIMEOUT_MS  per subgraph request (default 10000)
import { defineConfig } from '@graphql-hive/gateway';
import { GraphQLError } from 'graphql';

const HUB = process.env.HUB_SUBGRAPH ?? 'alliance-hub';
const UPSTREAM_TIMEOUT_MS = Number.parseInt(process.env.GATEWAY_UPSTREAM_TIMEOUT_MS ?? '10000', 10);

export const gatewayConfig = defineConfig({
  propagateHeaders: {
    // The member's or partner's access token is for the hub alone: a partner subgraph
    // must never see another partner's (or the operator's) bearer token.
    fromClientToSubgraphs({ request, subgraphName }) {
      const authorization = request.headers.get('authorization');
      if (subgraphName === HUB && authorization) return { authorization };
    },
    // The hub's RFC 6750 challenge reaches the client with the hub's 401.
    fromSubgraphsToClient({ response, subgraphName }) {
      const challenge = response.headers.get('www-authenticate');
      if (subgraphName === HUB && challenge) return { 'www-authenticate': challenge };
    },
  },
  transportEntries: {
    '*.http': {
      options: {
        // On by default: identical concurrent subgraph requests share one answer.
        deduplicateInflightRequests: process.env.GATEWAY_DEDUPLICATE !== 'false',
      },
    },
  },
  upstreamTimeout: UPSTREAM_TIMEOUT_MS,
  maskedErrors: {
    // The hub masks its own unexpected errors (INTERNAL_SERVER_ERROR with an errorId) and
    // its messages are part of its contract. A partner subgraph's messages are not ours to
    // publish: keep its code and name, replace its message.
    maskError(error, message) {
      const original = error instanceof GraphQLError ? error : null;
      const service = original?.extensions?.serviceName;
      if (original && service === HUB) return original;
      if (original && typeof service === 'string') {
        return new GraphQLError(`${service}: ${message}`, {
          nodes: original.nodes,
          path: original.path,
          extensions: { code: original.extensions.code ?? 'DOWNSTREAM_SERVICE_ERROR', serviceName: service },
        });
      }
      if (original && original.originalError == null) return original;
      return new GraphQLError(message, { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    },
  },
});
