/**
 * Firestore's index rules as test/helpers/firestore-query-indexes.ts models them (the Firestore store tests check every
 * query sent against firestore-indexes.json with them), on queries written out as the client sends them.
 */
import t from 'tap'
import {
  declaredIndexes, indexNeeded, missingIndexes, serves, type CompositeIndex, type IndexField, type StructuredQuery
} from '../helpers/firestore-query-indexes.js'

type Clause = [fieldPath: string, op: string]

function queryOf (collectionId: string, filters: Clause[], orderBy: Array<[string, IndexField['order']?]> = []): StructuredQuery {
  const fieldFilters = filters.map(([fieldPath, op]) => ({ fieldFilter: { field: { fieldPath }, op } }))
  return {
    from: [{ collectionId }],
    ...(fieldFilters.length > 0 && { where: { compositeFilter: { op: 'AND', filters: fieldFilters } } }),
    ...(orderBy.length > 0 && {
      orderBy: orderBy.map(([fieldPath, direction]) => ({ field: { fieldPath }, ...(direction !== undefined && { direction }) }))
    })
  }
}

const ascending = (...fieldPaths: string[]): IndexField[] => fieldPaths.map(fieldPath => ({ fieldPath, order: 'ASCENDING' }))
const runsIndex = (...fieldPaths: string[]): CompositeIndex => ({ collectionGroup: '{collection}-runs', fields: ascending(...fieldPaths) })

t.test('single-field indexes serve equality filters alone (merged), and filters and orders on one field', async t => {
  t.equal(indexNeeded(queryOf('k-runs', [['job', 'EQUAL'], ['queued', 'EQUAL'], ['lane', 'EQUAL']])), undefined,
    'equalities: merged')
  t.equal(indexNeeded(queryOf('k-runs', [['open', 'EQUAL'], ['job', 'IN']])), undefined, '`in`: a disjunction of equalities')
  t.equal(indexNeeded(queryOf('k-runs', [['begunAt', 'GREATER_THAN']], [['begunAt']])), undefined, 'a range and its order')
  t.equal(indexNeeded(queryOf('k-runs', [['startCountsUntil', 'GREATER_THAN']])), undefined, 'a range alone')
  t.equal(indexNeeded(queryOf('k-runs', [['job', 'EQUAL']], [['job'], ['__name__']])), undefined,
    'the document id is in every index')
  t.equal(indexNeeded(queryOf('k-runs', [])), undefined, 'the whole collection')
})

t.test('a composite index: the equality fields, then the orders, then inequality fields not ordered, by name', async t => {
  t.same(indexNeeded(queryOf('k-runs', [['job', 'IN'], ['startCountsUntil', 'GREATER_THAN']])),
    { collectionGroup: '{collection}-runs', equalities: ['job'], orders: ascending('startCountsUntil') }, 'a range beside an equality')
  t.same(indexNeeded(queryOf('k-events', [['job', 'EQUAL'], ['published', 'EQUAL']], [['recordedAt']])),
    { collectionGroup: '{collection}-events', equalities: ['job', 'published'], orders: ascending('recordedAt') },
    'an order beside equalities')
  const descending = (...fieldPaths: string[]): IndexField[] => fieldPaths.map(fieldPath => ({ fieldPath, order: 'DESCENDING' }))
  t.same(indexNeeded(queryOf('k', [['b', 'LESS_THAN'], ['a', 'NOT_EQUAL'], ['c', 'GREATER_THAN']], [['c', 'DESCENDING']])),
    { collectionGroup: '{collection}', equalities: [], orders: descending('c', 'a', 'b') },
    'implicit orders follow the last explicit one\'s direction')
  t.throws(() => indexNeeded({ from: [{ collectionId: 'k' }], where: { compositeFilter: { op: 'OR', filters: [] } } }),
    /a filter the index rules here do not model/, 'an or-filter is not guessed at')
  t.throws(() => indexNeeded(queryOf('k', [['tags', 'ARRAY_CONTAINS']])), /do not model/, 'nor an array filter')
})

t.test('an index serves a query: its equality fields first in any order, then the orders exactly', async t => {
  const needed = indexNeeded(queryOf('k-runs', [['queued', 'EQUAL'], ['job', 'EQUAL'], ['lane', 'GREATER_THAN']],
    [['lane'], ['createdAt']]))
  if (needed === undefined) throw new Error('a composite index is needed')
  t.ok(serves(runsIndex('job', 'queued', 'lane', 'createdAt'), needed))
  t.ok(serves(runsIndex('queued', 'job', 'lane', 'createdAt'), needed), 'equalities in either order')
  t.notOk(serves(runsIndex('job', 'queued', 'createdAt', 'lane'), needed), 'not with the orders swapped')
  t.notOk(serves(runsIndex('job', 'lane', 'queued', 'createdAt'), needed), 'not with an order among the equalities')
  t.notOk(serves(runsIndex('job', 'queued', 'lane'), needed), 'not without an order')
  t.notOk(serves({ ...runsIndex('job', 'queued', 'lane', 'createdAt'), collectionGroup: '{collection}-events' }, needed),
    'not another group')
  const backwards = runsIndex('job', 'queued', 'lane', 'createdAt')
  backwards.fields[3] = { fieldPath: 'createdAt', order: 'DESCENDING' }
  t.notOk(serves(backwards, needed), 'not in the other direction')
})

t.test('a query without its index is named with the index it needs; firestore-indexes.json is well formed', async t => {
  const expired = queryOf('keys-1-runs', [['job', 'EQUAL'], ['queued', 'EQUAL'], ['expiresAt', 'LESS_THAN_OR_EQUAL']], [['expiresAt']])
  t.same(missingIndexes([expired, expired], [runsIndex('job', 'queued', 'createdAt')]), [
    '{collection}-runs where job EQUAL and queued EQUAL and expiresAt LESS_THAN_OR_EQUAL order by expiresAt ASCENDING ' +
    'needs {collection}-runs (job, queued, expiresAt)'
  ], 'once per shape')
  t.same(missingIndexes([expired], [runsIndex('queued', 'job', 'expiresAt')]), [])
  const declared = declaredIndexes()
  t.ok(declared.length > 0)
  for (const { collectionGroup, fields } of declared) {
    t.match(collectionGroup, /^\{collection\}(-runs|-events|-batches)?$/, collectionGroup)
    t.ok(fields.length >= 2 && fields.every(field => field.order === 'ASCENDING' || field.order === 'DESCENDING'),
      'two or more ordered fields')
  }
  t.equal(new Set(declared.map(index => JSON.stringify(index))).size, declared.length, 'no index twice')
})
