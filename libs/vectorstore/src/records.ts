import { DataType, Field, FixedSizeList, Float32, Int32, List, RecordBatch, Schema, Struct, Table, Utf8, makeData, vectorFromArray } from 'apache-arrow';
import type { VectorRecord } from './store';

/** The columns of a namespace's table; snake_case like the SQL predicates that name them. */
export function vectorSchema(dimension: number): Schema {
  return new Schema([
    new Field('id', new Utf8(), false),
    new Field('document_id', new Utf8(), false),
    new Field('version', new Int32(), false),
    new Field('chunk_index', new Int32(), false),
    new Field('text', new Utf8(), false),
    new Field('title', new Utf8(), false),
    new Field('content_hash', new Utf8(), false),
    new Field('vector', new FixedSizeList(dimension, new Field('item', new Float32(), true)), false),
    ...metadataFields(),
  ]);
}

/**
 * The chunk metadata columns, nullable and last: a table made before they existed gets them
 * (empty for its old rows) by {@link LanceDbStore}'s first write to it, in the same order.
 */
export function metadataFields(): Field[] {
  return [
    new Field('page', new Int32(), true),
    new Field('page_end', new Int32(), true),
    new Field('heading_path', new List(new Field('item', new Utf8(), true)), true),
  ];
}

/** The dimension of a table's `vector` column, or undefined if it has none of the expected type. */
export function vectorDimensionOf(schema: Schema): number | undefined {
  const field = schema.fields.find((f) => f.name === 'vector');
  if (field === undefined || !DataType.isFixedSizeList(field.type)) return undefined;
  return field.type.listSize;
}

/**
 * Builds the Arrow table of a batch column by column. LanceDB's `makeArrowTable` infers and
 * converts row by row, about ten times slower for 384-dimensional vectors.
 */
export function toArrowTable(records: VectorRecord[], schema: Schema): Table {
  const length = records.length;
  const vectorField = schema.fields.find((f) => f.name === 'vector')!;
  const dimension = (vectorField.type as FixedSizeList).listSize;
  const flat = new Float32Array(length * dimension);
  records.forEach((record, i) => flat.set(record.vector, i * dimension));
  const strings = (pick: (record: VectorRecord) => string) => vectorFromArray(records.map(pick), new Utf8()).data[0]!;
  const ints = (pick: (record: VectorRecord) => number) => makeData({ type: new Int32(), length, data: Int32Array.from(records, pick) });
  const children = [
    strings((r) => r.id),
    strings((r) => r.documentId),
    ints((r) => r.version),
    ints((r) => r.chunkIndex),
    strings((r) => r.text),
    strings((r) => r.title),
    strings((r) => r.contentHash),
    makeData({ type: vectorField.type as FixedSizeList, length, nullCount: 0, child: makeData({ type: new Float32(), length: flat.length, data: flat }) }),
    ...metadataFields().map((field) => metadataColumn(field, records)),
  ];
  const struct = makeData({ type: new Struct(schema.fields), length, nullCount: 0, children });
  return new Table(schema, new RecordBatch(schema, struct));
}

/** One nullable metadata column of a batch, by the field's name. */
function metadataColumn(field: Field, records: VectorRecord[]) {
  const value = (record: VectorRecord) => {
    switch (field.name) {
      case 'page':
        return record.page ?? null;
      case 'page_end':
        return record.pageEnd ?? (record.page === undefined ? null : record.page);
      case 'heading_path':
        return record.headingPath?.length ? record.headingPath : null;
      default:
        throw new Error(`unknown vector table column ${field.name}`);
    }
  };
  return vectorFromArray(records.map(value), field.type as DataType).data[0]!;
}

/**
 * A SQL string literal for LanceDB (DataFusion) predicates: quotes doubled, everything else kept
 * as is (DataFusion does not treat backslashes as escapes in plain literals).
 */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** `document_id = '…'`, and `AND version < n` when `beforeVersion` is given. */
export function documentPredicate(documentId: string, beforeVersion?: number): string {
  const predicate = `document_id = ${sqlString(documentId)}`;
  return beforeVersion === undefined ? predicate : `${predicate} AND version < ${beforeVersion}`;
}
