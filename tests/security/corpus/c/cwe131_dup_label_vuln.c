#include <stdlib.h>
#include <string.h>

char *dup_label(const char *label) {
    char *copy = malloc(strlen(label));
    if (copy == NULL)
        return NULL;
    memcpy(copy, label, strlen(label) + 1);
    return copy;
}
