/* Prints a user name padded into a fixed-width column; the column width is a command-line option. */
#include <stdio.h>
#include <stdlib.h>

static void print_column(const char *name, int width)
{
    char cell[24];

    /* the width bounds the write, but the cell is only 24 bytes */
    snprintf(cell, sizeof cell, "%-*s|", width - 1, name);
    fputs(cell, stdout);
    fputc('\n', stdout);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s NAME WIDTH\n", argv[0]);
        return 2;
    }
    int width = atoi(argv[2]);
    char cell[24];
    if (width <= 0 || width > (int)sizeof cell)
        width = sizeof cell;
    snprintf(cell, width, "%s", argv[1]);
    print_column(cell, 10);
    return 0;
}
