import Database from "better-sqlite3";

const db = new Database("audit.db");

export interface AuditEntry {
  id: number;
  actor: string;
  action: string;
}

export function entriesFor(actor: string, limit: number): AuditEntry[] {
  const sql = "SELECT id, actor, action FROM audit WHERE actor = ? ORDER BY id DESC LIMIT ?";
  return db.prepare(sql).all(actor, limit) as AuditEntry[];
}
