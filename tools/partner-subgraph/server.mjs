// A sample partner subgraph: graphql-yoga serving a schema built by @apollo/subgraph.
// Usage: node server.mjs PORT   (prints "listening on http://127.0.0.1:PORT/graphql")
// It never needs the hub's access tokens, and refuses (400) any request carrying an
// Authorization header: the gateway must forward it to the hub only (docs/federation.md).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { createGraphQLError, createYoga } from 'graphql-yoga';

const here = new URL('.', import.meta.url);
const typeDefs = parse(readFileSync(new URL('schema.graphql', here), 'utf8'));
const data = JSON.parse(readFileSync(new URL('data.json', here), 'utf8'));
const storesByCode = new Map(data.stores.map((store) => [store.code, store]));
const visits = new Map(); // member global id -> visits recorded since start
const MAX_PAGE = 100;

function page(items, first, after) {
  if (first < 0 || first > MAX_PAGE) {
    throw createGraphQLError(`first must be between 0 and ${MAX_PAGE}`, {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
  const start = after === null || after === undefined ? 0 : Number.parseInt(after, 10) + 1;
  if (!Number.isInteger(start) || start < 0) {
    throw createGraphQLError('after is not a cursor of this list', {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
  const slice = items.slice(start, start + first);
  const edges = slice.map((node, index) => ({ cursor: String(start + index), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: start + first < items.length,
      hasPreviousPage: start > 0,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

function isMemberId(id) {
  // A Relay global id of the hub: base64 of "Member:<digits>".
  try {
    return /^Member:[1-9][0-9]*$/.test(Buffer.from(id, 'base64').toString('utf8'));
  } catch {
    return false;
  }
}

const resolvers = {
  CatalogItem: {
    __resolveReference: (reference) => reference,
    stock: (item) => (item.partnerCode === data.partnerCode ? (data.stock[item.sku] ?? null) : null),
  },
  Partner: {
    __resolveReference: (reference) => reference,
    stores: (partner, { first, after }) =>
      page(partner.code === data.partnerCode ? data.stores : [], first, after),
  },
  Store: {
    featured: (store) =>
      (data.featured[store.code] ?? []).map((sku) => ({ partnerCode: data.partnerCode, sku })),
  },
  Member: {
    __resolveReference: (reference) => reference,
    storeVisits: (member) => visits.get(member.id) ?? 0,
  },
  Query: {
    store: (_, { code }) => storesByCode.get(code) ?? null,
  },
  Mutation: {
    recordStoreVisit: (_, { memberId, storeCode }) => {
      if (!isMemberId(memberId)) {
        return {
          storeVisits: null,
          userErrors: [
            { code: 'BAD_USER_INPUT', message: 'not a member id', field: ['memberId'], rule: null },
          ],
        };
      }
      if (!storesByCode.has(storeCode)) {
        return {
          storeVisits: null,
          userErrors: [
            { code: 'NOT_FOUND', message: 'no such store', field: ['storeCode'], rule: null },
          ],
        };
      }
      const count = (visits.get(memberId) ?? 0) + 1;
      visits.set(memberId, count);
      return { storeVisits: count, userErrors: [] };
    },
  },
};

const yoga = createYoga({
  schema: buildSubgraphSchema([{ typeDefs, resolvers }]),
  graphqlEndpoint: '/graphql',
  graphiql: false,
  logging: 'warn',
  plugins: [
    {
      onRequest({ request, endResponse, fetchAPI }) {
        if (request.headers.has('authorization')) {
          endResponse(
            new fetchAPI.Response('the hub access token must not reach a partner subgraph', {
              status: 400,
            }),
          );
        }
      },
    },
  ],
});

const port = Number.parseInt(process.argv[2] ?? '4001', 10);
createServer(yoga).listen(port, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${port}/graphql`);
});
