#include <stdlib.h>
#include <string.h>

char *dup_label(const char *label) {
    size_t n = strlen(label) + 1;
    char *copy = malloc(n);
    if (copy == NULL)
        return NULL;
    memcpy(copy, label, n);
    return copy;
}
