import Database from "better-sqlite3";

const db = new Database("audit.db");

export interface AuditEntry {
  id: number;
  actor: string;
  action: string;
}

export function entriesFor(actor: string, limit: number): AuditEntry[] {
  const sql = `SELECT id, actor, action FROM audit WHERE actor = '${actor}' ORDER BY id DESC LIMIT ${limit}`;
  return db.prepare(sql).all() as AuditEntry[];
}
