/**
 * Every query this process's Firestore clients send, checked against Firestore's index rules and the declared
 * firestore-indexes.json: the emulator serves any query, real Firestore answers FAILED_PRECONDITION ("The query
 * requires an index") to one whose composite index does not exist.
 *
 * The rules (Firestore Standard edition): equality filters alone (`==`, and `in`, a disjunction of equalities) are
 * served by merging the automatic single-field indexes; filters and orders that all name one field by its
 * single-field index; anything else needs one composite index: the equality fields first (in any order), then the
 * orders, then each inequality field not ordered explicitly (by name). An aggregation (count) needs its query's.
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Firestore } from '@google-cloud/firestore'
import type { Test } from 'tap'

export interface IndexField { fieldPath: string, order: 'ASCENDING' | 'DESCENDING' }

export interface CompositeIndex {
  /** `{collection}-runs`: the collection group, `{collection}` standing for JOBGATE_IDEMPOTENCY_COLLECTION. */
  collectionGroup: string
  fields: IndexField[]
}

/** The index a query needs: its equality fields in any order, then its ordered fields in this order. */
export interface NeededIndex {
  collectionGroup: string
  equalities: string[]
  orders: IndexField[]
}

interface FieldReference { fieldPath: string }
interface Filter {
  fieldFilter?: { field: FieldReference, op: string }
  compositeFilter?: { op: string, filters: Filter[] }
  unaryFilter?: { field: FieldReference, op: string }
}
export interface StructuredQuery {
  from: Array<{ collectionId: string }>
  where?: Filter
  orderBy?: Array<{ field: FieldReference, direction?: IndexField['order'] }>
}

const declaredPath = join(dirname(fileURLToPath(import.meta.url)), '../../firestore-indexes.json')

/** firestore-indexes.json: what build-deploy-api.sh creates. */
export function declaredIndexes (): CompositeIndex[] {
  return (JSON.parse(readFileSync(declaredPath, 'utf8')) as { indexes: CompositeIndex[] }).indexes
    .map(({ collectionGroup, fields }) => ({ collectionGroup, fields }))
}

/** The lifecycle store's collections beside the keys' own (api/lifecycle/firestore-store.ts); longest first. */
const SUFFIXES = ['-batches', '-events', '-runs', '']

/** `keys-1234-runs` as `{collection}-runs`: indexes are declared for whatever the collection is called. */
const groupOf = (collectionId: string): string =>
  `{collection}${SUFFIXES.find(suffix => collectionId.endsWith(suffix)) as string}`

const EQUALITIES = new Set(['EQUAL', 'IN'])
const INEQUALITIES = new Set(['LESS_THAN', 'LESS_THAN_OR_EQUAL', 'GREATER_THAN', 'GREATER_THAN_OR_EQUAL', 'NOT_EQUAL', 'NOT_IN'])

function fieldFiltersOf (filter: Filter | undefined): Array<{ fieldPath: string, op: string }> {
  if (filter === undefined) return []
  if (filter.compositeFilter?.op === 'AND') return filter.compositeFilter.filters.flatMap(fieldFiltersOf)
  const { fieldFilter } = filter
  // Or-filters, null checks and array filters have rules of their own: a query using one fails here until they are modelled.
  if (fieldFilter === undefined || !(EQUALITIES.has(fieldFilter.op) || INEQUALITIES.has(fieldFilter.op))) {
    throw new Error(`a filter the index rules here do not model: ${JSON.stringify(filter)}`)
  }
  return [{ fieldPath: fieldFilter.field.fieldPath, op: fieldFilter.op }]
}

/** The composite index `query` needs in real Firestore; undefined when single-field indexes serve it. */
export function indexNeeded (query: StructuredQuery): NeededIndex | undefined {
  const filters = fieldFiltersOf(query.where)
  const explicit: IndexField[] = (query.orderBy ?? [])
    .filter(order => order.field.fieldPath !== '__name__')
    .map(order => ({ fieldPath: order.field.fieldPath, order: order.direction ?? 'ASCENDING' }))
  const ordered = new Set(explicit.map(order => order.fieldPath))
  const implicit: IndexField[] = [...new Set(filters.filter(filter => INEQUALITIES.has(filter.op)).map(filter => filter.fieldPath))]
    .filter(fieldPath => !ordered.has(fieldPath)).sort()
    .map(fieldPath => ({ fieldPath, order: explicit.at(-1)?.order ?? 'ASCENDING' }))
  const orders = [...explicit, ...implicit]
  const equalities = [...new Set(filters.filter(filter => EQUALITIES.has(filter.op)).map(filter => filter.fieldPath))]
    .filter(fieldPath => !orders.some(order => order.fieldPath === fieldPath))
  if (orders.length === 0 || equalities.length + orders.length === 1) return undefined
  return { collectionGroup: groupOf(query.from[0]?.collectionId ?? ''), equalities, orders }
}

