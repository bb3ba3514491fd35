/* Tallies votes read from stdin, one "slot count" pair per line, into a fixed table of slots. */
#include <stdio.h>

#define SLOTS 8

static long tally[SLOTS];

int main(void)
{
    char line[128];
    int slot, count;

    while (fgets(line, sizeof line, stdin) != NULL) {
        if (sscanf(line, "%d %d", &slot, &count) != 2)
            continue;
        if (slot < 0 || slot >= SLOTS) {
            fprintf(stderr, "no such slot: %d\n", slot);
            continue;
        }
        tally[slot] += count;
    }
    for (int i = 0; i < SLOTS; i++)
        printf("slot %d: %ld\n", i, tally[i]);
    return 0;
}
