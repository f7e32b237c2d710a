/** What every route and service of a running server can reach. */
import type { Clock } from '../base/index.js';
import type { Catalog } from '../catalog/index.js';
import type { Pool } from '../pool/index.js';
import type { KeyedCertificate } from '../protocol/index.js';
import type { AgentHub } from './agent-hub.js';
import type { AlertService } from './alerts.js';
import type { AuditLog } from './audit.js';
import type { ServerFiles } from './data-dir.js';
import type { JobEngine } from './job-engine.js';
import type { LiveEvents } from './live-events.js';
import type { NotificationService } from './notify/notifications.js';
import type { FileIndexService } from './file-index/service.js';
import type { PoolMaintenance } from './pool-maintenance.js';
import type { ServerRecoveries } from './server-recovery.js';
import type { EndUserRecovery } from './end-user.js';
import type { MyFilesAccess } from './my-files.js';

export interface ServerContext {
  readonly version: string;
  readonly catalog: Catalog;
  readonly pool: Pool;
  /** Browse, search and versions read it (docs/design/file-index.md). */
  readonly fileIndex: FileIndexService;
  readonly hub: AgentHub;
  readonly engine: JobEngine;
  readonly alerts: AlertService;
  /** Which lists changed, for GET /api/events. */
  readonly events: LiveEvents;
  readonly audit: AuditLog;
  /** Mails and webhooks: the outbox and its sender. */
  readonly notifications: NotificationService;
  readonly maintenance: PoolMaintenance;
  readonly clock: Clock;
  readonly files: ServerFiles;
  readonly ca: KeyedCertificate;
  readonly log: (message: string) => void;
  /** Changed items the agents' verification scans found that their change journals missed, by data source, since the server started. */
  readonly journalMisses: ReadonlyMap<string, number>;
  /** Recoveries to folders of this server (`--to server:/path`, under its --recovery-dir directories). */
  readonly serverRecoveries: ServerRecoveries;
  /** End-user recovery's rules: what a person may see of their files (custos my, My files). */
  readonly endUser: EndUserRecovery;
  /** Who a linked console user is on its computer (My files). */
  readonly myFiles: MyFilesAccess;
}
