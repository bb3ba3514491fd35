#include <stdlib.h>
#include <string.h>

char *line_buffer(size_t width) {
    char *line = calloc(width + 1, 1);
    if (!line)
        return NULL;
    memset(line, '-', width);
    line[width] = '\0';
    return line;
}
