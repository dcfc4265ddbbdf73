// Apollo Federation v2 composition of the hub's subgraph with partners' subgraphs.
// Usage: node compose.mjs http://127.0.0.1:PORT/graphql
// Fetches the hub's `_service { sdl }`, then checks that
//  - a sample partner subgraph that extends CatalogItem composes with it, and
//  - a deliberately conflicting subgraph is rejected.
// Exits 1 if either expectation fails.
import { composeServices } from '@theguild/federation-composition';
import { parse } from 'graphql';

const url = process.argv[2];
const reply = await fetch(url, {
  method: 'POST',
  headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
  body: JSON.stringify({ query: '{ _service { sdl } }' }),
});
const hubSdl = (await reply.json()).data._service.sdl;

const reviews = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key", "@shareable"])
  type CatalogItem @key(fields: "id") {
    id: ID!
    averageRating: Float
    reviewCount: Int!
  }
  type Query { topRated(first: Int = 10): [CatalogItem!]! }
`;
// Redefines a field the hub owns with another type and without @shareable.
const conflicting = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])
  type CatalogItem @key(fields: "id") {
    id: ID!
    points: String!
  }
`;

function compose(partner) {
  return composeServices([
    { name: 'alliance-hub', typeDefs: parse(hubSdl), url },
    { name: 'partner', typeDefs: parse(partner), url: 'http://127.0.0.1:1/graphql' },
  ]);
}

let failed = false;
const friendly = compose(reviews);
if (friendly.errors?.length) {
  failed = true;
  console.log('FAIL the sample partner subgraph did not compose:');
  for (const error of friendly.errors) console.log(`  ${error.message}`);
} else {
  console.log('ok: the hub composes with a partner subgraph extending CatalogItem');
}
const refused = compose(conflicting);
if (refused.errors?.length) {
  console.log(`ok: the conflicting subgraph is rejected (${refused.errors[0].message})`);
} else {
  failed = true;
  console.log('FAIL the conflicting subgraph composed');
}
process.exit(failed ? 1 : 0);
