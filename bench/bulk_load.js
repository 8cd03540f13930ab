// Bulk-load items into a stopped dynalite's data directory, through dynalite's own storage module:
// the same key (db.createKey) and value (the item as DynamoDB JSON) dynalite's PutItem stores.
// The benchmark uses it for the search index of the big room (tens of millions of small items,
// which BatchWriteItem over HTTP writes at a few thousand a second).
//
//   node bench/bulk_load.js <dynalite data dir> <table name> < items.jsonl
//
// One item per line (DynamoDB JSON, as BatchWriteItem takes it). Items that would enter a
// secondary index are refused: this loader writes the table only, so they would be missing from
// the index. Prints "loaded <n>" and exits 0, or prints the error and exits 1.
'use strict'

const readline = require('readline')
const db = require('dynalite/db')

const BATCH = 5000

function fail (message) {
  process.stderr.write(`bulk_load: ${message}\n`)
  process.exit(1)
}

function indexedAttributes (table) {
  const names = new Set()
  db.traverseIndexes(table, (attr) => { names.add(attr) })
  return names
}

async function main () {
  const [dataDir, tableName] = process.argv.slice(2)
  if (!dataDir || !tableName) fail('usage: node bench/bulk_load.js <dynalite data dir> <table name>')
  const store = db.create({ path: dataDir })
  const table = await new Promise((resolve, reject) =>
    store.getTable(tableName, false, (err, t) => (err ? reject(err) : resolve(t))))
  const indexed = indexedAttributes(table)
  const items = store.getItemDb(tableName)
  const write = (ops) => new Promise((resolve, reject) => items.batch(ops, (err) => (err ? reject(err) : resolve())))

  let ops = []
  let loaded = 0
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
  for await (const line of lines) {
    if (!line) continue
    const item = JSON.parse(line)
    for (const attr of indexed) {
      if (attr in item) fail(`line ${loaded + 1}: ${attr} is a secondary index key; this loader writes the table only`)
    }
    const invalid = db.validateItem(item, table)
    if (invalid) fail(`line ${loaded + 1}: ${invalid.message || JSON.stringify(invalid.body)}`)
    ops.push({ type: 'put', key: db.createKey(item, table), value: item })
    loaded++
    if (ops.length === BATCH) {
      await write(ops)
      ops = []
    }
  }
  if (ops.length) await write(ops)
  await new Promise((resolve) => store.db ? store.db.close(resolve) : resolve())
  process.stdout.write(`loaded ${loaded}\n`)
}

main().catch((err) => fail(err && err.stack ? err.stack : String(err)))
