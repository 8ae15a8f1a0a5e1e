import type { Config } from '../../config.js';
import type { DocumentStore } from './document-store.js';

/**
 * Builds the document store the configuration names: files under `$PFI_DATA_DIR/documents` (default) or S3.
 * The S3 adapter and the SDK are imported on demand so the embedded platform does not load them.
 *
 * @example
 * ```ts
 * const documents = await documentStoreFromConfig(loadConfig().documents);
 * ```
 */
export async function documentStoreFromConfig(documents: Config['documents']): Promise<DocumentStore> {
  switch (documents.kind) {
    case 'file': {
      const { FileDocumentStore } = await import('./file-store.js');
      return new FileDocumentStore(documents.dir);
    }
    case 's3': {
      const [{ S3Client }, { S3DocumentStore }] = await Promise.all([
        import('@aws-sdk/client-s3'),
        import('./s3-store.js'),
      ]);
      return new S3DocumentStore({ client: new S3Client({}), bucket: documents.bucket, kmsKeyId: documents.kmsKeyId });
    }
  }
}
