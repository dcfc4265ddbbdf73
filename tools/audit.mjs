// GraphQL over HTTP conformance: graphql-http's server audit against a running hub.
// Usage: node audit.mjs http://127.0.0.1:PORT/graphql
// Exits 1 on any MUST error or SHOULD warning, printing each.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs URL');
  process.exit(2);
}
const results = await auditServer({ url });
const problems = results.filter((r) => r.status !== 'ok' && (r.name.startsWith('MUST') || r.name.startsWith('SHOULD')));
for (const problem of problems) {
  console.log(`${problem.status.toUpperCase()} ${problem.name}: ${problem.reason}`);
}
const must = results.filter((r) => r.name.startsWith('MUST'));
const should = results.filter((r) => r.name.startsWith('SHOULD'));
console.log(
  `graphql-http audit: ${must.length} MUST (${must.filter((r) => r.status !== 'ok').length} failing), ` +
    `${should.length} SHOULD (${should.filter((r) => r.status !== 'ok').length} warning)`,
);
process.exit(problems.length ? 1 : 0);
