#include <sqlite3.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    sqlite3 *db;
    sqlite3_stmt *stmt;
    const char *query = "SELECT id, state FROM jobs WHERE queue = ?";

    if (argc < 2 || sqlite3_open("jobs.db", &db) != SQLITE_OK)
        return 1;
    if (sqlite3_prepare_v2(db, query, -1, &stmt, NULL) != SQLITE_OK)
        return 1;
    sqlite3_bind_text(stmt, 1, argv[1], -1, SQLITE_TRANSIENT);
    while (sqlite3_step(stmt) == SQLITE_ROW)
        printf("%d %s\n", sqlite3_column_int(stmt, 0), sqlite3_column_text(stmt, 1));
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return 0;
}
