#include <sqlite3.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    sqlite3 *db;
    sqlite3_stmt *stmt;
    char query[512];

    if (argc < 2 || sqlite3_open("jobs.db", &db) != SQLITE_OK)
        return 1;
    snprintf(query, sizeof query, "SELECT id, state FROM jobs WHERE queue = '%s'", argv[1]);
    if (sqlite3_prepare_v2(db, query, -1, &stmt, NULL) != SQLITE_OK)
        return 1;
    while (sqlite3_step(stmt) == SQLITE_ROW)
        printf("%d %s\n", sqlite3_column_int(stmt, 0), sqlite3_column_text(stmt, 1));
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return 0;
}