/** Whether `index` serves what `needed` asks: the equality fields as its prefix, in any order, then the orders exactly. */
export function serves (index: CompositeIndex, needed: NeededIndex): boolean {
  const { length } = needed.equalities
  const prefix = index.fields.slice(0, length).map(field => field.fieldPath)
  const rest = index.fields.slice(length)
  return index.collectionGroup === needed.collectionGroup &&
    prefix.length === length && needed.equalities.every(fieldPath => prefix.includes(fieldPath)) &&
    rest.length === needed.orders.length &&
    rest.every((field, at) => field.fieldPath === needed.orders[at]?.fieldPath && field.order === needed.orders[at]?.order)
}

const describeFields = (fields: IndexField[]): string[] =>
  fields.map(field => field.order === 'ASCENDING' ? field.fieldPath : `${field.fieldPath} desc`)

export const describeIndex = (index: NeededIndex): string =>
  `${index.collectionGroup} (${[...index.equalities, ...describeFields(index.orders)].join(', ')})`

export function describeQuery (query: StructuredQuery): string {
  const filters = fieldFiltersOf(query.where).map(filter => `${filter.fieldPath} ${filter.op}`)
  const orders = (query.orderBy ?? []).map(order => `${order.field.fieldPath} ${order.direction ?? 'ASCENDING'}`)
  const orderBy = orders.length === 0 ? '' : ` order by ${orders.join(', ')}`
  return `${groupOf(query.from[0]?.collectionId ?? '')} where ${filters.join(' and ')}${orderBy}`
}

type RequestStream = (method: string, bidirectional: boolean, request: Record<string, unknown>, tag: string) => Promise<unknown>

/**
 * Records the structured query of every query and aggregation this process sends, from now until the test ends:
 * at the one method every query, count and transactional read goes through on its way to the wire.
 */
export function recordFirestoreQueries (t: Pick<Test, 'teardown'>): StructuredQuery[] {
  const prototype = Firestore.prototype as unknown as { requestStream: RequestStream }
  const original = prototype.requestStream
  if (typeof original !== 'function') throw new Error('@google-cloud/firestore has no Firestore.prototype.requestStream any more')
  const queries: StructuredQuery[] = []
  prototype.requestStream = async function (this: Firestore, method, bidirectional, request, tag) {
    if (method === 'runQuery') queries.push(request.structuredQuery as StructuredQuery)
    if (method === 'runAggregationQuery') {
      queries.push((request.structuredAggregationQuery as { structuredQuery: StructuredQuery }).structuredQuery)
    }
    return await original.call(this, method, bidirectional, request, tag)
  }
  t.teardown(() => { prototype.requestStream = original })
  return queries
}

/** Each distinct query shape sent that needs a composite index missing from `declared`, with the index it needs. */
export function missingIndexes (queries: StructuredQuery[], declared: CompositeIndex[]): string[] {
  const missing = queries.flatMap(query => {
    const needed = indexNeeded(query)
    return needed === undefined || declared.some(index => serves(index, needed))
      ? []
      : [`${describeQuery(query)} needs ${describeIndex(needed)}`]
  })
  return [...new Set(missing)]
}

/**
 * The file's last test: every query its tests sent is served in real Firestore, by single-field indexes or by one of
 * firestore-indexes.json. With `everyIndexNeeded` (the file that runs every store suite) also: without any one of
 * the declared indexes, some query sent has none (no index is dead weight on every write, or serves an unrecorded query).
 */
export function declaredIndexesServe (t: Test, queries: StructuredQuery[], options: { everyIndexNeeded?: boolean } = {}): void {
  t.test('every Firestore query sent is served in real Firestore by the declared indexes (firestore-indexes.json)', async t => {
    const declared = declaredIndexes()
    t.same(missingIndexes(queries, declared), [], `${queries.length} queries sent`)
    if (options.everyIndexNeeded !== true) return
    for (const index of declared) {
      const without = missingIndexes(queries, declared.filter(other => other !== index))
      t.not(without.length, 0, `needed: ${describeIndex({ collectionGroup: index.collectionGroup, equalities: [], orders: index.fields })}`)
    }
  })
}
