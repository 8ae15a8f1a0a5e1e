import { contentHashSql } from '../../../fhir/repository/write-sql.js';

/**
 * Content hashes, version 5: the database computes them from the resource JSON (`contentHashSql`) instead of
 * the application. Stored hashes are recomputed the same way, so an unchanged resource written again still makes
 * no new version.
 */
export const statements: readonly string[] = [
  `UPDATE resource SET content_hash = ${contentHashSql('x.j')}
   FROM (SELECT resource_type AS t, id AS i, content::jsonb AS j FROM resource) x
   WHERE resource.resource_type = x.t AND resource.id = x.i`,
];
