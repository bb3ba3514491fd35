/* Loads a table of fixed-size records from a file: a 32-bit count, then the records. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct record {
    uint32_t id;
    uint32_t flags;
    char label[24];
};

struct record *load_table(FILE *f, uint32_t *out_count)
{
    uint32_t count;

    if (fread(&count, sizeof count, 1, f) != 1)
        return NULL;
    struct record *table = malloc(count * sizeof(struct record));
    if (table == NULL)
        return NULL;
    if (fread(table, sizeof(struct record), count, f) != count) {
        free(table);
        return NULL;
    }
    *out_count = count;
    return table;
}
