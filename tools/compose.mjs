// Apollo Federation v2 composition of the hub's subgraph with partners' subgraphs, by both
// composers: the Guild's (@theguild/federation-composition) and Apollo's (@apollo/composition,
// the library behind `rover supergraph compose`).
//
// Usage: node compose.mjs HUB_URL [--partner-url URL] [--out supergraph.graphql]
//
// Fetches the hub's `_service { sdl }`, then checks with each composer that
//  - the sample partner subgraph (partner-subgraph/schema.graphql) composes with it,
//  - a subgraph that reuses the hub's value types (PageInfo, UserError) and keys CatalogItem
//    by partnerCode and SKU composes with it, and
//  - a deliberately conflicting subgraph is rejected.
// With --out, writes the Guild's supergraph of the hub and the sample partner (served at
// --partner-url) for Hive Gateway. Exits 1 if any expectation fails.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { composeServices as apolloCompose } from '@apollo/composition';
import { composeServices as guildCompose } from '@theguild/federation-composition';
import { parse } from 'graphql';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { 'partner-url': { type: 'string' }, out: { type: 'string' } },
});
const url = positionals[0];
const partnerUrl = values['partner-url'] ?? 'http://127.0.0.1:4001/graphql';
const reply = await fetch(url, {
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
  body: JSON.stringify({ query: '{ _service { sdl } }' }),
});
const hubSdl = (await reply.json()).data._service.sdl;
const sample = readFileSync(new URL('partner-subgraph/schema.graphql', import.meta.url), 'utf8');

// A partner's reviews service: its own Relay pages and payload errors, and CatalogItem keyed
// by what it knows, its partner code and the SKU.
const reuse = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key", "@shareable"])
  type CatalogItem @key(fields: "partnerCode sku") {
    partnerCode: String!
    sku: String!
    averageRating: Float
    reviews(first: Int = 10, after: String): ReviewConnection!
  }
  type Review { stars: Int! text: String! }
  type ReviewConnection { pageInfo: PageInfo! edges: [ReviewEdge!]! }
  type ReviewEdge { cursor: String! node: Review! }
  type PageInfo @shareable {
    hasNextPage: Boolean!
    hasPreviousPage: Boolean!
    startCursor: String
    endCursor: String
  }
  enum ErrorCode { NOT_FOUND BAD_USER_INPUT }
  type UserError @shareable { code: ErrorCode! message: String! field: [String!] rule: String }
  type ReviewPayload { review: Review userErrors: [UserError!]! }
  type Query { topRated(first: Int = 10): [CatalogItem!]! }
  type Mutation { review(itemId: ID!, stars: Int!, text: String!): ReviewPayload! }
`;
// Redefines a field the hub owns with another type and without @shareable.
const conflicting = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])
  type CatalogItem @key(fields: "id") {
    id: ID!
    points: String!
  }
`;

const composers = {
  guild: (services) => guildCompose(services),
  apollo: (services) => apolloCompose(services),
};

function compose(composer, partner) {
  return composers[composer]([
    { name: 'alliance-hub', typeDefs: parse(hubSdl), url },
    { name: 'partner', typeDefs: parse(partner), url: partnerUrl },
  ]);
}

let failed = false;
for (const composer of Object.keys(composers)) {
  for (const [name, partner] of [
    ['the sample partner subgraph', sample],
    ['a subgraph reusing PageInfo and UserError', reuse],
  ]) {
    const result = compose(composer, partner);
    if (result.errors?.length) {
      failed = true;
      console.log(`FAIL ${composer}: ${name} did not compose:`);
      for (const error of result.errors) console.log(`  ${error.message}`);
    } else {
      console.log(`ok ${composer}: the hub composes with ${name}`);
    }
  }
  const refused = compose(composer, conflicting);
  if (refused.errors?.length) {
    console.log(`ok ${composer}: the conflicting subgraph is rejected (${refused.errors[0].message})`);
  } else {
    failed = true;
    console.log(`FAIL ${composer}: the conflicting subgraph composed`);
  }
}
if (values.out && !failed) {
  writeFileSync(values.out, compose('guild', sample).supergraphSdl);
  console.log(`wrote ${values.out}`);
}
process.exit(failed ? 1 : 0);
