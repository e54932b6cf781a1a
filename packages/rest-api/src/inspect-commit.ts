// How inspect records reach the disk before the answer: group commit (every record that arrived in the same
// event-loop turn shares one transaction) or one synchronous transaction per record.
import type { AuditRecord, CommitReceipt } from '@defenseclaw/audit-store';
import type { AuditStoreLike, InspectCommit } from './deps.ts';

/** The commit strategies of `createInspectCommit`. */
export type InspectCommitMode = 'group' | 'immediate';

/**
 * Creates the commit path of the inspect routes. `group` (default) enqueues the record and forces the writer's
 * batch out at once, so concurrent requests share one transaction; `immediate` uses the store's `writeNow`.
 * Either way the promise resolves only after the record's transaction committed.
 *
 * @example
 * const commit = createInspectCommit(store); // pass as deps.commit, or let createRestApi build it
 */
export function createInspectCommit(store: AuditStoreLike, mode: InspectCommitMode = 'group'): InspectCommit {
  if (mode === 'immediate') {
    return (record: AuditRecord): Promise<CommitReceipt> => {
      try {
        return Promise.resolve(store.writeNow(record));
      } catch (error) {
        return Promise.reject(error);
      }
    };
  }
  let forcing = false;
  return (record: AuditRecord): Promise<CommitReceipt> => {
    const receipt = store.enqueue(record);
    // One forced flush at a time: while it runs the writer stays in "commit now" mode for new records too.
    if (!forcing) {
      forcing = true;
      store.flush().then(
        () => {
          forcing = false;
        },
        () => {
          forcing = false;
        },
      );
    }
    return receipt;
  };
}
