// Checks the corpus (tests/corpus/*.txt) with Microsoft's own KQL parser and
// semantic analyser, Kusto.Language, as published on npm in
// @kusto/language-service-next (compiled to JavaScript with Bridge.NET).
//
//   npm install --prefix /tmp/kls @kusto/language-service-next@12.4.1
//   KLS=/tmp/kls/node_modules/@kusto/language-service-next node tools/check-corpus.js
//
// For each valid query: it must have no error diagnostics, and its result columns
// (names and types) must equal the first line of our expected output. For each
// invalid query: Kusto.Language must report at least one error, or the query must
// use a construct Palisade refuses on purpose ("not supported by Palisade").
// Not a Rust test dependency: run it by hand.
'use strict';
const fs = require('fs');
const path = require('path');

const KLS = process.env.KLS || '/tmp/kls/node_modules/@kusto/language-service-next';
global.Bridge = require(path.join(KLS, 'bridge.js'));
require(path.join(KLS, 'Kusto.Language.Bridge.js'));
const K = global.Kusto.Language;
const S = K.Symbols;

const crate = path.join(__dirname, '..');
const schema = JSON.parse(fs.readFileSync(path.join(crate, 'data/hunting-schema.json'), 'utf8'));
const tables = [];
for (const [name, cols] of Object.entries(schema)) {
  if (name.startsWith('_')) continue;
  const text = '(' + cols.map(([c, t]) => `['${c}']:${t === 'json' ? 'dynamic' : t}`).join(', ') + ')';
  tables.push(new S.TableSymbol.$ctor7(name, text, null));
}
const db = new S.DatabaseSymbol.$ctor3('hunting', null, Bridge.fn.bind ? tables : tables, false);
const globals = K.GlobalState.Default.WithDatabase(db);

function list(l) {
  const out = [];
  const n = l.Count;
  for (let i = 0; i < n; i++) out.push(l.getItem(i));
  return out;
}

function analyse(q) {
  const code = K.KustoCode.ParseAndAnalyze(q, globals);
  const diags = list(code.GetDiagnostics()).filter(d => d.Severity === 'Error');
  let cols = null;
  const rt = code.ResultType;
  if (rt && rt.Columns) {
    cols = list(rt.Columns).map(c => `${c.Name}:${c.Type.Name}`).join(', ');
  }
  return { diags, cols };
}

function blocks(file) {
  return fs.readFileSync(file, 'utf8').split('\n----\n').map(b => b.replace(/^\n+|\n+$/g, '')).filter(b => b)
    .map(b => { const i = b.indexOf('\n'); return i < 0 ? [b, ''] : [b.slice(0, i), b.slice(i + 1)]; });
}

// Where Palisade knowingly refuses or differs and Kusto.Language (which checks less
// than the service, e.g. no regex or literal validation) accepts: reported, not
// counted. See the crate docs ("Checked against Kusto.Language").
const KNOWN = [
  'where FileName == 1', // the service: "Cannot compare values of types string and long"
  'where FileSize == "x"',
  'take -1',
  'matches regex "("', // regexes are compiled by the service, not the analyser
  'extract("(a)", 5',
  'datetime(2025-13-45)',
  'let x = 1;\\nx | take 1',
  'print f("x")',
  'iff(FileSize > 1, "a", 2)',
  'union kind=inner', // Palisade keeps only common columns, as the union docs say
  'where FileSize in (DeviceInfo | project DeviceName)',
  'datatable(a:long) ["x"]',
  'extend p = prev(Timestamp)', // the service: "the row set must be serialized"
  'prev(Timestamp, FileSize)', // the service: offsets are constants
];
const known = q => KNOWN.some(k => q.includes(k.replace(/\\\\n/g, '\\n')));
let problems = 0;
for (const [q, expected] of blocks(path.join(crate, 'tests/corpus/valid.txt'))) {
  const text = q.replace(/\\n/g, '\n');
  const { diags, cols } = analyse(text);
  const ours = expected.split('\n')[0];
  if (diags.length) {
    problems++;
    console.log(`VALID-BUT-DIAGNOSED: ${q}\n   ${diags.map(d => d.Message).join(' | ')}`);
  } else if (cols !== null && cols !== ours) {
    if (known(q)) { console.log(`known difference: ${q}\n   kusto: ${cols}\n   ours:  ${ours}`); continue; }
    problems++;
    console.log(`COLUMNS DIFFER: ${q}\n   kusto: ${cols}\n   ours:  ${ours}`);
  }
}
for (const [q, expected] of blocks(path.join(crate, 'tests/corpus/invalid.txt'))) {
  const text = q.replace(/\\n/g, '\n');
  const { diags } = analyse(text);
  if (!diags.length && !expected.includes('not supported by Palisade')) {
    if (known(q)) { console.log(`known difference (Kusto.Language accepts): ${q}\n   ours: ${expected}`); continue; }
    problems++;
    console.log(`INVALID-BUT-ACCEPTED: ${q}\n   ours: ${expected}`);
  } else if (diags.length) {
    console.log(`ok invalid: ${q}\n   kusto: ${diags[0].Message}\n   ours:  ${expected}`);
  }
}
console.log(`${problems} problem(s)`);
process.exit(problems ? 1 : 0);
